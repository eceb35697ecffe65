"""A store's daily figures: what each cart counts for, and what a write changes of them.

Per store and UTC day, from the carts as cartwatch stores them:

* ``created`` — a cart with shopper activity, on the day it was created.  BigCommerce keeps
  no empty carts (removing the last item deletes the cart), so every such cart had an item;
  a cart known only from a deletion or an abandoned hint is not counted.
* ``abandoned`` — a cart that reached stage 1, on the day its latest abandonment started,
  valued at its cart total as the publisher captured it at stage 1.
* ``recovered`` — an abandoned cart bought, on the day of the purchase, valued at its order
  total (the recovered revenue).
* ``converted`` — a cart bought without ever being abandoned, likewise.

Each valued figure is summed per currency — amounts in different currencies never add up —
and ``<figure>_unvalued`` counts the carts whose value cartwatch does not know (not captured
yet, or BigCommerce did not say).  A recovery link's copy counts for nothing: buying it
recovers the original cart, which is counted.

A cart's *contribution* is a function of the cart as stored, and a write changes the
figures by ``contribution(after) - contribution(before)``.  Summed over a cart's writes
that telescopes to the contribution of the cart as last written, so the counters of a
store-day always equal a count over the stored carts: a cart abandoned again on a later day
moves from the first day to the second, a reordered ``created`` webhook moves the cart to
its true creation day.  An erasure (a tombstone) or a deletion from the table changes
nothing: the figures are anonymous counts and outlive the carts.

Pure: no I/O, no clock, no pydantic (the tally function's cold start stays small).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Protocol

from cartwatch.domain.cart_record import CartRecord, Tombstone
from cartwatch.domain.lifecycle import CartStatus

CREATED = "created"
ABANDONED = "abandoned"
RECOVERED = "recovered"
CONVERTED = "converted"
VALUED = (ABANDONED, RECOVERED, CONVERTED)
COUNTS = (CREATED, *VALUED)

# ISO 4217 codes, as BigCommerce reports them; anything else is counted without its value.
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_VALUE_NAME = re.compile(r"^(abandoned|recovered|converted)_value_([A-Z]{3})$")

# The figures of one store on one day, or a change of them: measure name -> amount.
# Counts are whole numbers; values are exact decimals.  Names are ``created``, ``abandoned``,
# ``abandoned_unvalued``, ``abandoned_value_USD``, … (see :func:`unvalued`, :func:`value_name`).
Figures = dict[str, Decimal]
Day = str  # ISO date, UTC: "2026-11-05"

_ONE = Decimal(1)
# How long a day's figures are kept: thirteen months, so a month can be compared with the same
# month a year before.
RETENTION_DAYS = 400


def unvalued(figure: str) -> str:
    return f"{figure}_unvalued"


def value_name(figure: str, currency: str) -> str:
    return f"{figure}_value_{currency}"


def day_of(epoch_seconds: int) -> Day:
    return datetime.fromtimestamp(epoch_seconds, UTC).date().isoformat()


def days_between(first: Day, last: Day) -> list[Day]:
    """Every day from ``first`` to ``last``, both included (none when ``last`` is earlier)."""
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


# --- what a cart counts for ---------------------------------------------------------------------


def contribution(record: CartRecord) -> dict[Day, Figures]:
    """What a cart as stored counts for, per day."""
    if record.recovery_of is not None:
        return {}
    state = record.state
    found: dict[Day, Figures] = {}

    def count(at: int, figure: str, worth: tuple[str, Decimal] | None = None) -> None:
        figures = found.setdefault(day_of(at), {})
        _add(figures, figure, _ONE)
        if figure in VALUED:
            if worth is None:
                _add(figures, unvalued(figure), _ONE)
            else:
                _add(figures, value_name(figure, worth[0]), worth[1])

    if state.activity_seen:
        count(state.cart_created_at, CREATED)
    if state.ever_abandoned and state.abandoned_at is not None:
        count(state.abandoned_at, ABANDONED, _snapshot_value(record.snapshot))
    if state.closed_at is not None and state.status in (CartStatus.RECOVERED, CartStatus.CONVERTED):
        figure = RECOVERED if state.status is CartStatus.RECOVERED else CONVERTED
        count(state.closed_at, figure, _order_value(record.order))
    return found


def change(before: CartRecord | Tombstone | None, after: CartRecord | Tombstone | None) -> dict[Day, Figures]:
    """What one write of a cart changes of its store's figures, per day (no zero entries).

    Only a write that leaves a cart counts: an erasure leaves a tombstone and a purge or the
    table's TTL leaves nothing, and the figures keep what the cart counted for.
    """
    if not isinstance(after, CartRecord):
        return {}
    changed = contribution(after)
    if isinstance(before, CartRecord):
        for day, figures in contribution(before).items():
            into = changed.setdefault(day, {})
            for name, amount in figures.items():
                _add(into, name, -amount)
    nonzero = {day: _nonzero(figures) for day, figures in changed.items()}
    return {day: figures for day, figures in nonzero.items() if figures}


def add_figures(into: Figures, more: Mapping[str, Decimal]) -> Figures:
    """``into`` plus ``more``, in place (zeros dropped)."""
    for name, amount in more.items():
        _add(into, name, amount)
    return _drop_zeros(into)


def _add(figures: Figures, name: str, amount: Decimal) -> None:
    figures[name] = figures.get(name, Decimal(0)) + amount


def _nonzero(figures: Figures) -> Figures:
    return {name: amount for name, amount in figures.items() if amount != 0}


def _drop_zeros(figures: Figures) -> Figures:
    for name in [name for name, amount in figures.items() if amount == 0]:
        del figures[name]
    return figures


@lru_cache(maxsize=8)
def _snapshot_value(snapshot: str | None) -> tuple[str, Decimal] | None:
    # Cached: a snapshot (up to 248 KiB) is the same on both sides of most writes.
    if not snapshot:
        return None
    try:
        raw = json.loads(snapshot)
        return _worth(raw.get("currency"), raw.get("totals", {}).get("cart_amount"))
    except (ValueError, AttributeError):
        return None


def _order_value(order: str | None) -> tuple[str, Decimal] | None:
    if not order:
        return None
    try:
        raw = json.loads(order)
        return _worth(raw.get("currency"), raw.get("total"))
    except (ValueError, AttributeError):
        return None


def _worth(currency: object, amount: object) -> tuple[str, Decimal] | None:
    if not isinstance(currency, str) or not _CURRENCY.match(currency) or amount is None:
        return None
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return None
    return (currency, value) if value.is_finite() else None


# --- what a period adds up to --------------------------------------------------------------------


@dataclass(frozen=True)
class FigureTotal:
    """A valued figure over a period: how many carts, their value per currency, and how many
    of them had no known value."""

    count: int
    values: tuple[tuple[str, Decimal], ...]  # (currency, amount), by currency
    without_value: int


@dataclass(frozen=True)
class PeriodFigures:
    created: int
    abandoned: FigureTotal
    recovered: FigureTotal
    converted: FigureTotal

    @property
    def abandonment_rate(self) -> float | None:
        """Carts abandoned in the period per cart created in it (None: none created)."""
        return _ratio(self.abandoned.count, self.created)

    @property
    def recovery_rate(self) -> float | None:
        """Carts recovered in the period per cart abandoned in it (None: none abandoned)."""
        return _ratio(self.recovered.count, self.abandoned.count)


def period_figures(days: Iterable[Mapping[str, Decimal]]) -> PeriodFigures:
    """The figures of several days (or of one) added up."""
    total: Figures = {}
    for figures in days:
        add_figures(total, figures)

    def valued(figure: str) -> FigureTotal:
        values = sorted(
            (match.group(2), amount)
            for name, amount in total.items()
            if (match := _VALUE_NAME.match(name)) and match.group(1) == figure
        )
        return FigureTotal(
            count=_whole(total.get(figure)),
            values=tuple(values),
            without_value=_whole(total.get(unvalued(figure))),
        )

    return PeriodFigures(
        created=_whole(total.get(CREATED)),
        abandoned=valued(ABANDONED),
        recovered=valued(RECOVERED),
        converted=valued(CONVERTED),
    )


def _whole(amount: Decimal | None) -> int:
    return int(amount) if amount is not None else 0


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole > 0 else None


def is_measure(name: str) -> bool:
    """Whether ``name`` is one of the figures' measures (the counters store nothing else)."""
    return (
        name in COUNTS or any(name == unvalued(figure) for figure in VALUED) or bool(_VALUE_NAME.match(name))
    )


# --- the port ---------------------------------------------------------------------------------------


class DailyCounters(Protocol):
    """Each store's figures, one counter set per UTC day (``adapters/daily_counters.py``)."""

    def add(self, store_hash: str, day: Day, figures: Figures, *, marker: str) -> bool:
        """Add ``figures`` to the store's day, once per ``marker``.

        False when the day's latest addition already was this marker's: a retried addition
        (the same window of writes, tallied again) is not added twice.
        """
        ...

    def read(self, store_hash: str, first: Day, last: Day) -> dict[Day, Figures]:
        """The store's figures from ``first`` to ``last``; days without any are left out."""
        ...
