"""BigCommerce webhook bodies → cart events (switching on scope, never on data.type)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.support import webhook_fixture

from cartwatch.domain.webhooks import (
    AppUninstalled,
    CartWebhook,
    IgnoredWebhook,
    NotAWebhook,
    WebhookKind,
    parse_webhook,
)

CART_FIXTURES = {
    "store_cart_created": WebhookKind.CREATED,
    "store_cart_updated": WebhookKind.UPDATED,
    "store_cart_deleted": WebhookKind.DELETED,
    "store_cart_abandoned": WebhookKind.ABANDONED,
    "store_cart_converted": WebhookKind.CONVERTED,
    "store_cart_couponApplied": WebhookKind.COUPON_APPLIED,
    "store_cart_lineItem_created": WebhookKind.LINE_ITEM_CREATED,
    # BigCommerce's docs swap the scopes of these two files; the scope is what counts.
    "store_cart_lineItem_updated": WebhookKind.LINE_ITEM_DELETED,
    "store_cart_lineItem_deleted": WebhookKind.LINE_ITEM_UPDATED,
}


def _body(name: str, **changes: Any) -> bytes:
    return json.dumps(webhook_fixture(name, producer="stores/abc123", **changes)).encode()


@pytest.mark.parametrize(("name", "kind"), CART_FIXTURES.items())
def test_every_documented_cart_body_parses(name: str, kind: WebhookKind) -> None:
    raw = webhook_fixture(name)
    webhook = parse_webhook(_body(name))
    assert isinstance(webhook, CartWebhook)
    assert webhook.kind is kind
    assert webhook.store_hash == "abc123"
    assert webhook.occurred_at == raw["created_at"]
    expected_cart = raw["data"].get("cartId") or raw["data"]["id"]
    assert webhook.cart_id == expected_cart


def test_line_item_events_belong_to_their_cart_not_the_item() -> None:
    webhook = parse_webhook(_body("store_cart_lineItem_created"))
    assert isinstance(webhook, CartWebhook)
    assert webhook.cart_id == "b0386708-fef3-45de-9d8b-fbe3031450a4"
    assert webhook.line_item_id == "743bfd94-d5dd-47c5-9c19-6eec32ca6119"


def test_converted_carries_the_order_and_abandoned_the_token() -> None:
    converted = parse_webhook(_body("store_cart_converted"))
    abandoned = parse_webhook(_body("store_cart_abandoned"))
    assert isinstance(converted, CartWebhook)
    assert isinstance(abandoned, CartWebhook)
    assert converted.order_id == 252
    assert abandoned.token == "1eed6d2d979776ff18e695ceeb10ea61"


def test_channel_scoped_body_with_snake_case_ids_parses() -> None:
    webhook = parse_webhook(json.dumps(webhook_fixture("store_channel_cart_created")))
    assert isinstance(webhook, CartWebhook)
    assert webhook.kind is WebhookKind.CREATED
    assert webhook.cart_id == "41696c19-486f-40a8-ae2a-389d5d24e0c9"
    assert webhook.channel_id == 1
    assert webhook.store_hash == "abcde"


def test_channel_scoped_line_item_and_conversion() -> None:
    item = parse_webhook(
        json.dumps(
            {
                "scope": "store/channel/2/cart/lineItem/updated",
                "store_id": 11111,
                "producer": "stores/abcde",
                "created_at": 1641641646,
                "data": {"cart_id": "c1", "cart_item_id": "i1"},
            }
        )
    )
    assert isinstance(item, CartWebhook)
    assert (item.cart_id, item.line_item_id, item.channel_id) == ("c1", "i1", 2)
    converted = parse_webhook(
        json.dumps(
            {
                "scope": "store/channel/2/cart/converted",
                "store_id": "11111",
                "producer": "stores/abcde",
                "created_at": 1641641650,
                "data": {"cart_id": "c1", "order_id": 77},
            }
        )
    )
    assert isinstance(converted, CartWebhook)
    assert converted.order_id == 77


def test_unknown_scopes_are_ignored_not_errors() -> None:
    for name in ("store_order_created", "store_customer_updated", "store_order_statusUpdated"):
        webhook = parse_webhook(_body(name))
        assert isinstance(webhook, IgnoredWebhook)
        assert webhook.scope.startswith("store/")


def test_app_uninstalled_is_recognised() -> None:
    body = {
        "scope": "store/app/uninstalled",
        "store_id": "1",
        "producer": "stores/abc123",
        "created_at": 1,
        "data": {},
    }
    assert isinstance(parse_webhook(json.dumps(body)), AppUninstalled)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"scope": "store/cart/created"}',
        json.dumps({**webhook_fixture("store_cart_created"), "producer": "not-a-producer"}).encode(),
        json.dumps({**webhook_fixture("store_cart_created"), "data": {"type": "cart"}}).encode(),
        json.dumps({**webhook_fixture("store_cart_created"), "created_at": -5}).encode(),
    ],
)
def test_bodies_that_are_not_webhooks_are_refused(body: bytes) -> None:
    with pytest.raises(NotAWebhook):
        parse_webhook(body)


def test_redelivery_has_the_same_dedupe_key_and_distinct_events_differ() -> None:
    created = _body("store_cart_created")
    updated = _body("store_cart_updated")
    # BigCommerce's own examples reuse one `hash` for different scopes: it cannot be the key.
    assert webhook_fixture("store_cart_created")["hash"] == webhook_fixture("store_cart_updated")["hash"]
    first, again, other = parse_webhook(created), parse_webhook(created), parse_webhook(updated)
    assert (
        isinstance(first, CartWebhook) and isinstance(again, CartWebhook) and isinstance(other, CartWebhook)
    )
    assert first.dedupe_key == again.dedupe_key != other.dedupe_key
    with_id = parse_webhook(created, webhook_id="msg_1")
    assert isinstance(with_id, CartWebhook)
    assert with_id.dedupe_key == "wh:msg_1"
