"""The normalized cart: what an abandoned-cart event says about a BigCommerce cart.

Money is an exact decimal everywhere: a JSON float such as ``13.86`` is read through
``Decimal(str(x))`` (see :func:`money`) so the event carries ``"13.86"`` and never
``13.8599999…``.  ``domain/bigcommerce_cart.py`` builds these models from BigCommerce's
answers.
"""

from __future__ import annotations

from collections.abc import Callable
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
    # Stored snapshots are parsed again by the publisher and the query API; their values
    # (names, emails, SKUs) are not worth pydantic's process-wide string cache.
    model_config = ConfigDict(
        frozen=True, json_schema_serialization_defaults_required=True, cache_strings="keys"
    )


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
