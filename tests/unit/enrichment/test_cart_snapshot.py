"""The normalized cart, built from BigCommerce's own example answers."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from cartwatch.domain.bigcommerce_cart import order_from_bigcommerce, snapshot_from_bigcommerce
from cartwatch.domain.cart import CartSnapshot, Coupon, RecoveryLink, format_money, money

NOT_ENABLED = RecoveryLink(url=None, reason="not_enabled")


def snapshot(checkout: dict[str, Any], customer: dict[str, Any] | None = None, subscribers: Any = ()) -> Any:
    return snapshot_from_bigcommerce(checkout, customer, list(subscribers), 1_754_408_488, NOT_ENABLED)


def test_registered_checkout_is_normalized(bigcommerce):
    checkout = bigcommerce("checkout_registered.json")["data"]
    customer = bigcommerce("customers.json")["data"][0]
    subscribers = bigcommerce("subscribers.json")["data"]

    snap = snapshot(checkout, customer, subscribers)

    assert snap.cart_id == "306d57d7-124e-4112-82cd-35e060c0d4d9"
    assert snap.channel_id == 1
    assert snap.currency == "USD"
    # A checkout's cart reports cart_amount_inc_tax where Cart_Full says cart_amount.
    assert snap.totals.cart_amount == Decimal("33.23")
    assert snap.totals.base_amount == Decimal("31.95")
    assert snap.totals.coupon_amount == Decimal("0.9")
    assert snap.totals.tax_included is None
    assert snap.coupons == [Coupon(code="SHOP20", id="1", discounted_amount=Decimal("0.9"))]
    [item] = snap.line_items
    assert (item.kind, item.product_id, item.variant_id, item.sku, item.quantity) == (
        "physical",
        188,
        359,
        "DUST1",
        1,
    )
    assert (item.list_price, item.sale_price) == (Decimal("31.95"), Decimal("33.23"))
    assert item.image_url is not None
    assert item.image_url.startswith("https://cdn11.bigcommerce.com/")
    assert snap.customer.model_dump() == {
        "id": 11,
        "email": "janedoe@example.com",
        "first_name": "Jane",
        "last_name": "Smith",
        "phone": "555-123-4567",
        "is_guest": False,
        "consent": {"abandoned_cart_emails": True, "marketing_newsletter": True, "source": "subscriber"},
    }


def test_guest_checkout_takes_the_email_from_the_cart(bigcommerce):
    # BigCommerce's "No Coupon Applied" example: a guest, an empty billing address.
    snap = snapshot(bigcommerce("checkout_guest.json")["data"])

    assert snap.customer.id is None
    assert snap.customer.is_guest is True
    assert snap.customer.email == "example@example.com"
    assert (snap.customer.first_name, snap.customer.last_name, snap.customer.phone) == (None, None, None)
    assert snap.customer.consent.source == "unknown"
    assert [i.kind for i in snap.line_items] == ["physical", "digital"]
    assert snap.totals.coupon_amount is None
    assert snap.coupons == []


def test_guest_checkout_with_options_custom_items_and_gift_certificates(bigcommerce):
    snap = snapshot(bigcommerce("checkout_guest_options.json")["data"])

    assert [i.kind for i in snap.line_items] == ["physical", "digital", "custom", "gift_certificate"]
    towel, _, wrap, gift = snap.line_items
    assert [o.model_dump() for o in towel.options] == [
        {"name": "Size", "value": "Large", "name_id": 125, "value_id": 127},
        {"name": "Embroidery", "value": "JD", "name_id": 131, "value_id": None},
    ]
    assert (wrap.sale_price, wrap.extended_sale_price, wrap.product_id) == (Decimal(10), Decimal(10), None)
    assert (gift.quantity, gift.sale_price, gift.sku) == (1, Decimal(25), None)
    assert snap.customer.first_name == "John"
    assert snap.customer.phone == "12128565555"
    assert snap.totals.tax_included is False


def test_cart_full_answer_is_accepted_too(bigcommerce):
    snap = snapshot(bigcommerce("cart.json")["data"])

    data = json.loads(snap.model_dump_json())
    assert data["totals"] == {
        "base_amount": "30.00",
        "discount_amount": "4.50",
        "coupon_amount": None,
        "cart_amount": "25.50",
        "tax_included": False,
    }
    assert data["line_items"][0]["sale_price"] == "13.86"
    assert data["line_items"][0]["extended_sale_price"] == "27.72"
    assert snap.customer.email == "customer@example.com"


def test_snapshot_survives_a_json_round_trip(bigcommerce):
    snap = snapshot(bigcommerce("checkout_guest_options.json")["data"])

    assert CartSnapshot.model_validate_json(snap.model_dump_json()) == snap


def test_money_is_exact_in_memory_and_on_the_wire():
    amounts = [money(0.1), money(0.2)]
    assert sum(amounts, Decimal(0)) == Decimal("0.3")
    assert money("69.8400") == Decimal("69.84")
    assert money(None) == Decimal(0)
    with pytest.raises(ValueError, match="not an amount"):
        money("twelve")


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        ("25.5", "25.50"),
        ("30", "30.00"),
        ("69.8400", "69.84"),
        ("0.125", "0.125"),
        ("100", "100.00"),
        ("-0", "0.00"),
        ("-4.5", "-4.50"),
        ("1E+3", "1000.00"),
    ],
)
def test_money_format(amount, text):
    assert format_money(Decimal(amount)) == text


def test_models_refuse_floats():
    with pytest.raises(ValidationError, match="never a float"):
        Coupon(code="X", id=None, discounted_amount=0.1)  # type: ignore[arg-type]


def test_models_refuse_non_finite_amounts():
    with pytest.raises(ValidationError):
        Coupon(code="X", id=None, discounted_amount=Decimal("NaN"))


def test_order_summary_from_v2_order(bigcommerce):
    summary = order_from_bigcommerce(bigcommerce("order.json"))

    assert summary.model_dump(mode="json") == {
        "id": 218,
        "total": "69.84",
        "currency": "USD",
        "status_id": 7,
        "status": "Awaiting Payment",
    }


def test_order_summary_uses_the_transactional_currency(bigcommerce):
    order = bigcommerce("order.json") | {"currency_code": "EUR", "default_currency_code": "usd"}

    assert order_from_bigcommerce(order).currency == "USD"
