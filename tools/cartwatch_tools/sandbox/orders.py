"""Orders, as the v2 Orders API shows them (orders.v2.oas2.yml ``order_Resp``).

v2 answers with bare objects (no ``data`` envelope), money as 4-decimal strings and dates in
RFC 2822.  An order keeps the ``cart_id`` it came from: the fallback link from an order to its
cart when ``store/cart/converted`` is missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from email.utils import format_datetime
from typing import Any

from cartwatch_tools.sandbox.carts import BillingAddress, Cart

# BigCommerce's order status ids (orders.v2.oas2.yml); the sandbox uses the first three.
INCOMPLETE = 0
AWAITING_FULFILLMENT = 11
STATUS_NAMES = {
    INCOMPLETE: "Incomplete",
    1: "Pending",
    AWAITING_FULFILLMENT: "Awaiting Fulfillment",
    10: "Completed",
}

COUNTRY_NAMES = {"US": "United States", "GB": "United Kingdom", "CA": "Canada", "AU": "Australia"}


def money(value: Decimal) -> str:
    return f"{value:.4f}"


@dataclass
class Order:
    id: int
    cart_id: str
    customer_id: int
    channel_id: int
    created_at: datetime
    subtotal: Decimal
    coupon_discount: Decimal
    items_total: int
    currency: str
    billing: BillingAddress
    source: str  # "www" for storefront checkouts, "checkout_api" for POST /checkouts/{id}/orders
    status_id: int = INCOMPLETE
    modified_at: datetime | None = None

    @property
    def total(self) -> Decimal:
        return self.subtotal - self.coupon_discount

    @classmethod
    def from_cart(
        cls, order_id: int, cart: Cart, billing: BillingAddress, now: datetime, source: str
    ) -> Order:
        totals = cart.totals()
        return cls(
            id=order_id,
            cart_id=cart.id,
            customer_id=cart.customer_id,
            channel_id=cart.channel_id,
            created_at=now,
            subtotal=totals.base_amount,
            coupon_discount=totals.coupon_amount,
            items_total=sum(item.quantity for item in cart.items),
            currency=cart.currency,
            billing=billing,
            source=source,
        )


def render_order(order: Order, api_base: str) -> dict[str, Any]:
    """``order_Resp``; ``api_base`` is ``{base}/stores/{hash}/v2`` for the sub-resource links."""
    zero = money(Decimal(0))
    address = order.billing
    resources = {
        name: {"url": f"{api_base}/orders/{order.id}/{path}", "resource": f"/orders/{order.id}/{path}"}
        for name, path in (
            ("products", "products"),
            ("shipping_addresses", "shippingaddresses"),
            ("coupons", "coupons"),
        )
    }
    return {
        "id": order.id,
        "customer_id": order.customer_id,
        "date_created": format_datetime(order.created_at),
        "date_modified": format_datetime(order.modified_at or order.created_at),
        "date_shipped": "",
        "status_id": order.status_id,
        "status": STATUS_NAMES[order.status_id],
        "subtotal_ex_tax": money(order.subtotal),
        "subtotal_inc_tax": money(order.subtotal),
        "subtotal_tax": zero,
        "base_shipping_cost": zero,
        "shipping_cost_ex_tax": zero,
        "shipping_cost_inc_tax": zero,
        "shipping_cost_tax": zero,
        "shipping_cost_tax_class_id": 0,
        "base_handling_cost": zero,
        "handling_cost_ex_tax": zero,
        "handling_cost_inc_tax": zero,
        "handling_cost_tax": zero,
        "handling_cost_tax_class_id": 0,
        "base_wrapping_cost": zero,
        "wrapping_cost_ex_tax": zero,
        "wrapping_cost_inc_tax": zero,
        "wrapping_cost_tax": zero,
        "wrapping_cost_tax_class_id": 0,
        "total_ex_tax": money(order.total),
        "total_inc_tax": money(order.total),
        "total_tax": zero,
        "is_tax_inclusive_pricing": False,
        "items_total": order.items_total,
        "items_shipped": 0,
        "payment_method": "Test Payment Gateway",
        "payment_provider_id": "",
        "payment_status": "captured" if order.status_id != INCOMPLETE else "",
        "refunded_amount": zero,
        "order_is_digital": False,
        "store_credit_amount": zero,
        "gift_certificate_amount": zero,
        "ip_address": "",
        "ip_address_v6": "",
        "geoip_country": "",
        "geoip_country_iso2": "",
        "currency_id": 1,
        "currency_code": order.currency,
        "currency_exchange_rate": "1.0000000000",
        "default_currency_id": 1,
        "default_currency_code": order.currency,
        "store_default_currency_code": order.currency,
        "store_default_to_transactional_exchange_rate": "1.0000000000",
        "staff_notes": "",
        "customer_message": "",
        "discount_amount": zero,
        "coupon_discount": money(order.coupon_discount),
        "shipping_address_count": 0,
        "is_deleted": False,
        "ebay_order_id": "0",
        "cart_id": order.cart_id,
        "billing_address": {
            "first_name": address.first_name,
            "last_name": address.last_name,
            "company": address.company,
            "street_1": address.address1,
            "street_2": address.address2,
            "city": address.city,
            "state": address.state_or_province,
            "zip": address.postal_code,
            "country": COUNTRY_NAMES.get(address.country_code, address.country_code),
            "country_iso2": address.country_code,
            "phone": address.phone,
            "email": address.email,
            "form_fields": [],
        },
        "is_email_opt_in": False,
        "order_source": order.source,
        "channel_id": order.channel_id,
        "external_source": None,
        "external_id": None,
        "external_merchant_id": None,
        "tax_provider_id": "BasicTaxProvider",
        "customer_locale": "en",
        "external_order_id": "",
        **resources,
    }
