"""Cart money: list/sale/extended prices, coupons spread over items, and what is rendered."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from cartwatch_tools.sandbox import catalog
from cartwatch_tools.sandbox.carts import (
    INCLUDE_PHYSICAL_OPTIONS,
    Cart,
    CartOrigin,
    LineItem,
    render_cart,
)
from cartwatch_tools.sandbox.checkouts import render_checkout
from cartwatch_tools.sandbox.errors import ApiError

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def _cart(*lines: tuple[int, int, int | None], coupon: str | None = None) -> Cart:
    cart = Cart(
        id="c-1", store_hash="abc123", origin=CartOrigin.STOREFRONT, abandoned_token="t" * 32, created_at=NOW
    )
    for n, (product_id, quantity, variant_id) in enumerate(lines):
        product = catalog.product(product_id)
        variant = product.variant_for(variant_id)
        cart.items.append(LineItem(f"i-{n}", product, variant, quantity, product.list_price(variant)))
    cart.coupon = catalog.coupon(coupon) if coupon else None
    return cart


def test_sale_price_is_the_list_price_and_the_original_is_kept() -> None:
    body = render_cart(_cart((86, 2, None)))
    item = body["line_items"]["physical_items"][0]
    assert (item["original_price"], item["list_price"], item["sale_price"]) == (225, 199, 199)
    assert (item["extended_list_price"], item["extended_sale_price"]) == (398, 398)
    assert (body["base_amount"], body["discount_amount"], body["cart_amount"]) == (398, 0, 398)
    assert body["coupons"] == [] and body["discounts"] == []


def test_percentage_coupon_is_spread_over_items_to_the_cent() -> None:
    body = render_cart(_cart((111, 1, None), (88, 1, None), (104, 1, None), coupon="save10"))
    items = body["line_items"]["physical_items"]
    shares = [Decimal(str(i["coupon_amount"])) for i in items]
    total = Decimal("25.00") + Decimal("49.50") + Decimal("45.95")
    assert sum(shares) == Decimal("12.05")  # 10 % of 120.45, rounded once for the cart
    assert body["coupons"][0] | {"discounted_amount": 0} == {
        "id": "1",
        "code": "SAVE10",
        "coupon_type": "1",
        "discounted_amount": 0,
        "display_name": "10% Off",
    }
    assert Decimal(str(body["cart_amount"])) == total - Decimal("12.05")
    assert items[0]["coupons"][0]["code"] == "SAVE10"
    assert items[0]["discounts"] == [{"id": "coupon", "discounted_amount": float(shares[0])}]


def test_fixed_coupon_never_exceeds_the_cart() -> None:
    assert render_cart(_cart((126, 1, None), coupon="FIVEOFF"))["cart_amount"] == 4.99
    assert (
        render_cart(_cart((126, 1, None)))["line_items"]["digital_items"][0]["is_require_shipping"] is False
    )
    cheap = Cart(id="c", store_hash="h", origin=CartOrigin.STOREFRONT, abandoned_token="t", created_at=NOW)
    guide = catalog.product(126)
    cheap.items.append(LineItem("i", guide, guide.variants[0], 1, Decimal("3.00")))
    cheap.coupon = catalog.coupon("FIVEOFF")
    assert render_cart(cheap)["cart_amount"] == 0


def test_options_only_when_included() -> None:
    cart = _cart((118, 1, 143))
    plain = render_cart(cart)["line_items"]["physical_items"][0]
    assert "options" not in plain
    detailed = render_cart(cart, {INCLUDE_PHYSICAL_OPTIONS})["line_items"]["physical_items"][0]
    assert [(o["name"], o["value"]) for o in detailed["options"]] == [("Size", "Large"), ("Color", "Blue")]
    assert detailed["list_price"] == 27  # the large size costs more
    checkout = render_checkout(cart, {"cart.line_items.physical_items.options"})
    assert checkout["cart"]["line_items"]["physical_items"][0]["options"] == detailed["options"]
    assert "options" not in render_checkout(cart)["cart"]["line_items"]["physical_items"][0]


def test_variants_resolve_from_ids_or_option_selections() -> None:
    tee = catalog.product(118)
    assert tee.variant_for(selections={125: 127, 133: 150}).sku == "OCT-S-BLUE"
    assert catalog.product(111).variant_for().id == 93
    for bad in ({"variant_id": 999}, {"selections": {125: 1}}, {}):
        with pytest.raises(ApiError) as error:
            tee.variant_for(**bad)  # type: ignore[arg-type]
        assert error.value.status == 422
    with pytest.raises(ApiError):
        catalog.product(424242)
    with pytest.raises(ApiError):
        catalog.coupon("NOPE")


def test_checkout_totals_and_guest_details() -> None:
    cart = _cart((111, 2, None), coupon="FIVEOFF")
    body = render_checkout(cart)
    assert (body["subtotal_ex_tax"], body["grand_total"], body["cart"]["cart_amount_inc_tax"]) == (50, 45, 45)
    assert body["coupons"][0] == {
        "id": 2,
        "code": "FIVEOFF",
        "coupon_type": "per_total_discount",
        "display_name": "$5 Off",
        "discounted_amount": 5,
    }
    assert "billing_address" not in body
    assert body["cart"]["line_items"]["physical_items"][0]["parent_id"] is None
