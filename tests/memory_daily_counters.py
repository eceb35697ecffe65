"""In-memory daily counters with the DynamoDB adapter's meaning, for the unit tier.

An addition is applied once per marker (the day keeps its latest addition's marker, as the
item does); ``refuse`` makes the next additions to some store-days fail, as a throttled
``UpdateItem`` would.  ``tests/daily_counters_contract.py`` holds both to the same behaviour.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from cartwatch.domain.daily_figures import Day, Figures, add_figures, is_measure


class CounterRefused(RuntimeError):
    """A refused addition (DynamoDB throttling, say)."""


class MemoryDailyCounters:
    def __init__(self) -> None:
        self.days: dict[tuple[str, Day], Figures] = {}
        self.markers: dict[tuple[str, Day], str] = {}
        self.refuse: set[tuple[str, Day]] = set()  # the next addition to each of these fails
        self.writes = 0  # additions that reached a counter (a refused one did not)

    def add(self, store_hash: str, day: Day, figures: Mapping[str, Decimal], *, marker: str) -> bool:
        key = (store_hash, day)
        unknown = [name for name in figures if not is_measure(name)]
        if unknown:
            raise ValueError(f"not a figure: {', '.join(unknown)}")
        if key in self.refuse:
            self.refuse.discard(key)
            raise CounterRefused(f"{store_hash} {day}")
        if not any(figures.values()):
            return True
        if self.markers.get(key) == marker:
            return False
        add_figures(self.days.setdefault(key, {}), figures)
        self.markers[key] = marker
        self.writes += 1
        return True

    def read(self, store_hash: str, first: Day, last: Day) -> dict[Day, Figures]:
        return {
            day: dict(figures)
            for (store, day), figures in self.days.items()
            if store == store_hash and first <= day <= last
        }
