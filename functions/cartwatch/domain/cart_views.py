"""What the query API answers: listed carts, one cart's history, a store's daily figures.

Pydantic models (their JSON Schemas are part of the committed OpenAPI document) and pure
builders from what the table holds.  Money is an exact decimal string, times are RFC 3339
UTC — as in the events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from cartwatch.domain.cart import (
    CartSnapshot,
    Coupon,
    Customer,
    LineItem,
    Money,
    OrderSummary,
    RecoveryLink,
    Timestamp,
    Totals,
)
from cartwatch.domain.daily_figures import (
    Day,
    Figures,
    FigureTotal,
    PeriodFigures,
    days_between,
    period_figures,
)
from cartwatch.domain.history import PublishedEvent, Transition
from cartwatch.domain.lifecycle import CartState
from cartwatch.domain.listing import ListedCart

StatusName = Literal["active", "abandoned", "recovered", "converted", "deleted", "expired"]


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class CartSummary(_View):
    """A listed cart: its lifecycle and what cartwatch captured when it was abandoned."""

    store_hash: str
    cart_id: str
    status: StatusName
    stage: int = Field(ge=0, description="Current abandonment stage (0 unless abandoned).")
    stage_reached: int = Field(ge=0, description="Highest stage of the cart's latest abandonment.")
    suppressed: bool
    suppressed_at: Timestamp | None
    created_at: Timestamp
    modified_at: Timestamp = Field(description="Time of the cart's latest lifecycle transition.")
    last_activity_at: Timestamp | None = Field(
        description="The cart's own last modification: the latest shopper activity BigCommerce reported."
    )
    abandoned_at: Timestamp | None
    closed_at: Timestamp | None
    channel_id: int | None
    order_id: int | None
    currency: str | None
    total: Money | None = Field(
        description="Order total of a bought cart, else the cart total when abandoned."
    )
    customer: Customer | None
    line_items: list[LineItem] | None
    coupons: list[Coupon] | None
    totals: Totals | None
    recovery_link: RecoveryLink | None
    order: OrderSummary | None


# The fields of a listed cart a listing may select (``fields=`` / ``exclude=``).
CartField = Literal[
    "store_hash",
    "cart_id",
    "status",
    "stage",
    "stage_reached",
    "suppressed",
    "suppressed_at",
    "created_at",
    "modified_at",
    "last_activity_at",
    "abandoned_at",
    "closed_at",
    "channel_id",
    "order_id",
    "currency",
    "total",
    "customer",
    "line_items",
    "coupons",
    "totals",
    "recovery_link",
    "order",
]
CART_FIELDS: tuple[CartField, ...] = get_args(CartField)


def select_fields(page: CartPage, fields: Iterable[str], exclude: Iterable[str]) -> SelectedCartPage:
    """The page with only ``fields`` of each cart, less ``exclude``; ``cart_id`` always."""
    keep = (set(fields) - set(exclude)) | {"cart_id"}
    carts = [cart.model_dump(mode="json", include=keep) for cart in page.carts]
    return SelectedCartPage(carts=carts, next_cursor=page.next_cursor)


class TransitionView(_View):
    at: Timestamp
    status: StatusName
    stage: int = Field(ge=0)
    cause: str = Field(
        description="webhook:<scope suffix>, sweep, api:suppress, bigcommerce:gone, created, or "
        "skipped:<reason> (no_email, no_consent, below_min_value): the stage before it was not "
        "announced, the cart failed an eligibility rule of its store.",
        examples=["webhook:converted"],
    )


class EventView(_View):
    id: str = Field(
        json_schema_extra={"format": "uuid"}, description="The CloudEvents id consumers received."
    )
    type: str
    time: Timestamp
    stage: int | None


class CartDetail(CartSummary):
    """One cart with its whole lifecycle history and the events published for it."""

    abandoned_token: str | None
    history: list[TransitionView]
    events: list[EventView]


class CartPage(_View):
    carts: list[CartSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last.")


class SelectedCartPage(_View):
    """A page of carts with only the fields a listing selected (``fields=`` / ``exclude=``)."""

    carts: list[dict[str, Any]] = Field(
        description="Each cart with the selected fields of `CartSummary` (always `cart_id`)."
    )
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last.")


class Amount(_View):
    currency: str
    amount: Money


class StatsFigure(_View):
    count: int = Field(ge=0)
    value: list[Amount] = Field(
        description="Summed per currency (amounts in different currencies never add up)."
    )
    without_value: int = Field(ge=0, description="Carts counted whose value cartwatch does not know.")


class PeriodStats(_View):
    """A store's figures over a period (a day, or the whole range)."""

    created: int = Field(
        ge=0,
        description="Carts created in the period (with at least one item: BigCommerce deletes a cart "
        "whose last item is removed).",
    )
    abandoned: StatsFigure = Field(
        description="Carts whose latest abandonment started in the period (they reached stage 1), "
        "valued at their cart total when abandoned."
    )
    recovered: StatsFigure = Field(
        description="Abandoned carts bought in the period; `value` is the recovered revenue, the "
        "order totals per currency."
    )
    converted: StatsFigure = Field(
        description="Carts bought in the period without having been abandoned, valued at their order total."
    )
    abandonment_rate: float | None = Field(
        ge=0, description="`abandoned` / `created` in the period; null when no cart was created."
    )
    recovery_rate: float | None = Field(
        ge=0, description="`recovered` / `abandoned` in the period; null when no cart was abandoned."
    )


class DayStats(PeriodStats):
    day: date = Field(description="The UTC day.")


class StoreStats(_View):
    """A store's figures per UTC day and for the whole range, from counters kept as carts change."""

    store_hash: str
    from_: Timestamp = Field(
        alias="from", serialization_alias="from", description="The start of the range's first day."
    )
    to: Timestamp = Field(description="The end of the range's last day.")
    total: PeriodStats = Field(description="The whole range.")
    days: list[DayStats] = Field(description="Every day of the range, oldest first.")

    model_config = ConfigDict(frozen=True, populate_by_name=True)


class ShopperErasureRequest(_View):
    email: str = Field(
        min_length=3,
        max_length=254,
        pattern=r"^[^@\s]+@[^@\s]+$",
        description="The shopper's email, case-insensitive.",
    )


class ShopperErasure(_View):
    erased: list[str] = Field(description="The ids of the carts erased (none: no cart of this shopper).")


class ErrorField(_View):
    field: str = Field(description="Where the problem is, e.g. query.limit or path.store_hash.")
    message: str


class ErrorBody(_View):
    error: str
    fields: list[ErrorField] = []


class GatewayMessage(_View):
    """What API Gateway answers by itself, before the function runs (a throttled request)."""

    message: str


# --- builders ------------------------------------------------------------------------------


def at(epoch_seconds: int) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, UTC)


def _at_or_none(epoch_seconds: int | None) -> datetime | None:
    return None if epoch_seconds is None else at(epoch_seconds)


def summary_view(cart: ListedCart) -> CartSummary:
    return CartSummary(**_summary_fields(cart))


def _summary_fields(cart: ListedCart) -> dict[str, object]:
    snapshot = CartSnapshot.model_validate_json(cart.snapshot_json) if cart.snapshot_json else None
    order = OrderSummary.model_validate_json(cart.order_json) if cart.order_json else None
    return {
        "store_hash": cart.store_hash,
        "cart_id": cart.cart_id,
        "status": cart.status.value,
        "stage": cart.stage,
        "stage_reached": cart.stage_reached,
        "suppressed": cart.suppressed_at is not None,
        "suppressed_at": _at_or_none(cart.suppressed_at),
        "created_at": at(cart.created_at),
        "modified_at": at(cart.modified_at),
        "last_activity_at": _at_or_none(cart.last_activity_at),
        "abandoned_at": _at_or_none(cart.abandoned_at),
        "closed_at": _at_or_none(cart.closed_at),
        "channel_id": cart.channel_id
        if cart.channel_id is not None
        else (snapshot.channel_id if snapshot else None),
        "order_id": cart.order_id,
        "currency": cart.currency,
        "total": cart.total,
        "customer": snapshot.customer if snapshot else None,
        "line_items": snapshot.line_items if snapshot else None,
        "coupons": snapshot.coupons if snapshot else None,
        "totals": snapshot.totals if snapshot else None,
        "recovery_link": snapshot.recovery_link if snapshot else None,
        "order": order,
    }


def detail_view(
    cart: ListedCart,
    state: CartState,
    history: Sequence[Transition],
    events: Sequence[PublishedEvent],
) -> CartDetail:
    created = TransitionView(at=at(state.cart_created_at), status="active", stage=0, cause="created")
    return CartDetail(
        **_summary_fields(cart),
        abandoned_token=state.abandoned_token,
        history=[
            created,
            *(
                TransitionView(at=at(t.at), status=t.status.value, stage=t.stage, cause=t.cause)
                for t in history
            ),
        ],
        events=[EventView(id=e.id, type=e.type, time=at(e.at), stage=e.stage) for e in events],
    )


def store_stats(store_hash: str, first: Day, last: Day, counted: Mapping[Day, Figures]) -> StoreStats:
    """A store's figures from ``first`` to ``last`` (UTC days), from its daily counters."""
    days = days_between(first, last)
    return StoreStats(
        store_hash=store_hash,
        from_=datetime.fromisoformat(first).replace(tzinfo=UTC),
        to=datetime.fromisoformat(last).replace(tzinfo=UTC) + timedelta(days=1, seconds=-1),
        total=_period(period_figures(counted.get(day, {}) for day in days)),
        days=[
            DayStats(day=date.fromisoformat(day), **_period_fields(period_figures([counted.get(day, {})])))
            for day in days
        ],
    )


def _period(figures: PeriodFigures) -> PeriodStats:
    return PeriodStats(**_period_fields(figures))


def _period_fields(figures: PeriodFigures) -> dict[str, Any]:
    return {
        "created": figures.created,
        "abandoned": _figure(figures.abandoned),
        "recovered": _figure(figures.recovered),
        "converted": _figure(figures.converted),
        "abandonment_rate": figures.abandonment_rate,
        "recovery_rate": figures.recovery_rate,
    }


def _figure(total: FigureTotal) -> StatsFigure:
    return StatsFigure(
        count=total.count,
        value=[Amount(currency=c, amount=a) for c, a in total.values],
        without_value=total.without_value,
    )
