"""BigCommerce's answers → the normalized cart (``domain/cart.py``).

BigCommerce answers in two dialects — a checkout's ``cart`` (``cart_amount_inc_tax``,
``is_taxable``) and ``Cart_Full`` (``cart_amount``, ``taxable``) — with money as JSON
numbers (carts, checkouts) or strings (v2 orders).  Everything is translated here, once,
into one shape with money as exact decimals.

Nothing here does I/O; the builders are pure functions of BigCommerce's answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from cartwatch.domain.cart import (
    CartSnapshot,
    Consent,
    Coupon,
    Customer,
    LineItem,
    LineOption,
    OrderSummary,
    RecoveryLink,
    Totals,
    fit_snapshot,
    money,
    snapshot_fits,
)


def snapshot_from_bigcommerce(
    checkout_or_cart: Mapping[str, Any],
    customer: Mapping[str, Any] | None,
    subscribers: list[dict[str, Any]],
    captured_at: int,
    recovery_link: RecoveryLink,
) -> CartSnapshot:
    """Normalize a checkout (``GET /v3/checkouts/{id}``) or a cart (``GET /v3/carts/{id}``).

    ``checkout_or_cart`` is the ``data`` object of either answer (a checkout is recognized by
    its nested ``cart``); ``customer`` a ``customer_Full``; ``subscribers`` the answer of
    ``GET /v3/customers/subscribers`` for the cart's email.  A cart too large for
    ``SNAPSHOT_MAX_BYTES`` is trimmed (``fit_snapshot``).
    """
    cart, billing = cart_and_billing(checkout_or_cart)
    channel_id = _int_or_none(cart.get("channel_id"))
    coupons = [_coupon(c) for c in cart.get("coupons") or []]
    cart_amount = cart.get("cart_amount", cart.get("cart_amount_inc_tax"))
    tax_included = cart.get("tax_included")
    totals = Totals(
        base_amount=money(cart.get("base_amount")),
        discount_amount=money(cart.get("discount_amount")),
        coupon_amount=sum((c.discounted_amount for c in coupons), Decimal(0)) if coupons else None,
        cart_amount=money(cart_amount),
        tax_included=tax_included if isinstance(tax_included, bool) else None,
    )
    currency = (cart.get("currency") or {}).get("code") or ""
    line_items = _line_items(cart.get("line_items") or {})
    snapshot = CartSnapshot(
        cart_id=str(cart["id"]),
        channel_id=channel_id,
        currency=currency.upper(),
        totals=totals,
        line_items=line_items,
        line_item_count=len(line_items),
        coupons=coupons,
        customer=_customer(cart, billing, customer, subscribers, channel_id),
        recovery_link=recovery_link,
        captured_at=captured_at,
    )
    # Stored on the cart item and sent in every stage's event: bounded once, here.
    return fit_snapshot(snapshot, snapshot_fits)


def cart_and_billing(checkout_or_cart: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """The cart part and the billing address (empty for a bare cart) of either answer."""
    nested = checkout_or_cart.get("cart")
    if isinstance(nested, Mapping):
        return nested, checkout_or_cart.get("billing_address") or {}
    return checkout_or_cart, {}


def order_from_bigcommerce(order: Mapping[str, Any]) -> OrderSummary:
    """Summarize a v2 order (``GET /v2/orders/{id}``).

    Amounts of a v2 order are in its transactional currency, ``default_currency_code``;
    ``currency_code`` is only the currency the storefront displayed.
    """
    currency = order.get("default_currency_code") or order.get("currency_code")
    total = order.get("total_inc_tax")
    return OrderSummary(
        id=_int_or_none(order.get("id")),
        total=money(total) if total not in (None, "") else None,
        currency=str(currency).upper() if currency else None,
        status_id=_int_or_none(order.get("status_id")),
        status=order.get("status") or None,
    )


def order_buyer(order: Mapping[str, Any]) -> tuple[int | None, str | None]:
    """Who placed a v2 order: the customer id (None for a guest, whose id is 0) and the
    billing address's email."""
    customer_id = _int_or_none(order.get("customer_id"))
    billing = order.get("billing_address")
    email = _first_text(billing.get("email")) if isinstance(billing, Mapping) else None
    return (customer_id if customer_id is not None and customer_id > 0 else None), email


def _line_items(groups: Mapping[str, Any]) -> list[LineItem]:
    items: list[LineItem] = []
    for kind in ("physical", "digital"):
        items.extend(_catalog_item(item, kind) for item in groups.get(f"{kind}_items") or [])
    items.extend(_custom_item(item) for item in groups.get("custom_items") or [])
    items.extend(_gift_certificate(item) for item in groups.get("gift_certificates") or [])
    return items


def _catalog_item(item: Mapping[str, Any], kind: Literal["physical", "digital"]) -> LineItem:
    return LineItem(
        id=str(item["id"]),
        kind=kind,
        product_id=_int_or_none(item.get("product_id")),
        variant_id=_int_or_none(item.get("variant_id")),
        sku=item.get("sku") or None,
        name=item.get("name") or "",
        quantity=_quantity(item.get("quantity")),
        list_price=money(item.get("list_price")),
        sale_price=money(item.get("sale_price")),
        extended_list_price=money(item.get("extended_list_price")),
        extended_sale_price=money(item.get("extended_sale_price")),
        options=[_option(o) for o in item.get("options") or []],
        url=item.get("url") or None,
        image_url=item.get("image_url") or None,
    )


def _custom_item(item: Mapping[str, Any]) -> LineItem:
    # Custom items have one price: what the merchant set is what the shopper pays.
    quantity = _quantity(item.get("quantity"))
    price = money(item.get("list_price"))
    extended = money(item["extended_list_price"]) if "extended_list_price" in item else price * quantity
    name = item.get("name") or ""
    return _one_price_item(item, "custom", name, item.get("sku"), quantity, price, extended)


def _gift_certificate(item: Mapping[str, Any]) -> LineItem:
    amount = money(item.get("amount"))
    name = item.get("name") or "Gift certificate"
    return _one_price_item(item, "gift_certificate", name, None, 1, amount, amount)


def _one_price_item(
    item: Mapping[str, Any],
    kind: Literal["custom", "gift_certificate"],
    name: str,
    sku: str | None,
    quantity: int,
    price: Decimal,
    extended: Decimal,
) -> LineItem:
    """An item outside the catalog: no product, no options, list price = sale price."""
    return LineItem(
        id=str(item["id"]),
        kind=kind,
        product_id=None,
        variant_id=None,
        sku=sku or None,
        name=name,
        quantity=quantity,
        list_price=price,
        sale_price=price,
        extended_list_price=extended,
        extended_sale_price=extended,
        options=[],
        url=None,
        image_url=item.get("image_url") or None,
    )


def _option(option: Mapping[str, Any]) -> LineOption:
    value = option.get("value")
    return LineOption(
        name=str(option.get("name") or ""),
        value=None if value is None else str(value),
        name_id=_int_or_none(option.get("nameId", option.get("name_id"))),
        value_id=_int_or_none(option.get("valueId", option.get("value_id"))),
    )


def _coupon(coupon: Mapping[str, Any]) -> Coupon:
    # carts.v3 documents the coupon id as a string, checkouts.v3 as an integer.
    coupon_id = coupon.get("id")
    return Coupon(
        code=str(coupon["code"]),
        id=None if coupon_id is None else str(coupon_id),
        discounted_amount=money(coupon.get("discounted_amount")),
    )


def _customer(
    cart: Mapping[str, Any],
    billing: Mapping[str, Any],
    record: Mapping[str, Any] | None,
    subscribers: list[dict[str, Any]],
    channel_id: int | None,
) -> Customer:
    customer_id = _int_or_none(cart.get("customer_id")) or 0
    # Names and phone: the account holder's own record first, then the billing address
    # (all a guest has).  Email: the one given for this cart (see ``_email``).
    account = record or {}
    email = _email(cart, billing, account)
    return Customer(
        id=customer_id if customer_id > 0 else None,
        email=email,
        first_name=_first_text(account.get("first_name"), billing.get("first_name")),
        last_name=_first_text(account.get("last_name"), billing.get("last_name")),
        phone=_first_text(account.get("phone"), billing.get("phone")),
        is_guest=customer_id <= 0,
        consent=_consent(email, record, subscribers, channel_id),
    )


def shopper_email(checkout_or_cart: Mapping[str, Any], customer: Mapping[str, Any] | None) -> str | None:
    """The email a snapshot reports, and so the one whose subscriber consent applies."""
    cart, billing = cart_and_billing(checkout_or_cart)
    return _email(cart, billing, customer or {})


def _email(cart: Mapping[str, Any], billing: Mapping[str, Any], account: Mapping[str, Any]) -> str | None:
    # The cart's email is the billing email the shopper gave for this purchase; a registered
    # shopper's account email is the fallback when the cart has none yet.
    return _first_text(cart.get("email"), billing.get("email"), account.get("email"))


def _consent(
    email: str | None,
    customer: Mapping[str, Any] | None,
    subscribers: Iterable[Mapping[str, Any]],
    channel_id: int | None = None,
) -> Consent:
    """Email consent: the subscriber record decides; the customer's flag is the fallback.

    A subscriber's ``consents`` lists what they opted into (an empty list means they
    unsubscribed).  Without a subscriber record only a registered customer's
    ``accepts_product_review_abandoned_cart_emails`` says anything, and only about
    abandoned-cart emails.
    """
    subscriber = _subscriber_for(email, subscribers, channel_id)
    if subscriber is not None:
        consents = set(subscriber.get("consents") or [])
        return Consent(
            abandoned_cart_emails="abandoned_cart" in consents,
            marketing_newsletter="marketing_newsletter" in consents,
            source="subscriber",
        )
    flag = (customer or {}).get("accepts_product_review_abandoned_cart_emails")
    if isinstance(flag, bool):
        return Consent(abandoned_cart_emails=flag, marketing_newsletter=None, source="customer")
    return Consent(abandoned_cart_emails=None, marketing_newsletter=None, source="unknown")


def _subscriber_for(
    email: str | None, subscribers: Iterable[Mapping[str, Any]], channel_id: int | None
) -> Mapping[str, Any] | None:
    if not email:
        return None
    wanted = email.strip().casefold()
    matching = [s for s in subscribers if str(s.get("email") or "").strip().casefold() == wanted]
    # A shopper may have subscribed on several channels: the cart's channel is the one
    # whose consent applies.
    for subscriber in matching:
        if channel_id is not None and _int_or_none(subscriber.get("channel_id")) == channel_id:
            return subscriber
    return matching[0] if matching else None


def _first_text(*values: Any) -> str | None:
    for value in values:
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _int_or_none(value: Any) -> int | None:
    # BigCommerce types several ids as JSON "number"; 359 and 359.0 are the same id.
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return int(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return None


def _quantity(value: Any) -> int:
    return _int_or_none(value) or 0
