"""Carts: their state, their money, and their ``Cart_Full`` shape (carts.v3.yml).

Prices are ``Decimal`` throughout so totals add up to the cent; they become JSON numbers only
when rendered.  The sandbox has no product-level promotions and no tax, so an item's sale price
is its list price and a coupon is the only discount (BigCommerce reports coupons in
``coupon_amount``/``coupons`` and leaves ``sale_price`` alone).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum
from typing import Any

from cartwatch_tools.sandbox.catalog import Coupon, Product, Variant
from cartwatch_tools.sandbox.errors import ApiError, not_found

CENT = Decimal("0.01")
ZERO = Decimal(0)

INCLUDE_PHYSICAL_OPTIONS = "line_items.physical_items.options"
INCLUDE_DIGITAL_OPTIONS = "line_items.digital_items.options"
INCLUDE_REDIRECT_URLS = "redirect_urls"


class CartOrigin(Enum):
    STOREFRONT = "storefront"
    MANAGEMENT_API = "management_api"


def number(value: Decimal) -> int | float:
    """JSON number for a money amount: ``30`` rather than ``30.0``, as BigCommerce prints it."""
    quantized = value.quantize(CENT, ROUND_HALF_UP)
    return int(quantized) if quantized == quantized.to_integral_value() else float(quantized)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


@dataclass(frozen=True)
class LineRequest:
    """One line item a shopper or an API call asks for."""

    product_id: int
    quantity: int = 1
    variant_id: int | None = None
    selections: Mapping[int, int] = field(default_factory=dict)  # option_id -> value id
    list_price: Decimal | None = None  # management API override of the catalog price


@dataclass
class LineItem:
    id: str
    product: Product
    variant: Variant
    quantity: int
    list_price: Decimal  # per unit; the catalog's, or the management API's ``list_price`` override

    @property
    def sku(self) -> str:
        return self.variant.sku

    @property
    def extended_price(self) -> Decimal:
        return self.list_price * self.quantity


@dataclass
class BillingAddress:
    id: str
    email: str
    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    company: str = ""
    address1: str = ""
    address2: str = ""
    city: str = ""
    state_or_province: str = ""
    state_or_province_code: str = ""
    country_code: str = "US"
    postal_code: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email,
            "company": self.company,
            "address1": self.address1,
            "address2": self.address2,
            "city": self.city,
            "state_or_province": self.state_or_province,
            "state_or_province_code": self.state_or_province_code,
            "country_code": self.country_code,
            "postal_code": self.postal_code,
            "phone": self.phone,
            "custom_fields": [],
        }


@dataclass(frozen=True)
class CartTotals:
    base_amount: Decimal  # sum of the items' extended prices
    coupon_amount: Decimal
    coupon_shares: dict[str, Decimal]  # line item id -> its part of the coupon

    @property
    def cart_amount(self) -> Decimal:
        return self.base_amount - self.coupon_amount


@dataclass
class Cart:
    id: str
    store_hash: str
    origin: CartOrigin
    abandoned_token: str
    created_at: datetime
    channel_id: int = 1
    customer_id: int = 0  # 0 = guest, as BigCommerce reports it
    email: str = ""
    items: list[LineItem] = field(default_factory=list)
    coupon: Coupon | None = None
    billing: BillingAddress | None = None
    order_id: int | None = None
    version: int = 1
    currency: str = "USD"
    locale: str = "en-US"
    updated_at: datetime | None = None
    # The version the last store/cart/abandoned hint was sent for: one hint per idle period.
    hinted_version: int = 0

    @property
    def domain(self) -> str:
        return f"store-{self.store_hash}.mybigcommerce.com"

    def item(self, item_id: str) -> LineItem:
        for item in self.items:
            if item.id == item_id:
                return item
        raise not_found("Line item not found")

    def item_for(self, variant: Variant, list_price: Decimal) -> LineItem | None:
        """The line item a new add of ``variant`` merges into, as BigCommerce merges repeat adds."""
        for item in self.items:
            if item.variant.id == variant.id and item.list_price == list_price:
                return item
        return None

    def check_version(self, expected: int | None) -> None:
        # Optimistic concurrency: a stale ``version`` in the request body is a 409 (carts.v3.yml).
        if expected is not None and expected != self.version:
            raise ApiError(
                409,
                "The request cannot be processed due to a possible conflict. "
                "Please review the changes and try again.",
            )

    def touch(self, now: datetime) -> None:
        self.version += 1
        self.updated_at = now

    def totals(self) -> CartTotals:
        base = sum((item.extended_price for item in self.items), ZERO)
        discount = self.coupon.discount_on(base) if self.coupon else ZERO
        return CartTotals(base, discount, _split(discount, self.items, base))


def _split(discount: Decimal, items: list[LineItem], base: Decimal) -> dict[str, Decimal]:
    """Spread a cart-level discount over the items by value; the last item takes the rounding rest."""
    shares: dict[str, Decimal] = {}
    if not items or base == ZERO:
        return {item.id: ZERO for item in items}
    left = discount
    for item in items[:-1]:
        share = (discount * item.extended_price / base).quantize(CENT, ROUND_HALF_UP)
        shares[item.id] = share
        left -= share
    shares[items[-1].id] = left
    return shares


def render_item(
    cart: Cart, item: LineItem, share: Decimal, *, with_options: bool, for_checkout: bool = False
) -> dict[str, Any]:
    product = item.product
    body: dict[str, Any] = {"id": item.id}
    if for_checkout:
        # Checkouts type parent_id as a nullable number; carts type it as a non-nullable string,
        # so carts leave it out for items that are not in a bundle.
        body["parent_id"] = None
    body |= {
        "variant_id": item.variant.id,
        "product_id": product.id,
        "sku": item.sku,
        "name": product.name,
        "url": product.url(cart.domain),
        "quantity": item.quantity,
        ("is_taxable" if for_checkout else "taxable"): True,
        "image_url": product.image_url(cart.store_hash),
        "discounts": [{"id": "coupon", "discounted_amount": number(share)}] if share else [],
        "coupons": _item_coupons(cart.coupon, share),
        "discount_amount": number(share),
        "coupon_amount": number(share),
        "original_price": number(product.original_price(item.variant)),
        "list_price": number(item.list_price),
        "sale_price": number(item.list_price),
        "extended_list_price": number(item.extended_price),
        "extended_sale_price": number(item.extended_price),
        "is_require_shipping": not product.digital,
        "is_mutable": True,
        "added_by_promotion": False,
    }
    if product.digital:
        body |= {
            "download_file_urls": [],
            "download_page_url": f"https://{cart.domain}/account.php?action=download_items",
            "download_size": "2.4MB",
        }
    elif for_checkout:
        body["gift_wrapping"] = None
    if with_options:
        body["options"] = [option.as_json() for option in item.variant.options]
    return body


def _item_coupons(coupon: Coupon | None, share: Decimal) -> list[dict[str, Any]]:
    if coupon is None:
        return []
    return [
        {
            "id": coupon.id,
            "code": coupon.code,
            "name": coupon.name,
            "discountType": coupon.type.value,
            "discountAmount": int(coupon.amount),
            "expiresDate": 0,
            "totalDiscount": number(share),
        }
    ]


def render_line_items(
    cart: Cart, totals: CartTotals, include: Collection[str], *, for_checkout: bool = False
) -> dict[str, Any]:
    prefix = "cart." if for_checkout else ""
    physical: list[dict[str, Any]] = []
    digital: list[dict[str, Any]] = []
    for item in cart.items:
        options_key = INCLUDE_DIGITAL_OPTIONS if item.product.digital else INCLUDE_PHYSICAL_OPTIONS
        rendered = render_item(
            cart,
            item,
            totals.coupon_shares[item.id],
            with_options=prefix + options_key in include,
            for_checkout=for_checkout,
        )
        (digital if item.product.digital else physical).append(rendered)
    return {"physical_items": physical, "digital_items": digital, "gift_certificates": [], "custom_items": []}


def applied_coupons(cart: Cart, totals: CartTotals, *, for_checkout: bool = False) -> list[dict[str, Any]]:
    if cart.coupon is None:
        return []
    coupon = cart.coupon
    # carts.v3.yml types a coupon's id and coupon_type as strings of numbers; checkouts.v3.yml
    # has an integer id and the type's name.
    return [
        {
            "id": coupon.id if for_checkout else str(coupon.id),
            "code": coupon.code,
            "coupon_type": coupon.type.key if for_checkout else str(coupon.type.value),
            "display_name": coupon.name,
            "discounted_amount": number(totals.coupon_amount),
        }
    ]


def cart_summary(cart: Cart, totals: CartTotals) -> dict[str, Any]:
    """The fields a cart and a checkout's ``cart`` share."""
    return {
        "id": cart.id,
        "customer_id": cart.customer_id,
        "channel_id": cart.channel_id,
        "email": cart.email,
        "currency": {"code": cart.currency},
        "tax_included": False,
        "base_amount": number(totals.base_amount),
        "discount_amount": 0,  # order-level promotions only; coupons are reported apart
        "discounts": [{"id": "coupon", "discounted_amount": number(totals.coupon_amount)}]
        if cart.coupon
        else [],
        "created_time": iso(cart.created_at),
        "updated_time": iso(cart.updated_at or cart.created_at),
    }


def render_cart(cart: Cart, include: Collection[str] = ()) -> dict[str, Any]:
    """``Cart_Full``; ``options`` only when their ``include`` is asked for, as BigCommerce abbreviates."""
    totals = cart.totals()
    return cart_summary(cart, totals) | {
        "manual_discount_amount": 0,
        "cart_amount": number(totals.cart_amount),
        "coupons": applied_coupons(cart, totals),
        "line_items": render_line_items(cart, totals, include),
        "locale": cart.locale,
        "version": cart.version,
    }


def redirect_urls(cart: Cart, token: str) -> dict[str, str]:
    base = f"https://{cart.domain}/cart.php"
    return {
        "cart_url": f"{base}?action=load&id={cart.id}&token={token}",
        "checkout_url": f"{base}?action=loadInCheckout&id={cart.id}&token={token}",
        "embedded_checkout_url": f"{base}?embedded=1&action=loadInCheckout&id={cart.id}&token={token}",
    }
