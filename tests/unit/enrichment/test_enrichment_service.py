"""Which BigCommerce calls enrichment makes, against an in-memory stand-in for the API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from cartwatch.adapters.bigcommerce import (
    BigCommerceError,
    BigCommerceRejected,
    BigCommerceUnauthorized,
    BigCommerceUnavailable,
)
from cartwatch.domain.shopper import shopper_key
from cartwatch.service.enrichment import fetch_order, snapshot_abandoned_cart

NOW = 1_754_408_488


class FakeBigCommerce:
    """Answers from fixtures and remembers what was asked (the CartSource/OrderSource protocols)."""

    def __init__(
        self,
        checkout: dict[str, Any] | None,
        *,
        customers: Sequence[dict[str, Any]] = (),
        subscribers: Sequence[dict[str, Any]] = (),
        created: dict[str, Any] | BigCommerceError | None = None,
        orders: Mapping[int, dict[str, Any]] | None = None,
    ) -> None:
        self.checkout = checkout
        self.customers = list(customers)
        self.subscribers = list(subscribers)
        self.created = created
        self.orders = dict(orders or {})
        self.calls: list[tuple[str, Any]] = []

    def get_checkout(self, cart_id: str) -> dict[str, Any] | None:
        self.calls.append(("get_checkout", cart_id))
        return self.checkout

    def get_customers(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        self.calls.append(("get_customers", list(ids)))
        return [c for c in self.customers if c.get("id") in ids]

    def get_subscribers(self, email: str) -> list[dict[str, Any]]:
        self.calls.append(("get_subscribers", email))
        return [s for s in self.subscribers if s["email"] == email]

    def create_cart(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.calls.append(("create_cart", body))
        if isinstance(self.created, BigCommerceError):
            raise self.created
        assert self.created is not None, "create_cart was not expected"
        return self.created

    def get_order(self, order_id: int) -> dict[str, Any] | None:
        self.calls.append(("get_order", order_id))
        return self.orders.get(order_id)

    @property
    def called(self) -> list[str]:
        return [name for name, _ in self.calls]


@pytest.fixture
def registered(bigcommerce) -> FakeBigCommerce:
    return FakeBigCommerce(
        bigcommerce("checkout_registered.json")["data"],
        customers=bigcommerce("customers.json")["data"],
        subscribers=bigcommerce("subscribers.json")["data"],
        created=bigcommerce("cart_created.json")["data"],
    )


def test_registered_shopper_costs_three_calls(registered):
    snap = snapshot_abandoned_cart(registered, "306d57d7", now=NOW, recovery_links=False)

    assert snap is not None
    assert registered.calls == [
        ("get_checkout", "306d57d7"),
        ("get_customers", [11]),
        ("get_subscribers", "janedoe@example.com"),
    ]
    assert snap.captured_at == NOW
    assert snap.customer.consent.source == "subscriber"
    assert snap.recovery_link.model_dump() == {"url": None, "reason": "not_enabled", "cart_id": None}


def test_guest_with_an_email_costs_two_calls(bigcommerce):
    api = FakeBigCommerce(bigcommerce("checkout_guest.json")["data"])

    snap = snapshot_abandoned_cart(api, "267c5d6f", now=NOW, recovery_links=False)

    assert snap is not None
    assert api.calls == [("get_checkout", "267c5d6f"), ("get_subscribers", "example@example.com")]


def test_anonymous_guest_costs_one_call(bigcommerce):
    checkout = bigcommerce("checkout_guest.json")["data"]
    checkout["cart"]["email"] = ""
    api = FakeBigCommerce(checkout)

    snap = snapshot_abandoned_cart(api, "267c5d6f", now=NOW, recovery_links=False)

    assert snap is not None
    assert api.called == ["get_checkout"]
    assert snap.customer.email is None


def test_a_cart_bigcommerce_no_longer_has_gives_no_snapshot():
    api = FakeBigCommerce(None)

    assert snapshot_abandoned_cart(api, "gone", now=NOW, recovery_links=True) is None
    assert api.called == ["get_checkout"]


def test_registered_shopper_without_a_cart_email_is_looked_up_by_account_email(registered):
    assert registered.checkout is not None
    registered.checkout["cart"]["email"] = ""
    registered.checkout["billing_address"]["email"] = ""

    snap = snapshot_abandoned_cart(registered, "306d57d7", now=NOW, recovery_links=False)

    assert snap is not None
    assert registered.calls[-1] == ("get_subscribers", "jane.smith@example.com")
    # No subscriber under the account email: the customer's own flag answers.
    assert snap.customer.consent.source == "customer"


def test_a_deleted_customer_leaves_the_billing_details(registered):
    registered.customers = []

    snap = snapshot_abandoned_cart(registered, "306d57d7", now=NOW, recovery_links=False)

    assert snap is not None
    assert (snap.customer.id, snap.customer.is_guest, snap.customer.last_name) == (11, False, "Doe")


def test_recovery_link_costs_one_more_call(registered, bigcommerce):
    snap = snapshot_abandoned_cart(registered, "306d57d7", now=NOW, recovery_links=True)

    assert snap is not None
    assert registered.called == ["get_checkout", "get_customers", "get_subscribers", "create_cart"]
    created = bigcommerce("cart_created.json")["data"]
    assert snap.recovery_link.url == created["redirect_urls"]["checkout_url"]
    assert snap.recovery_link.reason is None
    assert snap.recovery_link.cart_id == created["id"]
    _, body = registered.calls[-1]
    assert body == {
        "customer_id": 11,
        "line_items": [{"quantity": 1, "product_id": 188, "variant_id": 359}],
        "channel_id": 1,
        "currency": {"code": "USD"},
    }


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (BigCommerceRejected("POST /v3/carts: 422 out of stock", status=422), "bigcommerce_rejected"),
        (BigCommerceUnauthorized("POST /v3/carts: 403", status=403), "not_authorized"),
        (BigCommerceUnavailable("POST /v3/carts: unreachable"), "bigcommerce_unavailable"),
    ],
)
def test_a_refused_recovery_link_still_gives_a_snapshot(registered, error, reason):
    registered.created = error

    snap = snapshot_abandoned_cart(registered, "306d57d7", now=NOW, recovery_links=True)

    assert snap is not None
    assert snap.recovery_link.model_dump() == {"url": None, "reason": reason, "cart_id": None}


def test_a_created_cart_without_redirect_urls_says_so(registered, bigcommerce):
    created = bigcommerce("cart_created.json")["data"]
    del created["redirect_urls"]
    registered.created = created

    snap = snapshot_abandoned_cart(registered, "306d57d7", now=NOW, recovery_links=True)

    assert snap is not None
    assert (snap.recovery_link.url, snap.recovery_link.reason) == (None, "no_redirect_url")


def test_an_empty_cart_gets_no_recovery_call(bigcommerce):
    checkout = bigcommerce("checkout_guest.json")["data"]
    checkout["cart"]["line_items"] = {"physical_items": [], "digital_items": [], "gift_certificates": []}
    api = FakeBigCommerce(checkout)

    snap = snapshot_abandoned_cart(api, "267c5d6f", now=NOW, recovery_links=True)

    assert snap is not None
    assert "create_cart" not in api.called
    assert snap.recovery_link.reason == "no_line_items"


def test_a_failing_checkout_call_propagates(bigcommerce):
    class Down(FakeBigCommerce):
        def get_checkout(self, cart_id: str) -> dict[str, Any] | None:
            raise BigCommerceUnavailable("GET /v3/checkouts/x: unreachable")

    with pytest.raises(BigCommerceUnavailable):
        snapshot_abandoned_cart(Down(None), "x", now=NOW, recovery_links=False)


def test_order_summary_and_buyer(bigcommerce):
    order = bigcommerce("order.json")
    guest = {
        **order,
        "customer_id": 0,
        "billing_address": {**order["billing_address"], "email": " Jane@X.com "},
    }
    api = FakeBigCommerce(None, orders={218: order, 220: guest, 221: {**guest, "billing_address": {}}})

    fetched = fetch_order(api, 218)

    assert fetched is not None
    summary = fetched.summary
    assert (summary.id, str(summary.total), summary.status) == (218, "69.8400", "Awaiting Payment")
    assert fetched.shopper == shopper_key(11, None) == "c:11"  # a registered buyer: their customer id
    # A guest (customer_id 0) by the billing email, normalized; none without either.
    assert (bought := fetch_order(api, 220)) is not None and bought.shopper == shopper_key(None, "jane@x.com")
    assert (anonymous := fetch_order(api, 221)) is not None and anonymous.shopper is None
    assert fetch_order(api, 219) is None
