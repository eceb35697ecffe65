"""The derived effects of write plans — due index, listing, history, expiry, outbox — as properties.

The pure functions are checked on their own, and then whole cart lives (webhooks in any
order, sweeps at any time, suppressions, the publisher's records) are played through the
services into the in-memory store, the invariants checked after every write.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.memory_cart_store import MemoryCartStore
from tests.unit.pipeline_fakes import PLANNER, STAGES, STORE, Stores

from cartwatch.domain.cart_record import CartRecord, CartSummary, DueSlot, due_shard
from cartwatch.domain.cart_webhooks import CartWebhook, WebhookKind
from cartwatch.domain.history import HISTORY_LIMIT, Transition
from cartwatch.domain.lifecycle import CartState, CartStatus, next_due_at, suppress
from cartwatch.domain.listing import is_listed
from cartwatch.domain.stages import CART_LIFETIME_SECONDS
from cartwatch.domain.write_plan import Revision, due_slot, expiry, listed_at
from cartwatch.service.processing import CartProcessor
from cartwatch.service.sweeping import AbandonmentSweep

T0 = 1_800_000_000
RETENTION = 30 * 86400

times = st.integers(min_value=T0, max_value=T0 + 40 * 86400)
states = st.builds(
    CartState,
    store_hash=st.just(STORE),
    cart_id=st.sampled_from(["c1", "c2", "c3"]),
    status=st.sampled_from(CartStatus),
    cart_created_at=st.just(T0),
    last_activity_at=times,
    stage=st.integers(0, 3),
    last_abandoned_stage=st.integers(0, 3),
    closed_at=st.one_of(st.none(), times),
    suppressed_at=st.one_of(st.none(), times),
)
slots = st.one_of(st.none(), st.builds(DueSlot, shard=st.sampled_from(["DUE#00", "DUE#03"]), at=times))


@settings(deadline=None)  # pure functions: a deadline would only time the machine's load
@given(states, slots, st.booleans())
def test_a_cart_is_in_the_due_index_until_it_closes_and_never_later_than_it_is_due(
    state: CartState, slot: DueSlot | None, exact: bool
) -> None:
    base = CartRecord(state, due=slot)
    placed = due_slot(base, state, STAGES, 4, exact=exact)
    true_due = next_due_at(state, STAGES)
    if true_due is None:
        assert placed is None  # closed or suppressed: out of the index
        return
    assert placed is not None and placed.at <= true_due  # a lower bound: the sweep re-checks
    assert placed.shard == (slot.shard if slot else due_shard(state.cart_id, 4))  # a cart keeps its shard
    if exact or slot is None or slot.at > true_due:
        assert placed.at == true_due
    else:
        assert placed == DueSlot(slot.shard, slot.at)  # lazy: activity moves no index entry


@settings(deadline=None)  # pure functions: a deadline would only time the machine's load
@given(states, st.one_of(st.none(), times), st.one_of(st.none(), times), times, st.booleans())
def test_the_listing_moves_only_on_transitions_and_never_backwards(
    state: CartState, previous: int | None, entry_at: int | None, now: int, order: bool
) -> None:
    base = CartRecord(state, listed_at=previous, order='{"id": 1}' if order else None)
    entry = Transition(entry_at, state.status, state.stage, "sweep") if entry_at is not None else None
    after = listed_at(base, state, entry, now)
    if entry is None:
        assert after == previous
    elif not is_listed(state, order_recorded=order):
        assert after is None
    else:
        assert after is not None and after >= max(previous or 0, entry.at, now)


@settings(deadline=None)  # pure functions: a deadline would only time the machine's load
@given(states)
def test_closed_and_suppressed_carts_expire_and_open_ones_do_not(state: CartState) -> None:
    expires = expiry(state, RETENTION)
    if state.closed_at is not None and not state.status.is_open:
        assert expires == state.closed_at + RETENTION
    elif state.suppressed:
        assert expires == state.last_activity_at + CART_LIFETIME_SECONDS + RETENTION
    else:
        assert expires is None


# --- whole cart lives --------------------------------------------------------------------------------

KINDS = [k for k in WebhookKind if k is not WebhookKind.CONVERTED] + [WebhookKind.CONVERTED]
steps = st.lists(
    st.one_of(
        st.tuples(st.just("webhook"), st.sampled_from(KINDS), st.integers(0, 5 * 86400)),
        st.tuples(st.just("sweep"), st.just(None), st.integers(0, 35 * 86400)),
        st.tuples(st.just("suppress"), st.just(None), st.integers(0, 5 * 86400)),
        st.tuples(st.just("order"), st.just(None), st.integers(0, 5 * 86400)),
    ),
    min_size=1,
    max_size=25,
)


def check(record: CartRecord, previous: CartRecord | None, plan: Any) -> None:
    state = record.state
    # The due index: exactly the open, unsuppressed carts, never later than they are due —
    # and the bought carts whose purchase event is unpublished, for the rescue run.
    true_due = next_due_at(state, STAGES)
    slot = record.unpublished
    if slot is not None and slot.held_by_due_entry and not state.status.is_open:
        assert record.due is not None and record.due.shard == due_shard(state.cart_id, 4)
        bought_at = state.closed_at or 0
        assert record.due.at <= max(slot.due, bought_at + PLANNER.PURCHASE_RESCUE_SECONDS)
    else:
        assert (record.due is None) == (true_due is None)
    if record.due is not None and true_due is not None:
        assert record.due.at <= true_due and record.due.shard == due_shard(state.cart_id, 4)
    # The listing: the listed carts, its time never going backwards nor below a transition.
    assert (record.listed_at is not None) == is_listed(state, order_recorded=record.order_recorded)
    if previous is not None and previous.listed_at is not None:
        assert record.listed_at is not None and record.listed_at >= previous.listed_at
    if record.listed_at is not None:
        assert all(entry.at <= record.listed_at for entry in record.history)
    assert record.expires_at == expiry(state, RETENTION)
    # The outbox holds the event of the write that made this record, or nothing.
    event = plan.record.outbox if isinstance(plan, Revision) else plan.outbox
    assert record.outbox == event
    if isinstance(plan, Revision):
        assert len(record.history) <= HISTORY_LIMIT


@settings(max_examples=150, deadline=None)
@given(steps)
def test_every_write_of_a_cart_life_keeps_the_derived_effects_consistent(
    life: list[tuple[str, Any, int]],
) -> None:
    clock = [T0]
    store = MemoryCartStore()
    processor = CartProcessor(
        store, PLANNER, Stores(), check_uninstall=lambda _: None, clock=lambda: clock[0]
    )
    written = 0
    previous: CartRecord | None = None
    for n, (action, kind, offset) in enumerate(life):
        now = T0 + offset
        clock[0] = max(clock[0], now)
        if action == "webhook":
            order = {"order_id": 500} if kind is WebhookKind.CONVERTED else {}
            processor.apply([CartWebhook(STORE, "c1", kind, now, f"w{n}", **order)])
        elif action == "sweep":
            AbandonmentSweep(store, PLANNER, Stores(), clock=lambda: clock[0]).run(now)
        else:
            current = store.load(STORE, "c1")
            if not isinstance(current, CartRecord):
                continue
            if action == "suppress":
                after = suppress(current.state, now)
                entry = Transition(now, after.status, after.stage, "api:suppress", after.last_activity_at)
                store.apply(PLANNER.revision(current, after, STAGES, recorded_at=clock[0], entry=entry))
            else:
                plan = PLANNER.order(current.state, '{"id": 500}', CartSummary(), recorded_at=clock[0])
                if plan is not None:
                    store.apply(plan)
        for plan in store.applied[written:]:
            record = store.load(*plan.ref)
            assert isinstance(record, CartRecord)
            if plan is store.applied[-1]:
                check(record, previous, plan)
            previous = record
        written = len(store.applied)


def test_a_revision_carries_over_what_only_the_publisher_writes() -> None:
    state = CartState(
        STORE, "c1", CartStatus.ABANDONED, T0, T0, stage=1, last_abandoned_stage=1, abandoned_at=T0
    )
    base = CartRecord(state, snapshot="{}", order=None, summary=CartSummary(customer_id=3), recovery_of="c0")
    plan = PLANNER.revision(base, replace(state, status=CartStatus.ACTIVE, stage=0), STAGES, recorded_at=T0)
    assert (plan.record.snapshot, plan.record.summary, plan.record.recovery_of) == ("{}", base.summary, "c0")
    assert plan.record.state.version == base.state.version + 1 and plan.guard.version == 0  # type: ignore[union-attr]
