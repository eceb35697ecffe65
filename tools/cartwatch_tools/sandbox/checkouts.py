"""Checkouts: a cart seen from checkout (checkouts.v3.yml ``Checkout``).

The checkout id is the cart id.  ``billing_address`` appears once the shopper has entered an
email (guest checkout) or an address was posted through the API; it is where a guest's email
and phone live.  The sandbox charges no tax and no shipping, so every total is the cart amount.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from cartwatch_tools.sandbox.carts import Cart, applied_coupons, cart_summary, iso, number, render_line_items


def render_checkout(cart: Cart, include: Collection[str] = ()) -> dict[str, Any]:
    totals = cart.totals()
    amount = number(totals.cart_amount)
    subtotal = number(totals.base_amount)
    coupons = applied_coupons(cart, totals, for_checkout=True)
    body: dict[str, Any] = {
        "id": cart.id,
        "cart": cart_summary(cart, totals)
        | {
            "cart_amount_inc_tax": amount,
            "cart_amount_ex_tax": amount,
            "coupons": coupons,
            "line_items": render_line_items(cart, totals, include, for_checkout=True),
        },
    }
    if cart.billing is not None:
        body["billing_address"] = cart.billing.as_json()
    body |= {
        "consignments": [],
        "taxes": [{"name": "Tax", "amount": 0}],
        "coupons": coupons,
        "fees": [],
        "order_id": str(cart.order_id) if cart.order_id is not None else None,
        "shipping_cost_total_inc_tax": 0,
        "shipping_cost_total_ex_tax": 0,
        "handling_cost_total_inc_tax": 0,
        "handling_cost_total_ex_tax": 0,
        "tax_total": 0,
        "subtotal_inc_tax": subtotal,
        "subtotal_ex_tax": subtotal,
        "grand_total": amount,
        "created_time": iso(cart.created_at),
        "updated_time": iso(cart.updated_at or cart.created_at),
        "customer_message": "",
        "promotions": [],
        "version": cart.version,
    }
    return body
