"""AbandonmentSweep: move carts whose next stage is due, reading only due carts.

A sweep queries every shard of the due index for entries due now and decides each
transition from the index entry alone; the conditional write re-checks it against the
base item (index reads are eventually consistent, and the entry's due time is only a
lower bound).  When the condition fails, DynamoDB hands back the stored item and the
sweep decides again from the truth: usually "not yet, come back at …".

Two sweeps racing over the same cart both try the same conditional write; one wins, so
each stage produces one event.  A sweep stops before its time runs out and leaves the
rest to the next run.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from cartwatch.adapters.cart_items import Item, StoredCart
from cartwatch.adapters.cart_repository import CartRepository, Conflict, DueEntry, Erased, PendingEvent
from cartwatch.adapters.store_registry import StoreDirectory
from cartwatch.domain.cart_events import EVENT_ABANDONED
from cartwatch.domain.history import sweep_transition
from cartwatch.domain.lifecycle import CartState, SweepAction, SweepDecision, next_due_at, sweep
from cartwatch.domain.stages import CART_LIFETIME_SECONDS, StageSchedule

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
        repository: CartRepository,
        stores: StoreDirectory,
        *,
        remaining_ms: Callable[[], int] | None = None,
        reserve_ms: int = 10_000,
        page_size: int = 200,
        on_transition: Callable[[SweepDecision], None] | None = None,
    ) -> None:
        self._repository = repository
        self._stores = stores
        self._remaining_ms = remaining_ms
        self._reserve_ms = reserve_ms
        self._page_size = page_size
        self._on_transition = on_transition

    def run(self, now: int) -> SweepReport:
        report = SweepReport()
        for shard in self._repository.shards():
            for page in self._repository.due_entries(shard, now, self._page_size):
                for entry in page:
                    if self._out_of_time():
                        report.stopped_early = True
                        return report
                    report.due_seen += 1
                    report.lag_seconds = max(report.lag_seconds, now - entry.due_at)
                    self._sweep_entry(entry, now, report)
        return report

    def _out_of_time(self) -> bool:
        return self._remaining_ms is not None and self._remaining_ms() < self._reserve_ms

    def _sweep_entry(self, entry: DueEntry, now: int, report: SweepReport) -> None:
        stages = self._stores.stages_for(entry.store_hash)
        estimate = _estimated_state(entry, stages)
        decision = sweep(estimate, now, stages)
        if decision.action in (SweepAction.ABANDON, SweepAction.EXPIRE):
            cutoff = now - (
                stages.delay(decision.stage)
                if decision.action is SweepAction.ABANDON
                else CART_LIFETIME_SECONDS
            )
            result = self._repository.transition_from_index(
                entry,
                decision.after,
                cutoff=cutoff,
                due_at=next_due_at(decision.after, stages),
                pending=_pending(decision, stages, now),
                transition=sweep_transition(decision, now, idle_known=False),
            )
            if not isinstance(result, Conflict):
                self._done(decision, report)
                return
            report.conflicts += 1
            current = result.current
        else:
            current = None
        # The index view was stale or incomplete: decide again from the stored item.
        if current is None:
            loaded = self._repository.load(entry.store_hash, entry.cart_id)
            current = None if isinstance(loaded, Erased) else loaded
        if current is not None:
            self._sweep_stored(current, now, stages, report)

    def _sweep_stored(
        self, current: tuple[StoredCart, Item], now: int, stages: StageSchedule, report: SweepReport
    ) -> None:
        stored = current[0]
        decision = sweep(stored.state, now, stages)
        if decision.action is SweepAction.RESCHEDULE or decision.action is SweepAction.DROP:
            result = self._repository.reschedule(stored, next_due_at(stored.state, stages))
            if not isinstance(result, Conflict):
                report.rescheduled += 1
            return
        result = self._repository.save(
            current,
            decision.after,
            stages,
            pending=_pending(decision, stages, now),
            exact_due=True,
            transition=sweep_transition(decision, now, idle_known=True),
        )
        if isinstance(result, Conflict):
            # Changed again since we looked (a webhook, or another sweep won): it stays
            # in the index and the next sweep decides afresh.
            report.conflicts += 1
            return
        self._done(decision, report)

    def _done(self, decision: SweepDecision, report: SweepReport) -> None:
        _count(decision, report)
        if self._on_transition:
            self._on_transition(decision)


def _estimated_state(entry: DueEntry, stages: StageSchedule) -> CartState:
    # The index does not project ``last_activity_at`` (it changes with every webhook);
    # the entry's due time was computed from it, so invert that.  Being a lower bound,
    # the estimate can only make a cart look idler than it is — which the conditional
    # write then refuses.
    delay = stages.delay(entry.stage + 1) if entry.stage < stages.count else CART_LIFETIME_SECONDS
    last_activity = entry.due_at - delay
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


def _pending(decision: SweepDecision, stages: StageSchedule, now: int) -> PendingEvent | None:
    if decision.action is not SweepAction.ABANDON:
        return None
    return PendingEvent(type=EVENT_ABANDONED, at=now, stage=decision.stage, stage_count=stages.count)


def _count(decision: SweepDecision, report: SweepReport) -> None:
    if decision.action is SweepAction.ABANDON:
        report.abandoned[decision.stage] += 1
    elif decision.action is SweepAction.EXPIRE:
        report.expired += 1
