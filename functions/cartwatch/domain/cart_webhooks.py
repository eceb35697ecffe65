"""BigCommerce's webhooks as the lifecycle sees them: which cart, what kind, when — and their scopes.

Plain dataclasses, no validation library: the sweeper and the lifecycle need these
types but never parse a webhook, so their cold start should not pay for pydantic.
Parsing BigCommerce's bodies into them is ``cartwatch.domain.webhooks``' job.

The webhook scopes cartwatch registers and reads are spelled here once: one
``store/cart/<kind>`` scope per :class:`WebhookKind`, ``store/app/uninstalled``, and for
each channel with stages of its own ``store/channel/{id}/cart/created``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class WebhookKind(StrEnum):
    """The cart webhooks BigCommerce sends (the scope after ``store/cart/``), in registration order."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    COUPON_APPLIED = "couponApplied"
    ABANDONED = "abandoned"
    CONVERTED = "converted"
    LINE_ITEM_CREATED = "lineItem/created"
    LINE_ITEM_UPDATED = "lineItem/updated"
    LINE_ITEM_DELETED = "lineItem/deleted"

    @property
    def is_activity(self) -> bool:
        return self in _ACTIVITY


_ACTIVITY = frozenset(
    {
        WebhookKind.CREATED,
        WebhookKind.UPDATED,
        WebhookKind.LINE_ITEM_CREATED,
        WebhookKind.LINE_ITEM_UPDATED,
        WebhookKind.LINE_ITEM_DELETED,
        WebhookKind.COUPON_APPLIED,
    }
)


@dataclass(frozen=True)
class CartWebhook:
    """One cart webhook, reduced to what the lifecycle needs."""

    store_hash: str
    cart_id: str
    kind: WebhookKind
    occurred_at: int
    dedupe_key: str
    channel_id: int | None = None
    order_id: int | None = None
    token: str | None = None
    line_item_id: str | None = None


@dataclass(frozen=True)
class AppUninstalled:
    store_hash: str
    dedupe_key: str


@dataclass(frozen=True)
class IgnoredWebhook:
    """A scope cartwatch does not track (acknowledged and counted, not an error)."""

    store_hash: str
    scope: str


Webhook = CartWebhook | AppUninstalled | IgnoredWebhook

CART_SCOPE_PREFIX: Final = "store/cart/"
APP_UNINSTALLED_SCOPE: Final = "store/app/uninstalled"


def cart_scope(kind: WebhookKind) -> str:
    """The store-wide scope of a cart webhook (channel-scoped twins read ``store/channel/{id}/cart/…``)."""
    return CART_SCOPE_PREFIX + kind.value


# Every scope cartwatch registers a hook for in every store, one hook each.
HOOK_SCOPES: Final = (*(cart_scope(kind) for kind in WebhookKind), APP_UNINSTALLED_SCOPE)

# The store-wide scopes do not say which channel (storefront) a cart belongs to; its
# channel-scoped twins do.  For a channel with stages of its own, cartwatch registers the
# twin of one webhook every cart fires exactly once — its creation — so the cart's channel is
# known from its first webhooks at the cost of one more delivery per cart of that channel.
_CHANNEL_HOOK_SCOPE = re.compile(r"^store/channel/(?P<channel>\d+)/cart/created$")


def channel_hook_scope(channel_id: int) -> str:
    """The hook that tells cartwatch a cart's channel: ``store/channel/{id}/cart/created``."""
    return f"store/channel/{channel_id}/cart/{WebhookKind.CREATED.value}"


def is_channel_hook_scope(scope: str) -> bool:
    """A scope cartwatch registers for a channel with its own stages (and retires with them)."""
    return _CHANNEL_HOOK_SCOPE.match(scope) is not None


def hook_scopes(channel_ids: Iterable[int] = ()) -> tuple[str, ...]:
    """A store's hooks: :data:`HOOK_SCOPES`, then one per channel with its own stages."""
    return (*HOOK_SCOPES, *(channel_hook_scope(channel) for channel in sorted(set(channel_ids))))
