"""Fetch what a webhook does not carry: the abandoned cart's contents and the order total.

Called only when a cart is abandoned (stage 1; later stages reuse the snapshot) and when an
abandoned cart converts, never on ordinary cart activity: the store's API quota is shared
with every app on it.  Budget per abandoned cart (DESIGN.md §4): at most 3 calls for the
cart data —

1. ``GET /v3/checkouts/{id}``: the cart with its options, *and* the billing address that
   holds a guest's email, names and phone (a bare ``GET /v3/carts/{id}`` has neither);
2. ``GET /v3/customers?id:in=…`` only for a registered shopper (``customer_id > 0``);
3. ``GET /v3/customers/subscribers?email=…`` only when an email is known —

plus, for stores that opted into recovery links, one ``POST /v3/carts?include=redirect_urls``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

from cartwatch.adapters.bigcommerce import (
    BigCommerceRejected,
    BigCommerceUnauthorized,
    BigCommerceUnavailable,
)
from cartwatch.domain.bigcommerce_cart import (
    cart_and_billing,
    order_buyer,
    order_from_bigcommerce,
    shopper_email,
    snapshot_from_bigcommerce,
)
from cartwatch.domain.cart import CartSnapshot, OrderSummary, RecoveryLink
from cartwatch.domain.eligibility import EligibilityRules, skip_reason
from cartwatch.domain.shopper import shopper_key

# BigCommerce's order status 0: an order whose checkout was never completed.
INCOMPLETE_ORDER_STATUS = 0


class CartSource(Protocol):
    """The part of BigCommerce enrichment needs (``BigCommerceClient`` is one)."""

    def get_checkout(self, cart_id: str) -> dict[str, Any] | None: ...
    def get_customers(self, ids: Sequence[int]) -> list[dict[str, Any]]: ...
    def get_subscribers(self, email: str) -> list[dict[str, Any]]: ...
    def create_cart(self, body: Mapping[str, Any]) -> dict[str, Any]: ...


class OrderSource(Protocol):
    def get_order(self, order_id: int) -> dict[str, Any] | None: ...


def snapshot_abandoned_cart(
    client: CartSource,
    cart_id: str,
    *,
    now: int,
    recovery_links: bool,
    rules: EligibilityRules | None = None,
) -> CartSnapshot | None:
    """The normalized cart at abandonment, or None when BigCommerce no longer has it.

    A 404 means the cart was converted or deleted since its last webhook: no event is due.
    Other failures (:class:`~cartwatch.adapters.bigcommerce.BigCommerceError`) propagate so
    the caller can retry the stage later; only the optional recovery link degrades to a
    null url with a reason.  A cart that fails the store's eligibility ``rules`` gets no
    recovery link: its stage will not be published, so no copy of it is made.
    """
    checkout = client.get_checkout(cart_id)
    if checkout is None:
        return None
    cart, _ = cart_and_billing(checkout)
    customer_id = _positive_int(cart.get("customer_id"))
    customer: dict[str, Any] | None = None
    if customer_id is not None:
        customer = next((c for c in client.get_customers([customer_id]) if c.get("id") == customer_id), None)
    email = shopper_email(checkout, customer)
    subscribers = client.get_subscribers(email) if email else []
    snapshot = snapshot_from_bigcommerce(
        checkout, customer, subscribers, now, RecoveryLink(url=None, reason="not_enabled")
    )
    if not recovery_links or (rules is not None and skip_reason(rules, snapshot) is not None):
        return snapshot
    # Normalized again with the link: the snapshot's size limit counts the link's URL too.
    return snapshot_from_bigcommerce(
        checkout, customer, subscribers, now, recreate_for_recovery(client, cart)
    )


def recreate_for_recovery(client: CartSource, cart: Mapping[str, Any]) -> RecoveryLink:
    """Copy the cart through the REST Management API and return the copy's checkout URL.

    BigCommerce mints redirect URLs only for carts created through that API; a shopper's
    storefront cart must be recreated first.  One call; never raises for BigCommerce's
    refusal — the event still goes out, with a null url and the reason.
    """
    body = recreation_body(cart)
    if body is None:
        return RecoveryLink(url=None, reason="no_line_items")
    try:
        created = client.create_cart(body)
    except BigCommerceUnauthorized:
        # Typically the API account lacks the Carts *modify* scope.
        return RecoveryLink(url=None, reason="not_authorized")
    except BigCommerceRejected:
        return RecoveryLink(url=None, reason="bigcommerce_rejected")
    except BigCommerceUnavailable:
        return RecoveryLink(url=None, reason="bigcommerce_unavailable")
    url = (created.get("redirect_urls") or {}).get("checkout_url")
    copy_id = created.get("id")
    return RecoveryLink(
        url=url or None,
        reason=None if url else "no_redirect_url",
        cart_id=str(copy_id) if copy_id else None,
    )


def recreation_body(cart: Mapping[str, Any]) -> dict[str, Any] | None:
    """A ``POST /v3/carts`` body holding the same items, options, customer and channel.

    Prices are not overridden: the copy is priced by the catalog and the shopper's
    promotions, as the original was.  Items BigCommerce adds by itself (children of a
    bundled item present in the cart, free gifts of a promotion) are left for it to add
    again.  None when nothing is left.
    """
    groups = cart.get("line_items") or {}
    catalog = [*(groups.get("physical_items") or []), *(groups.get("digital_items") or [])]
    ids = {str(item.get("id")) for item in catalog}
    line_items = [
        _catalog_line(item)
        for item in catalog
        if str(item.get("parent_id") or "") not in ids and not item.get("added_by_promotion")
    ]
    custom_items = [
        {
            "sku": item.get("sku"),
            "name": item.get("name"),
            "quantity": _int(item.get("quantity")),
            "list_price": item.get("list_price"),
        }
        for item in groups.get("custom_items") or []
    ]
    gift_certificates = [
        {
            "name": item.get("name"),
            "theme": item.get("theme"),
            "amount": item.get("amount"),
            "quantity": 1,
            "sender": item.get("sender"),
            "recipient": item.get("recipient"),
            "message": item.get("message"),
        }
        for item in groups.get("gift_certificates") or []
    ]
    if not (line_items or custom_items or gift_certificates):
        return None
    body: dict[str, Any] = {
        "customer_id": _positive_int(cart.get("customer_id")) or 0,
        "line_items": line_items,
    }
    if custom_items:
        body["custom_items"] = custom_items
    if gift_certificates:
        body["gift_certificates"] = gift_certificates
    channel_id = _positive_int(cart.get("channel_id"))
    if channel_id is not None:
        body["channel_id"] = channel_id
    currency = (cart.get("currency") or {}).get("code")
    if currency:
        body["currency"] = {"code": currency}
    if cart.get("locale"):
        body["locale"] = cart["locale"]
    return body


def _catalog_line(item: Mapping[str, Any]) -> dict[str, Any]:
    line: dict[str, Any] = {
        "quantity": _int(item.get("quantity")),
        "product_id": _int(item.get("product_id")),
    }
    selections = [
        {
            "option_id": _int(option["nameId"]),
            # Text and date modifiers have no value id: their value is what the shopper typed.
            "option_value": _int(option["valueId"])
            if option.get("valueId") is not None
            else option.get("value"),
        }
        for option in item.get("options") or []
        if option.get("nameId") is not None
    ]
    if selections:
        # carts.v3: with modifiers, omit variant_id and let the selections name the variant too.
        line["option_selections"] = selections
    elif item.get("variant_id") is not None:
        line["variant_id"] = _int(item["variant_id"])
    return line


class CartFate(Protocol):
    def cart_is_open(self, cart_id: str) -> bool: ...
    def find_order_of_cart(self, cart_id: str) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class Purchase:
    """The order a gone cart became, and when it was placed (None: not stated)."""

    order: OrderSummary
    at: int | None


def purchase_of_gone_cart(client: CartFate, cart_id: str) -> Purchase | None:
    """Why BigCommerce no longer has a cart: bought (its order) or deleted/expired (None).

    One ``GET /v2/orders?cart_id=…``, asked only once the cart is known to be gone.  An
    *Incomplete* order (status 0) is a checkout never finished, not a purchase.
    """
    order = client.find_order_of_cart(cart_id)
    if order is None:
        return None
    summary = order_from_bigcommerce(order)
    if summary.status_id == INCOMPLETE_ORDER_STATUS or summary.id is None:
        return None
    return Purchase(summary, _rfc2822_seconds(order.get("date_created")))


def _rfc2822_seconds(value: Any) -> int | None:
    # v2 orders write dates as RFC 2822 ("Tue, 20 Nov 2012 00:00:00 +0000").
    try:
        return int(parsedate_to_datetime(str(value)).timestamp()) if value else None
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class BoughtOrder:
    """A purchase's order: its summary for the event, and who bought (their shopper key)."""

    summary: OrderSummary
    shopper: str | None


def fetch_order(client: OrderSource, order_id: int) -> BoughtOrder | None:
    """The order's total and status, and its buyer; None when BigCommerce has no such order.

    The same one call that gives the order's value tells who bought it, so the shopper's
    other carts can be stopped at no extra BigCommerce call.  Raises
    :class:`~cartwatch.adapters.bigcommerce.BigCommerceError` when BigCommerce cannot be
    reached; callers that must publish anyway use ``OrderSummary`` with a null total.
    """
    order = client.get_order(order_id)
    if order is None:
        return None
    return BoughtOrder(order_from_bigcommerce(order), shopper_key(*order_buyer(order)))


def _int(value: Any) -> int:
    # BigCommerce types ids and quantities as JSON "number": 2.0 is the integer 2.
    return int(float(value))


def _positive_int(value: Any) -> int | None:
    try:
        number = _int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None
