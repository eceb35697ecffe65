"""A store's figures over a time range, tallied from its listed carts.

Plain values, no pydantic: the query API turns them into its ``StoreStats`` view
(``domain/cart_views.py``) and the merchant page shows them as they are.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from cartwatch.domain.lifecycle import CartStatus
from cartwatch.domain.listing import ListedCart

# What a cart is worth when it is counted as abandoned: (currency, amount), either unknown.
AbandonedValue = Callable[[ListedCart], tuple[str | None, Decimal | None]]


@dataclass
class Tally:
    count: int = 0
    without_value: int = 0  # counted, but of a value cartwatch does not know
    sums: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))

    def add(self, currency: str | None, amount: Decimal | None) -> None:
        self.count += 1
        if currency is None or amount is None:
            self.without_value += 1
        else:
            self.sums[currency] += amount

    def per_currency(self) -> list[tuple[str, Decimal]]:
        return sorted(self.sums.items())


@dataclass(frozen=True)
class StoreFigures:
    abandoned: Tally  # carts whose latest abandonment started in the range
    recovered: Tally  # abandoned carts bought in the range
    converted: Tally  # carts bought in the range without being abandoned
    recovery_rate: float | None  # of the carts abandoned in the range, the share recovered since


def listed_value(cart: ListedCart) -> tuple[str | None, Decimal | None]:
    """The value the listing itself carries (a bought cart's order total, else its cart total)."""
    return cart.currency, cart.total


def tally_store(
    start: int, end: int, carts: Iterable[ListedCart], abandoned_value: AbandonedValue = listed_value
) -> StoreFigures:
    abandoned, recovered, converted = Tally(), Tally(), Tally()
    cohort_recovered = 0
    for cart in carts:
        if cart.abandoned_at is not None and start <= cart.abandoned_at <= end:
            abandoned.add(*abandoned_value(cart))
            cohort_recovered += cart.status is CartStatus.RECOVERED
        if cart.closed_at is not None and start <= cart.closed_at <= end:
            if cart.status is CartStatus.RECOVERED:
                recovered.add(cart.currency, cart.total)
            elif cart.status is CartStatus.CONVERTED:
                converted.add(cart.currency, cart.total)
    rate = cohort_recovered / abandoned.count if abandoned.count else None
    return StoreFigures(abandoned, recovered, converted, rate)
