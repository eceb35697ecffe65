"""AbandonmentSweep: move carts whose next stage is due, reading only due carts.

A sweep queries every shard of the due index for entries due now and decides each
transition from the index entry alone; the plan's guard re-checks it against the stored
cart (index reads are eventually consistent, and the entry's due time is only a lower
bound).  When the guard fails, the store hands back the stored cart and the sweep decides
again from the truth: usually "not yet, come back at …".

Two sweeps racing over the same cart both try the same guarded write; one wins, so each
stage produces one event.  A sweep stops before its time runs out and leaves the rest to
the next run.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from cartwatch.adapters.store_registry import StoreDirectory
from cartwatch.domain.cart_record import CartRecord, DueEntry
from cartwatch.domain.cart_store import CartStore
from cartwatch.domain.history import sweep_transition
from cartwatch.domain.lifecycle import CartState, SweepAction, SweepDecision, last_activity_bound, sweep
from cartwatch.domain.stages import StageSchedule
from cartwatch.domain.write_plan import Conflict, abandonment_event
from cartwatch.domain.write_planner import WritePlanner

logger = logging.getLogger(__name__)


@dataclass
class SweepReport:
    due_seen: int = 0
    abandoned: Counter[int] = field(default_factory=Counter)  # by stage
    expired: int = 0
    rescheduled: int = 0
    conflicts: int = 0
    stopped_early: bool = False
    lag_seconds: int = 0  # how late the most overdue entry was found

    @property
    def abandoned_total(self) -> int:
        return sum(self.abandoned.values())


class AbandonmentSweep:
    def __init__(
        self,
        carts: CartStore,
        planner: WritePlanner,
        stores: StoreDirectory,
        *,
        remaining_ms: Callable[[], int] | None = None,
        reserve_ms: int = 10_000,
        page_size: int = 200,
        on_transition: Callable[[SweepDecision], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._carts = carts
        self._planner = planner
        self._stores = stores
        self._remaining_ms = remaining_ms
        self._reserve_ms = reserve_ms
        self._page_size = page_size
        self._on_transition = on_transition
        self._clock = clock

    def run(self, now: int) -> SweepReport:
        report = SweepReport()
        for shard in self._planner.shards():
            for page in self._carts.due_entries(shard, now, self._page_size):
                for entry in page:
                    if not entry.status.is_open:
                        # A bought cart's entry holds its unpublished event for the rescue
                        # run (``rescue_entry``): nothing to sweep, and no lag of ours.
                        continue
                    if self._out_of_time():
                        report.stopped_early = True
                        return report
                    report.due_seen += 1
                    report.lag_seconds = max(report.lag_seconds, now - entry.due.at)
                    self._sweep_entry(entry, now, report)
        return report

    def _out_of_time(self) -> bool:
        return self._remaining_ms is not None and self._remaining_ms() < self._reserve_ms

    def _sweep_entry(self, entry: DueEntry, now: int, report: SweepReport) -> None:
        stages = self._stores.stages_for(entry.store_hash)
        decision = sweep(_estimated_state(entry, stages), now, stages)
        current: CartRecord | None = None
        if decision.action in (SweepAction.ABANDON, SweepAction.EXPIRE):
            plan = self._planner.sweep_from_index(
                entry, decision, stages, now=now, recorded_at=int(self._clock())
            )
            written = self._carts.apply(plan)
            if not isinstance(written, Conflict):
                self._done(decision, report)
                return
            report.conflicts += 1
            current = written.current
        # The index view was stale or incomplete: decide again from the stored cart.
        if current is None:
            loaded = self._carts.load(entry.store_hash, entry.cart_id)
            current = loaded if isinstance(loaded, CartRecord) else None
        if current is not None:
            self._sweep_stored(current, now, stages, report)

    def _sweep_stored(self, stored: CartRecord, now: int, stages: StageSchedule, report: SweepReport) -> None:
        decision = sweep(stored.state, now, stages)
        recorded_at = int(self._clock())
        held = stored.unpublished is not None and stored.unpublished.held_by_due_entry
        if decision.action is SweepAction.DROP and held:
            return  # a bought cart: its entry points the rescue run at its unpublished event
        if decision.action in (SweepAction.RESCHEDULE, SweepAction.DROP):
            # Not due yet (or no longer open): the entry moves to the true due time, or leaves.
            plan = self._planner.revision(
                stored, stored.state, stages, recorded_at=recorded_at, exact_due=True
            )
            if not isinstance(self._carts.apply(plan), Conflict):
                report.rescheduled += 1
            return
        plan = self._planner.revision(
            stored,
            decision.after,
            stages,
            recorded_at=recorded_at,
            event=abandonment_event(decision, stages, now),
            entry=sweep_transition(decision, now, idle_known=True),
            exact_due=True,
        )
        if isinstance(self._carts.apply(plan), Conflict):
            # Changed again since we looked (a webhook, or another sweep won): it stays
            # in the index and the next sweep decides afresh.
            report.conflicts += 1
            return
        self._done(decision, report)

    def _done(self, decision: SweepDecision, report: SweepReport) -> None:
        if decision.action is SweepAction.ABANDON:
            report.abandoned[decision.stage] += 1
        elif decision.action is SweepAction.EXPIRE:
            report.expired += 1
        if self._on_transition:
            self._on_transition(decision)


def _estimated_state(entry: DueEntry, stages: StageSchedule) -> CartState:
    """The cart as its index entry shows it; its last activity is bounded by the entry's due time."""
    last_activity = last_activity_bound(entry.due.at, entry.stage, stages)
    return CartState(
        store_hash=entry.store_hash,
        cart_id=entry.cart_id,
        status=entry.status,
        cart_created_at=last_activity,
        last_activity_at=last_activity,
        stage=entry.stage,
        last_abandoned_stage=entry.stage,
        abandoned_at=entry.abandoned_at,
    )
