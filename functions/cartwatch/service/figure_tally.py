"""The figure tally: the table's writes of carts → each store's daily figures, a window at a time.

The table's stream shows every write of a cart with the cart before and after it
(``NEW_AND_OLD_IMAGES``).  The tally folds what each write changes of its store's figures
(``domain/daily_figures.change``) into a window's pending figures — Lambda's tumbling window
carries them from one invocation to the next as the mapping's *state* — and, when the window
closes, adds them to the counters: one write per store and day touched in the window, not one
per webhook.  A window's additions are marked with where they begin in the stream (its shard
and first sequence number), so when Lambda retries a window's last invocation the counters it
already reached are not counted twice.

Nothing here is on the webhook path: the processor, the sweeper and the publisher write carts
exactly as before, and the tally reads what they wrote.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from cartwatch.domain.cart_record import CartRecord, Tombstone
from cartwatch.domain.daily_figures import DailyCounters, Day, Figures, add_figures, change

logger = logging.getLogger(__name__)

# A window's pending figures travel between invocations as Lambda's state, which may not
# exceed 1 MB per shard (Lambda ends the window early beyond it).  Past this size the tally
# adds what it holds at once and starts afresh: more writes, never a window cut short.
MAX_PENDING_BYTES = 256 * 1024

Change = tuple[CartRecord | Tombstone | None, CartRecord | Tombstone | None]


@dataclass
class Pending:
    """A window's figures not yet added: per store and day, and where in the stream they start."""

    first_sequence: str | None = None
    figures: dict[tuple[str, Day], Figures] = field(default_factory=dict)

    def to_state(self) -> dict[str, object]:
        """Lambda's window state: plain JSON, money as exact decimal strings."""
        if self.first_sequence is None:
            return {}
        return {
            "first": self.first_sequence,
            "figures": {
                f"{store}/{day}": {name: str(amount) for name, amount in figures.items()}
                for (store, day), figures in self.figures.items()
            },
        }

    @classmethod
    def from_state(cls, state: object) -> Pending:
        if not isinstance(state, dict) or not state.get("first"):
            return cls()
        figures: dict[tuple[str, Day], Figures] = {}
        for key, measures in state.get("figures", {}).items():
            store, _, day = str(key).rpartition("/")
            figures[(store, day)] = {name: Decimal(amount) for name, amount in measures.items()}
        return cls(str(state["first"]), figures)

    def size(self) -> int:
        return len(json.dumps(self.to_state(), separators=(",", ":")))


@dataclass
class TallyReport:
    writes_folded: int = 0
    unreadable: int = 0
    days_added: int = 0
    days_already_added: int = 0


class FigureTally:
    def __init__(self, counters: DailyCounters, *, max_pending_bytes: int = MAX_PENDING_BYTES) -> None:
        self._counters = counters
        self._max_pending_bytes = max_pending_bytes

    def fold(
        self,
        pending: Pending,
        writes: Iterable[tuple[str, Change | None]],
        *,
        shard: str,
        report: TallyReport,
    ) -> Pending:
        """``writes`` — (stream sequence number, the cart before and after; None: unreadable) —
        folded into the pending figures; added at once if they grew too large."""
        for sequence, written in writes:
            if written is None:
                report.unreadable += 1
                continue
            report.writes_folded += 1
            if pending.first_sequence is None:
                pending.first_sequence = sequence
            before, after = written
            if not isinstance(after, CartRecord):
                continue  # an erasure or a removal: the figures keep what the cart counted for
            for day, figures in change(before, after).items():
                add_figures(pending.figures.setdefault((after.state.store_hash, day), {}), figures)
        if pending.size() > self._max_pending_bytes:
            self.add(pending, shard=shard, report=report)
            return Pending()
        return pending

    def add(self, pending: Pending, *, shard: str, report: TallyReport) -> None:
        """Add a window's figures to the counters, each store-day once.

        Every store-day is tried even when one fails; then the failure is raised, so Lambda
        retries the window's last invocation — the days already added are skipped by their
        marker.
        """
        if pending.first_sequence is None:
            return
        marker = f"{shard}/{pending.first_sequence}"
        failure: Exception | None = None
        for (store, day), figures in sorted(pending.figures.items()):
            if not figures:
                continue
            try:
                added = self._counters.add(store, day, figures, marker=marker)
            except Exception as error:  # noqa: BLE001 — the others still get their figures; raised below
                logger.warning("figures not added", extra={"store_hash": store, "day": day})
                failure = failure or error
                continue
            if added:
                report.days_added += 1
            else:
                report.days_already_added += 1
        if failure is not None:
            raise failure
