"""The normalized cart: what an abandoned-cart event says about a BigCommerce cart.

BigCommerce answers in two dialects — a checkout's ``cart`` (``cart_amount_inc_tax``,
``is_taxable``) and ``Cart_Full`` (``cart_amount``, ``taxable``) — with money as JSON
numbers (carts, checkouts) or strings (v2 orders).  Everything is translated here, once,
into one shape with money as exact decimals: a JSON float such as ``13.86`` is read through
``Decimal(str(x))`` so the event carries ``"13.86"`` and never ``13.8599999…``.

Nothing here does I/O; the builders are pure functions of BigCommerce's answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

# What the JSON Schema says of every money field: a string holding an exact decimal.
MONEY_PATTERN = r"^-?\d+(\.\d+)?$"
_CENTS = Decimal("0.01")


def _reject_float(value: Any) -> Any:
    # A float has already lost the exact amount; callers must pass str, int or Decimal.
    # (ValueError, not TypeError: pydantic turns only the former into a ValidationError.)
    if isinstance(value, float | bool):
        raise ValueError("money must be a Decimal, int or decimal string, never a float")  # noqa: TRY004
    return value


def format_money(value: Decimal) -> str:
    """``Decimal("25.5")`` -> ``"25.50"``; ``Decimal("69.8400")`` -> ``"69.84"``; exact always.

    At least two decimals (what shoppers and spreadsheets expect), more only where the
    amount really has them: trailing zeros are cosmetic, other digits are money.
    """
    normalized = value.normalize()
    exponent = normalized.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        normalized = value.quantize(_CENTS)
    if normalized == 0:
        normalized = abs(normalized)
    return format(normalized, "f")


Money = Annotated[
    Decimal,
    BeforeValidator(_reject_float),
    Field(allow_inf_nan=False),
    PlainSerializer(format_money, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": MONEY_PATTERN,
            "description": "An exact decimal amount in the cart's currency, as a string.",
            "examples": ["25.50"],
        }
    ),
]


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# A moment in UTC, serialized as RFC 3339 with seconds (what events and the query API say).
Timestamp = Annotated[
    datetime,
    PlainSerializer(_rfc3339, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2025-08-05T15:38:14Z"]}),
]


def money(value: Any) -> Decimal:
    """A BigCommerce amount (JSON number or string) as an exact Decimal; missing -> 0."""
    if value is None or value == "":
        return Decimal(0)
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount") from None


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, json_schema_serialization_defaults_required=True)


class LineOption(_Model):
    name: str
    value: str | None
    name_id: int | None
    value_id: int | None


LineItemKind = Literal["physical", "digital", "custom", "gift_certificate"]


class LineItem(_Model):
    id: str
    kind: LineItemKind
    product_id: int | None
    variant_id: int | None
    sku: str | None
    name: str
    quantity: int
    list_price: Money
    sale_price: Money
    extended_list_price: Money
    extended_sale_price: Money
    options: list[LineOption]
    url: str | None
    image_url: str | None

    def without_details(self) -> LineItem:
        """The item as a trimmed cart lists it: no links, option values cut short."""
        options = [
            option
            if option.value is None or len(option.value) <= TRIMMED_OPTION_VALUE_CHARS
            else option.model_copy(update={"value": option.value[: TRIMMED_OPTION_VALUE_CHARS - 1] + "…"})
            for option in self.options
        ]
        return self.model_copy(update={"url": None, "image_url": None, "options": options})


class Coupon(_Model):
    code: str
    id: str | None
    discounted_amount: Money


class Totals(_Model):
    base_amount: Money
    discount_amount: Money
    # Sum of the applied coupons' discounts; null when no coupon is applied.
    coupon_amount: Money | None
    cart_amount: Money
    # Whether the store's prices include tax; null when BigCommerce did not say.
    tax_included: bool | None


ConsentSource = Literal["subscriber", "customer", "unknown"]


class Consent(_Model):
    abandoned_cart_emails: bool | None
    marketing_newsletter: bool | None
    source: ConsentSource


class Customer(_Model):
    id: int | None
    email: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None
    is_guest: bool
    consent: Consent


class RecoveryLink(_Model):
    """A link that puts the shopper back into a copy of the cart, or why there is none.

    ``cart_id`` is the copy BigCommerce made (links can only be minted for carts created
    through its REST Management API): the shopper converts *that* cart when they come back.
    """

    url: str | None
    reason: str | None
    cart_id: str | None = None


class CartSnapshot(_Model):
    cart_id: str
    channel_id: int | None
    currency: str
    totals: Totals
    line_items: list[LineItem]
    # See ``fit_snapshot``: true when the line items were trimmed to fit a size limit.
    line_items_truncated: bool = False
    # How many line items the cart has, listed or not.
    line_item_count: int
    coupons: list[Coupon]
    customer: Customer
    recovery_link: RecoveryLink
    captured_at: int

    # What cart events copy from a snapshot into their ``data``.
    CONTENT_FIELDS: ClassVar[tuple[str, ...]] = (
        "currency",
        "totals",
        "line_items",
        "line_items_truncated",
        "line_item_count",
        "coupons",
        "customer",
        "recovery_link",
    )

    @model_validator(mode="before")
    @classmethod
    def _count_line_items(cls, data: Any) -> Any:
        # Snapshots stored before trimming existed carry no count: all their items are listed.
        if isinstance(data, dict) and "line_item_count" not in data:
            return {**data, "line_item_count": len(data.get("line_items") or [])}
        return data

    def contents(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.CONTENT_FIELDS}


# --- size limits ---------------------------------------------------------------------------

# A trimmed cart keeps at most this many characters of an option value (a gift message, an
# engraving text): enough for a reminder to show what was chosen.
TRIMMED_OPTION_VALUE_CHARS = 256
# A snapshot's JSON stays within this many bytes.  Its event must fit an SNS message
# (256 KiB with the envelope and message attributes, which take well under 8 KiB), and the
# cart item that stores it a DynamoDB item (400 KB with the cart's state and history).
SNAPSHOT_MAX_BYTES = 248 * 1024


class CartTooLarge(ValueError):
    """Not even the cart without any line items fits the limit (no BigCommerce cart does)."""


def fit_snapshot(snapshot: CartSnapshot, fits: Callable[[CartSnapshot], bool]) -> CartSnapshot:
    """The snapshot as it is when it ``fits``; else trimmed by cartwatch's one rule.

    1. Every line item loses its details: ``url`` and ``image_url`` become null, option
       values longer than ``TRIMMED_OPTION_VALUE_CHARS`` are cut (ending in "…").
    2. If that is still too large, only the longest leading run of line items that fits is
       kept, in the cart's order.

    Either way ``line_items_truncated`` is true and ``line_item_count`` still counts every
    line item; totals, coupons, customer and the recovery link are never trimmed.
    """
    if fits(snapshot):
        return snapshot
    plain = [item.without_details() for item in snapshot.line_items]

    def keeping(count: int) -> CartSnapshot:
        return snapshot.model_copy(update={"line_items": plain[:count], "line_items_truncated": True})

    if fits(trimmed := keeping(len(plain))):
        return trimmed
    if not fits(keeping(0)):
        raise CartTooLarge(f"cart {snapshot.cart_id} does not fit even without its line items")
    low, high = 0, len(plain) - 1  # keeping(low) fits, keeping(high + 1) does not
    while low < high:
        middle = (low + high + 1) // 2
        if fits(keeping(middle)):
            low = middle
        else:
            high = middle - 1
    return keeping(low)


def snapshot_fits(snapshot: CartSnapshot) -> bool:
    return len(snapshot.model_dump_json().encode()) <= SNAPSHOT_MAX_BYTES


class OrderSummary(_Model):
    """An order as events report it; all but ``id`` null when BigCommerce was not reached."""

    id: int | None
    total: Money | None
    currency: str | None
    status_id: int | None
    status: str | None


# --- builders ------------------------------------------------------------------------------


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
