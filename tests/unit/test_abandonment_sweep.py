"""AbandonmentSweep against the in-memory cart store: stages, overlapping sweeps, stale index entries."""

from __future__ import annotations

from typing import Any

from tests.memory_cart_store import MemoryCartStore
from tests.unit.pipeline_fakes import DAY, HOUR, PLANNER, STAGES, STORE, T0, Stores, webhook

from cartwatch.domain.cart_record import CartRecord
from cartwatch.domain.cart_webhooks import WebhookKind
from cartwatch.domain.event_types import ABANDONED
from cartwatch.domain.lifecycle import CartStatus, suppress
from cartwatch.domain.stages import CART_LIFETIME_SECONDS
from cartwatch.domain.write_plan import Conflict, Revision, WritePlan
from cartwatch.service.processing import CartProcessor
from cartwatch.service.sweeping import AbandonmentSweep

K = WebhookKind


def seeded(*cart_ids: str, at: int = T0) -> MemoryCartStore:
    store = MemoryCartStore()
    receive(store, *(webhook(cart_id, K.CREATED, at) for cart_id in cart_ids))
    return store


def receive(store: Any, *hooks: Any) -> None:
    CartProcessor(store, PLANNER, Stores(), check_uninstall=lambda _: None, clock=lambda: T0).apply(
        list(hooks)
    )


def sweeper(store: Any, **options: Any) -> AbandonmentSweep:
    return AbandonmentSweep(store, PLANNER, Stores(), clock=lambda: T0, **options)


def events(store: MemoryCartStore) -> list[tuple[str, int]]:
    """Every abandonment event committed to the outbox: (cart, stage)."""
    found = []
    for plan in store.applied:
        event = plan.record.outbox if isinstance(plan, Revision) else plan.outbox
        if event is not None and event.type == ABANDONED:
            found.append((plan.ref[1], event.stage))
    return sorted(found)


def cart(store: MemoryCartStore, cart_id: str) -> CartRecord:
    record = store.load(STORE, cart_id)
    assert isinstance(record, CartRecord)
    return record


def test_an_idle_cart_gets_each_stage_once_from_the_index_alone() -> None:
    store = seeded("c1")
    assert sweeper(store).run(T0 + HOUR - 1).abandoned_total == 0
    for now in (T0 + HOUR, T0 + HOUR + 60, T0 + DAY, T0 + 2 * DAY, T0 + 3 * DAY):
        sweeper(store).run(now)
    assert events(store) == [("c1", 1), ("c1", 2), ("c1", 3)]
    state = cart(store, "c1").state
    assert (state.status, state.stage, state.abandoned_at) == (CartStatus.ABANDONED, 3, T0 + HOUR)
    assert store.conflicts == []  # each stage decided from the index entry, re-checked by the write


def test_overlapping_sweeps_announce_each_stage_once() -> None:
    store = seeded(*(f"c{n}" for n in range(5)))
    seen = store.index_entries()
    # Both sweeps read the index before either writes; the second runs inside the first one's
    # first write, so every one of its writes races the first sweep's.
    store.serve_index(seen)
    original_apply = store.apply
    other: list[Any] = []

    def apply_after_the_other_sweep(plan: WritePlan) -> CartRecord | Conflict:
        if not other:
            other.append(None)
            other[0] = sweeper(store).run(T0 + HOUR)
        return original_apply(plan)

    store.apply = apply_after_the_other_sweep  # type: ignore[method-assign]
    first = sweeper(store).run(T0 + HOUR)
    assert other[0].abandoned_total == 5 and first.abandoned_total == 0
    assert first.conflicts == 5
    assert events(store) == [(f"c{n}", 1) for n in range(5)]


def test_activity_after_the_index_was_read_gets_no_event_and_moves_the_entry() -> None:
    store = seeded("c1")
    store.serve_index(store.index_entries())  # the entry still says: due at T0 + 1h
    receive(store, webhook("c1", K.UPDATED, T0 + 1800))
    report = sweeper(store).run(T0 + HOUR)
    assert (report.abandoned_total, report.conflicts, report.rescheduled) == (0, 1, 1)
    assert events(store) == []
    store.serve_index(None)
    assert cart(store, "c1").due is not None and cart(store, "c1").due.at == T0 + 1800 + HOUR  # type: ignore[union-attr]
    assert sweeper(store).run(T0 + 1800 + HOUR).abandoned_total == 1


def test_a_stage_decided_from_the_stored_cart_moves_the_entry_to_the_next_stage_exactly() -> None:
    store = seeded("c1")
    lagging = store.index_entries()  # the index still shows stage 0 after the first sweep
    sweeper(store).run(T0 + HOUR)
    store.serve_index(lagging)
    report = sweeper(store).run(T0 + DAY)
    assert (report.conflicts, dict(report.abandoned)) == (1, {2: 1})
    assert events(store) == [("c1", 1), ("c1", 2)]
    store.serve_index(None)
    assert cart(store, "c1").due is not None and cart(store, "c1").due.at == T0 + 2 * DAY  # type: ignore[union-attr]
    # Not a lower bound left behind: no sweep before stage 3 is due touches the cart again.
    assert sweeper(store).run(T0 + 2 * DAY - 1).due_seen == 0


def test_a_stale_entry_of_a_closed_or_suppressed_cart_announces_nothing_and_is_not_swept_again() -> None:
    store = seeded("bought", "muted")
    store.serve_index(store.index_entries())
    receive(store, webhook("bought", K.CONVERTED, T0 + 60, order_id=3))
    muted = cart(store, "muted")
    store.apply(PLANNER.revision(muted, suppress(muted.state, T0 + 1), STAGES, recorded_at=T0 + 1))
    report = sweeper(store).run(T0 + 2 * DAY)
    assert report.abandoned_total == 0 and report.due_seen == 2
    assert events(store) == []
    assert cart(store, "muted").due is None
    # The bought cart's entry stays while its purchase is unpublished (the rescue run's
    # pointer), and the sweep passes it by without a read or a write.
    bought = cart(store, "bought")
    assert bought.due is not None and bought.unpublished is not None and bought.unpublished.held_by_due_entry
    store.serve_index(None)
    writes = len(store.applied)
    again = sweeper(store).run(T0 + 3 * DAY)
    assert (again.due_seen, len(store.applied)) == (0, writes)


def test_a_sweep_that_fell_behind_announces_only_the_highest_stage() -> None:
    store = seeded("late")
    report = sweeper(store).run(T0 + 2 * DAY + 5)
    assert dict(report.abandoned) == {3: 1}
    assert events(store) == [("late", 3)]


def test_a_cart_idle_for_thirty_days_expires_without_an_event() -> None:
    store = seeded("c1")
    for now in (T0 + HOUR, T0 + DAY, T0 + 2 * DAY):
        sweeper(store).run(now)
    report = sweeper(store).run(T0 + CART_LIFETIME_SECONDS)
    assert report.expired == 1 and len(events(store)) == 3
    record = cart(store, "c1")
    assert record.state.status is CartStatus.EXPIRED and record.due is None
    assert record.expires_at == T0 + CART_LIFETIME_SECONDS + 30 * DAY


def test_a_sweep_stops_before_its_time_runs_out_and_the_next_finishes() -> None:
    store = seeded(*(f"c{n}" for n in range(6)))
    budget = iter([60_000, 60_000, 60_000, 5_000])
    first = sweeper(store, remaining_ms=lambda: next(budget, 60_000)).run(T0 + HOUR)
    assert first.stopped_early and first.abandoned_total == 3
    second = sweeper(store).run(T0 + HOUR + 60)
    assert second.abandoned_total == 3 and not second.stopped_early
    assert len(events(store)) == 6
