"""Enrichment's BigCommerce budget, counted on the wire (DESIGN.md §4: at most 3 per cart)."""

from __future__ import annotations

import pytest

from cartwatch.service.enrichment import fetch_order, snapshot_abandoned_cart

pytestmark = pytest.mark.integration

NOW = 1_754_408_488
REGISTERED_CART = "306d57d7-124e-4112-82cd-35e060c0d4d9"
GUEST_CART = "267c5d6f-0d27-48ea-b731-e7832a4c5537"


def test_registered_customer_costs_three_calls(client, fake_bigcommerce):
    snap = snapshot_abandoned_cart(client, REGISTERED_CART, now=NOW, recovery_links=False)

    assert snap is not None
    assert fake_bigcommerce.paths() == [
        f"GET /v3/checkouts/{REGISTERED_CART}",
        "GET /v3/customers",
        "GET /v3/customers/subscribers",
    ]
    assert client.calls == 3
    assert snap.customer.id == 11
    assert snap.customer.consent.source == "subscriber"
    assert snap.recovery_link.reason == "not_enabled"


def test_guest_with_an_email_costs_two_calls(client, fake_bigcommerce):
    snap = snapshot_abandoned_cart(client, GUEST_CART, now=NOW, recovery_links=False)

    assert snap is not None
    assert fake_bigcommerce.paths() == [f"GET /v3/checkouts/{GUEST_CART}", "GET /v3/customers/subscribers"]
    assert client.calls == 2
    assert snap.customer.is_guest is True


def test_recovery_link_costs_one_more_call(client, fake_bigcommerce):
    snap = snapshot_abandoned_cart(client, REGISTERED_CART, now=NOW, recovery_links=True)

    assert snap is not None
    assert client.calls == 4
    create = fake_bigcommerce.requests[-1]
    assert (create.method, create.path, create.query) == ("POST", "/v3/carts", {"include": "redirect_urls"})
    assert create.body["customer_id"] == 11
    assert create.body["channel_id"] == 1
    assert snap.recovery_link.url is not None
    assert "action=loadInCheckout" in snap.recovery_link.url


def test_a_refused_recreation_gives_a_null_link_with_the_reason(client, fake_bigcommerce):
    fake_bigcommerce.script("POST", "/v3/carts", fake_bigcommerce.error(422, "Product is out of stock"))

    snap = snapshot_abandoned_cart(client, GUEST_CART, now=NOW, recovery_links=True)

    assert snap is not None
    assert (snap.recovery_link.url, snap.recovery_link.reason) == (None, "bigcommerce_rejected")
    assert client.calls == 3


def test_a_cart_gone_from_bigcommerce_costs_one_call(client, fake_bigcommerce):
    assert snapshot_abandoned_cart(client, "converted-meanwhile", now=NOW, recovery_links=True) is None
    assert client.calls == 1


def test_order_total_and_buyer_cost_one_call(client):
    order = fetch_order(client, 218)

    assert order is not None
    assert order.summary.model_dump(mode="json")["total"] == "69.84"
    assert order.shopper == "c:11"  # the order's customer: who bought, for the shopper rules
    assert fetch_order(client, 404) is None
    assert client.calls == 2
