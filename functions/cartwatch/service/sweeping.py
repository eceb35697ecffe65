"""AbandonmentSweep: move carts whose next stage is due, reading only due carts.

A sweep queries every shard of the due index for entries due now and decides each
transition from the index entry alone; the plan's guard re-checks it against the stored
cart (index reads are eventually consistent, and the entry's due time is only a lower
bound).  When the guard fails, the store hands back the stored cart and the sweep decides
again from the truth: usually "not yet, come back at …".

Two sweeps racing over the same cart both try the same guarded write; one wins, so each
stage produces one event.  A sweep stops before its time runs out and leaves the rest to
the next run.

Fair to every shard (docs/architecture.md, decision 54): the sweep reads the first page of
every shard before it decides anything — the head of each page is that shard's oldest due
entry, so every shard's lag is measured, reached or not, at no extra read — and then takes
the shards' entries in turns, one entry of each shard a turn, the most overdue head first.
A sweep that runs out of time has advanced every shard that had anything due (as long as
it had time for one entry per shard), and a shard it could not advance shows in the lag.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
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
class ShardProgress:
    """One due-index shard in one sweep: how overdue its oldest due entry was, how far it got."""

    oldest_due_at: int | None = None  # the shard's oldest due entry as the sweep began; None: nothing due
    swept: int = 0  # entries of the shard the sweep decided

    def lag_seconds(self, now: int) -> int:
        return 0 if self.oldest_due_at is None else max(0, now - self.oldest_due_at)


@dataclass
class SweepReport:
    now: int = 0
    due_seen: int = 0
    abandoned: Counter[int] = field(default_factory=Counter)  # by stage
    expired: int = 0
    rescheduled: int = 0
    conflicts: int = 0
    stopped_early: bool = False
    shards: dict[str, ShardProgress] = field(default_factory=dict)  # every shard of the due index

    @property
    def abandoned_total(self) -> int:
        return sum(self.abandoned.values())

    @property
    def lag_seconds(self) -> int:
        """How long the most overdue entry of any shard had been waiting when the sweep began."""
        return max((shard.lag_seconds(self.now) for shard in self.shards.values()), default=0)

    @property
    def starved(self) -> list[str]:
        """Shards with entries due that this sweep could not advance at all."""
        return [
            name for name, shard in self.shards.items() if shard.oldest_due_at is not None and not shard.swept
        ]


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
        report = SweepReport(now=now)
        queues = [
            _ShardQueue(shard, self._carts.due_entries(shard, now, self._page_size))
            for shard in self._planner.shards()
        ]
        # Every shard's first page before any decision: its head is the shard's oldest due
        # entry, so the lag of every shard is known even if time runs out at the first one.
        for queue in queues:
            head = queue.head()
            report.shards[queue.shard] = ShardProgress(oldest_due_at=None if head is None else head.due.at)
        while turn := sorted(
            ((head, queue) for queue in queues if (head := queue.head()) is not None),
            key=lambda pair: (pair[0].due.at, pair[1].shard),
        ):
            # One entry of every shard that has any left, the most overdue first.
            for entry, queue in turn:
                if self._out_of_time():
                    report.stopped_early = True
                    return report
                queue.pop()
                report.due_seen += 1
                report.shards[queue.shard].swept += 1
                self._sweep_entry(entry, now, report)
        return report

    def _out_of_time(self) -> bool:
        return self._remaining_ms is not None and self._remaining_ms() < self._reserve_ms

    def _sweep_entry(self, entry: DueEntry, now: int, report: SweepReport) -> None:
        # The entry's channel picks the stages; the write's guard re-checks the channel too, so
        # a stale entry never decides with another channel's stages.
        stages = self._stores.stages_for(entry.store_hash, entry.channel_id)
        decision = sweep(_estimated_state(entry, stages), now, stages)
        current: CartRecord | None = None
        if decision.action in (SweepAction.ABANDON, SweepAction.EXPIRE):
            plan = self._planner.sweep_from_index(
                entry,
                decision,
                stages,
                now=now,
                recorded_at=int(self._clock()),
                list_active=self._stores.lists_active(entry.store_hash),
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
            self._sweep_stored(current, now, report)

    def _sweep_stored(self, stored: CartRecord, now: int, report: SweepReport) -> None:
        stages = self._stores.stages_for(stored.state.store_hash, stored.state.channel_id)
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
            list_active=self._stores.lists_active(stored.state.store_hash),
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
        channel_id=entry.channel_id,
    )


class _ShardQueue:
    """One shard's due entries, oldest first, its pages read only as the sweep reaches them."""

    def __init__(self, shard: str, pages: Iterator[list[DueEntry]]) -> None:
        self.shard = shard
        self._pages = pages
        self._entries: deque[DueEntry] = deque()
        self._exhausted = False

    def head(self) -> DueEntry | None:
        while not self._entries and not self._exhausted:
            page = next(self._pages, None)
            if page is None:
                self._exhausted = True
            else:
                # A bought cart's entry holds its unpublished event for the rescue run
                # (``rescue_entry``): nothing to sweep, and no lag of ours.
                self._entries.extend(entry for entry in page if entry.status.is_open)
        return self._entries[0] if self._entries else None

    def pop(self) -> None:
        self._entries.popleft()
