"""Pydantic models of BigCommerce's webhook bodies, and their translation to cart events.

BigCommerce sends one envelope for every scope (``scope``, ``store_id``, ``producer``,
``data``, ``hash``, ``created_at``); only ``data`` varies.  We switch on ``scope`` — never on
``data.type``, which BigCommerce's own examples contradict — and accept both the store-wide
cart scopes (camelCase ``cartId``/``orderId``) and the channel-scoped variants
(``store/channel/{id}/cart/...`` with snake_case ``cart_id``).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from cartwatch.domain.cart_webhooks import (
    APP_UNINSTALLED_SCOPE,
    AppUninstalled,
    CartWebhook,
    IgnoredWebhook,
    Webhook,
    WebhookKind,
)

__all__ = [
    "APP_UNINSTALLED_SCOPE",
    "AppUninstalled",
    "CartWebhook",
    "IgnoredWebhook",
    "NotAWebhook",
    "Webhook",
    "WebhookEnvelope",
    "WebhookKind",
    "dedupe_key",
    "parse_webhook",
]


class NotAWebhook(ValueError):
    """The body is not a BigCommerce webhook (malformed JSON or envelope)."""


_CART_SCOPE = re.compile(
    r"^store/(?:channel/(?P<channel>\d+)/)?cart/"
    rf"(?P<kind>{'|'.join(re.escape(kind.value) for kind in WebhookKind)})$"
)
_PRODUCER = re.compile(r"^stores/(?P<hash>[A-Za-z0-9]+)$")


def _text(value: Any) -> Any:
    # BigCommerce documents store_id as a string but older bodies carry an int.
    return str(value) if isinstance(value, int) else value


class WebhookEnvelope(BaseModel):
    """The part of every BigCommerce webhook body that does not depend on its scope."""

    # Only keys go into pydantic's process-wide string cache: cart and webhook ids are unique,
    # and caching them would only fill it (a warm processor parses millions of bodies).
    model_config = ConfigDict(extra="ignore", frozen=True, cache_strings="keys")

    scope: str = Field(min_length=1, max_length=200)
    store_id: Annotated[str, BeforeValidator(_text)]
    producer: str
    data: dict[str, Any]
    hash: str | None = None
    created_at: int = Field(ge=0)

    @property
    def store_hash(self) -> str | None:
        match = _PRODUCER.match(self.producer)
        return match.group("hash") if match else None


class _CartData(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    # Store-wide scopes carry ``id`` (the cart, or the line item for lineItem scopes) and
    # ``cartId``; channel scopes carry ``cart_id`` (and ``cart_item_id``).
    id: str | None = None
    cart_id_camel: str | None = Field(default=None, alias="cartId")
    cart_id_snake: str | None = Field(default=None, alias="cart_id")
    cart_item_id: str | None = None
    order_id_camel: int | None = Field(default=None, alias="orderId")
    order_id_snake: int | None = Field(default=None, alias="order_id")
    token: str | None = None
    coupon_id: int | None = Field(default=None, alias="couponId")


def dedupe_key(envelope: WebhookEnvelope, webhook_id: str | None) -> str:
    """A key that is equal for two deliveries of the same event.

    Standard Webhooks' ``webhook-id`` stays the same across BigCommerce's retries; where
    it is absent we fall back to the body's content.  BigCommerce's ``hash`` alone is not
    enough: its own examples reuse one hash across created/updated/deleted.
    """
    if webhook_id:
        return f"wh:{webhook_id}"
    canonical = json.dumps(
        [envelope.scope, envelope.created_at, envelope.hash, envelope.data], sort_keys=True, default=str
    )
    return "body:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


def parse_webhook(body: bytes | str, webhook_id: str | None = None) -> Webhook:
    """Validate a raw body and translate it; raises :class:`NotAWebhook` when it is not one."""
    try:
        envelope = WebhookEnvelope.model_validate_json(body)
    except ValidationError as error:
        raise NotAWebhook(_first_error(error)) from None
    store_hash = envelope.store_hash
    if store_hash is None:
        raise NotAWebhook("producer must look like 'stores/{store_hash}'")
    key = dedupe_key(envelope, webhook_id)
    if envelope.scope == APP_UNINSTALLED_SCOPE:
        return AppUninstalled(store_hash=store_hash, dedupe_key=key)
    match = _CART_SCOPE.match(envelope.scope)
    if match is None:
        return IgnoredWebhook(store_hash=store_hash, scope=envelope.scope)
    kind = WebhookKind(match.group("kind"))
    channel = match.group("channel")
    try:
        data = _CartData.model_validate(envelope.data)
    except ValidationError as error:
        raise NotAWebhook(_first_error(error)) from None
    is_line_item = kind.value.startswith("lineItem/")
    if channel is not None:
        cart_id = data.cart_id_snake
        line_item_id = data.cart_item_id
    elif is_line_item:
        cart_id = data.cart_id_camel
        line_item_id = data.id
    else:
        cart_id = data.id
        line_item_id = None
    if not cart_id:
        raise NotAWebhook(f"{envelope.scope} webhook without a cart id in data")
    order_id = data.order_id_camel if data.order_id_camel is not None else data.order_id_snake
    return CartWebhook(
        store_hash=store_hash,
        cart_id=cart_id,
        kind=kind,
        occurred_at=envelope.created_at,
        dedupe_key=key,
        channel_id=int(channel) if channel is not None else None,
        order_id=order_id if kind is WebhookKind.CONVERTED else None,
        token=data.token if kind is WebhookKind.ABANDONED else None,
        line_item_id=line_item_id,
    )


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    location = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{location}: {first['msg']}"
