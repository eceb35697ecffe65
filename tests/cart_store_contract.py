"""The cart store contract: what every ``CartStore`` must do with reads and write plans.

One suite, two stores: ``tests/unit/test_cart_store_contract.py`` runs it against the
in-memory store (no sockets) and ``tests/integration/test_cart_store_contract.py`` against
the DynamoDB adapter on moto server.  Each subclass provides the ``store`` fixture.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from cartwatch.domain.cart_record import (
    CartRecord,
    CartSummary,
    DueSlot,
    OutboxEvent,
    ShopperSlot,
    Tombstone,
    due_shard,
)
from cartwatch.domain.cart_store import CartStore
from cartwatch.domain.cart_webhooks import CartWebhook, WebhookKind
from cartwatch.domain.event_types import ABANDONED
from cartwatch.domain.history import HISTORY_LIMIT, Transition, sweep_transition
from cartwatch.domain.lifecycle import (
    CartState,
    CartStatus,
    SweepAction,
    SweepDecision,
    apply_webhooks,
    stop_series,
    sweep,
)
from cartwatch.domain.stages import StageSchedule
from cartwatch.domain.write_plan import (
    AtVersion,
    Conflict,
    DueAt,
    IdleSince,
    IsCart,
    Listing,
    Patch,
    StatePatch,
    StillAbandoned,
    StillBought,
    StillOpen,
    Unscheduled,
)
from cartwatch.domain.write_planner import WritePlanner

STORE = "contract"
STAGES = StageSchedule.parse("1h,24h,48h")
T0 = 1_800_000_000
HOUR = 3600
PLANNER = WritePlanner(due_shards=4, closed_retention_days=30)


def webhook(cart_id: str, kind: WebhookKind, at: int, key: str = "", **data: int) -> CartWebhook:
    return CartWebhook(STORE, cart_id, kind, at, key or f"{kind.value}-{at}", **data)  # type: ignore[arg-type]


def created(store: CartStore, cart_id: str, at: int = T0) -> CartRecord:
    result = apply_webhooks(None, [webhook(cart_id, WebhookKind.CREATED, at)])
    written = store.apply(PLANNER.revision(None, result.after, STAGES, recorded_at=at))
    assert isinstance(written, CartRecord)
    return written


def stored(store: CartStore, cart_id: str) -> CartRecord:
    record = store.load(STORE, cart_id)
    assert isinstance(record, CartRecord), record
    return record


def abandon_from_index(store: CartStore, cart_id: str, now: int) -> CartRecord | Conflict:
    (entry,) = [e for shard in PLANNER.shards() for page in store.due_entries(shard, now) for e in page]
    assert entry.cart_id == cart_id
    record = stored(store, cart_id)
    decision = sweep(record.state, now, STAGES)
    return store.apply(PLANNER.sweep_from_index(entry, decision, STAGES, now=now, recorded_at=now))


def abandon_from_index_all(store: CartStore, now: int) -> int:
    """Every due cart abandoned from its index entry, as a sweep would; how many."""
    entries = [e for shard in PLANNER.shards() for page in store.due_entries(shard, now) for e in page]
    for entry in entries:
        decision = sweep(stored(store, entry.cart_id).state, now, STAGES)
        store.apply(PLANNER.sweep_from_index(entry, decision, STAGES, now=now, recorded_at=now))
    return len(entries)


def stored_elsewhere(store: CartStore) -> CartRecord:
    record = store.load("elsewhere", "x")
    assert isinstance(record, CartRecord)
    return record


class CartStoreContract:
    # --- new carts and revisions ---------------------------------------------------------------

    def test_a_new_cart_is_stored_as_planned_and_only_once(self, store: CartStore) -> None:
        first = created(store, "c1")
        assert stored(store, "c1") == first
        assert first.state.version == 1
        assert first.due == DueSlot(due_shard("c1", 4), T0 + HOUR)
        again = apply_webhooks(None, [webhook("c1", WebhookKind.CREATED, T0 + 5)])
        conflict = store.apply(PLANNER.revision(None, again.after, STAGES, recorded_at=T0))
        assert conflict == Conflict(current=None)
        assert stored(store, "c1") == first

    def test_a_revision_applies_once_per_version_and_a_stale_one_sees_the_cart(
        self, store: CartStore
    ) -> None:
        base = created(store, "c1")
        later = apply_webhooks(base.state, [webhook("c1", WebhookKind.UPDATED, T0 + 60)])
        written = store.apply(PLANNER.revision(base, later.after, STAGES, recorded_at=T0 + 60))
        assert isinstance(written, CartRecord)
        assert written.state.version == 2 and written.state.last_activity_at == T0 + 60
        assert written.due == base.due  # lazy: the earlier due time stays a valid lower bound
        stale = store.apply(PLANNER.revision(base, later.after, STAGES, recorded_at=T0 + 60))
        assert stale == Conflict(current=written)

    def test_a_revision_writes_only_what_it_changed(self, store: CartStore) -> None:
        base = created(store, "c1")
        abandoned = abandon_from_index(store, "c1", T0 + HOUR)
        assert isinstance(abandoned, CartRecord)
        # The publisher records the snapshot (no new version) between a read and a write.
        summary = CartSummary(
            customer_id=7, customer_email="a@example.com", total=Decimal("12.5"), currency="USD"
        )
        store.apply(PLANNER.snapshot(abandoned.state, '{"snapshot": 1}', summary))
        back = apply_webhooks(abandoned.state, [webhook("c1", WebhookKind.UPDATED, T0 + 2 * HOUR)])
        written = store.apply(PLANNER.revision(abandoned, back.after, STAGES, recorded_at=T0 + 2 * HOUR))
        assert isinstance(written, CartRecord)
        assert (written.snapshot, written.summary) == ('{"snapshot": 1}', summary)
        assert written.state.status is CartStatus.ACTIVE and written.state.version == base.state.version + 2

    # --- the outbox ------------------------------------------------------------------------------

    def test_an_event_is_committed_with_its_write_and_cleared_by_the_next(self, store: CartStore) -> None:
        base = created(store, "c1")
        bought = apply_webhooks(base.state, [webhook("c1", WebhookKind.CONVERTED, T0 + 60, order_id=5)])
        event = OutboxEvent("cartwatch.cart.converted", T0 + 60)
        written = store.apply(PLANNER.revision(base, bought.after, STAGES, recorded_at=T0 + 60, event=event))
        assert isinstance(written, CartRecord)
        assert stored(store, "c1").outbox == event
        late = apply_webhooks(written.state, [webhook("c1", WebhookKind.UPDATED, T0 + 30)])
        store.apply(PLANNER.revision(written, late.after, STAGES, recorded_at=T0 + 61))
        assert stored(store, "c1").outbox is None

    def test_a_bought_cart_stays_in_the_due_index_until_its_event_is_out(self, store: CartStore) -> None:
        base = created(store, "c1")
        bought = apply_webhooks(base.state, [webhook("c1", WebhookKind.CONVERTED, T0 + 60, order_id=5)])
        event = OutboxEvent("cartwatch.cart.converted", T0 + 60)
        store.apply(PLANNER.revision(base, bought.after, STAGES, recorded_at=T0 + 60, event=event))
        # The entry stays where it was (the purchase's rescue pointer), and shows the purchase.
        assert stored(store, "c1").due == base.due
        shard = base.due.shard if base.due else ""
        due = [e for page in store.due_entries(shard, T0 + 24 * HOUR) for e in page]
        assert [(e.cart_id, e.status) for e in due] == [("c1", CartStatus.CONVERTED)]
        store.apply(PLANNER.released((STORE, "c1"), event))
        assert stored(store, "c1").due is None and stored(store, "c1").unpublished is None
        assert [e for page in store.due_entries(shard, T0 + 24 * HOUR) for e in page] == []

    def test_a_patch_without_an_event_clears_the_outbox_too(self, store: CartStore) -> None:
        created(store, "c1")
        abandoned = abandon_from_index(store, "c1", T0 + HOUR)
        assert isinstance(abandoned, CartRecord) and abandoned.outbox is not None
        assert abandoned.outbox.type == ABANDONED and abandoned.outbox.stage == 1
        store.apply(PLANNER.snapshot(abandoned.state, "{}", CartSummary()))
        assert stored(store, "c1").outbox is None

    # --- the due index and the sweep's guard -------------------------------------------------------

    def test_due_entries_are_the_open_carts_due_now_in_pages(self, store: CartStore) -> None:
        for n in range(7):
            created(store, f"c{n}", T0 + n)
        created(store, "later", T0 + HOUR)
        entries = [
            e
            for shard in PLANNER.shards()
            for page in store.due_entries(shard, T0 + HOUR + 6, page_size=2)
            for e in page
        ]
        assert sorted(e.cart_id for e in entries) == [f"c{n}" for n in range(7)]
        assert all(e.status is CartStatus.ACTIVE and e.stage == 0 and e.abandoned_at is None for e in entries)
        assert all(e.due == stored(store, e.cart_id).due for e in entries)

    def test_each_shard_pages_its_due_entries_oldest_first(self, store: CartStore) -> None:
        # The sweep's lag of a shard is the head of its first page (service/sweeping.py).
        for n in reversed(range(12)):
            created(store, f"c{n}", T0 + 10 * n)
        now = T0 + HOUR + 200  # c0 … c11 are due, spread over all four shards
        seen = []
        for shard in PLANNER.shards():
            pages = list(store.due_entries(shard, now, page_size=2))
            entries = [e for page in pages for e in page]
            assert entries and all(e.due.shard == shard for e in entries)
            assert [e.due.at for e in entries] == sorted(e.due.at for e in entries)
            assert pages[0][0].due.at == min(e.due.at for e in entries)
            seen += entries
        assert sorted(e.cart_id for e in seen) == sorted(f"c{n}" for n in range(12))

    def test_the_index_path_guard_refuses_a_cart_that_moved_on(self, store: CartStore) -> None:
        base = created(store, "c1")
        (entry,) = [e for s in PLANNER.shards() for page in store.due_entries(s, T0 + HOUR) for e in page]
        # A webhook arrives after the index was read: the cart is no longer idle enough.
        busy = apply_webhooks(base.state, [webhook("c1", WebhookKind.UPDATED, T0 + 1800)])
        moved = store.apply(PLANNER.revision(base, busy.after, STAGES, recorded_at=T0 + 1800))
        estimate = replace(base.state, last_activity_at=T0)
        decision = sweep(estimate, T0 + HOUR, STAGES)
        conflict = store.apply(
            PLANNER.sweep_from_index(entry, decision, STAGES, now=T0 + HOUR, recorded_at=T0)
        )
        assert conflict == Conflict(current=moved)

    def test_the_index_path_moves_stage_schedule_history_and_listing_in_one_write(
        self, store: CartStore
    ) -> None:
        created(store, "c1")
        written = abandon_from_index(store, "c1", T0 + HOUR + 5)
        assert isinstance(written, CartRecord)
        state = written.state
        assert (state.status, state.stage, state.last_abandoned_stage) == (CartStatus.ABANDONED, 1, 1)
        assert state.abandoned_at == T0 + HOUR + 5 and state.version == 2
        assert written.due == DueSlot(due_shard("c1", 4), T0 + 24 * HOUR)
        assert written.history == (Transition(T0 + HOUR + 5, CartStatus.ABANDONED, 1, "sweep"),)
        assert written.listed_at == T0 + HOUR + 5
        # The listing's last activity is the cart's own, copied by the write that lists it
        # (the sweep decided from the index entry, which does not show it).
        assert written.listed_activity_at == state.last_activity_at
        assert stored(store, "c1") == written
        # The same decision again (another sweep) finds the cart moved on.
        again = store.apply(
            Patch(
                ("contract", "c1"),
                IdleSince(CartStatus.ACTIVE, 0, T0 + 5),
                StatePatch(CartStatus.ABANDONED, 1),
            )
        )
        assert again == Conflict(current=written)

    def test_a_suppressed_cart_fails_the_index_guard(self, store: CartStore) -> None:
        base = created(store, "c1")
        suppressed = replace(base.state, suppressed_at=T0 + 10)
        store.apply(PLANNER.revision(base, suppressed, STAGES, recorded_at=T0 + 10))
        assert stored(store, "c1").due is None
        guard = IdleSince(CartStatus.ACTIVE, 0, T0 + HOUR)
        assert isinstance(
            store.apply(Patch(("contract", "c1"), guard, StatePatch(CartStatus.ABANDONED, 1))), Conflict
        )

    # --- the publisher's guarded records ------------------------------------------------------------

    def test_snapshot_order_and_gone_writes_hold_only_for_the_cart_they_saw(self, store: CartStore) -> None:
        created(store, "c1")
        abandoned = abandon_from_index(store, "c1", T0 + HOUR)
        assert isinstance(abandoned, CartRecord)
        stale = replace(abandoned.state, last_activity_at=T0 - 1)
        assert isinstance(store.apply(PLANNER.snapshot(stale, "{}", CartSummary())), Conflict)
        assert isinstance(store.apply(Patch(("contract", "c1"), StillAbandoned(T0))), CartRecord)
        gone = store.apply(PLANNER.gone(abandoned.state, now=T0 + HOUR + 9, recorded_at=T0 + HOUR + 9))
        assert isinstance(gone, CartRecord)
        assert (gone.state.status, gone.state.stage, gone.state.closed_at) == (
            CartStatus.DELETED,
            0,
            T0 + HOUR + 9,
        )
        assert gone.due is None and gone.expires_at == T0 + HOUR + 9 + 30 * 86400
        assert gone.history[-1].cause == "bigcommerce:gone" and gone.listed_at == T0 + HOUR + 9
        assert isinstance(store.apply(Patch(("contract", "c1"), StillOpen(T0))), Conflict)

    def test_an_order_lists_a_bought_cart_once_and_keeps_its_first_time(self, store: CartStore) -> None:
        base = created(store, "c1")
        bought = apply_webhooks(base.state, [webhook("c1", WebhookKind.CONVERTED, T0 + 60, order_id=9)])
        written = store.apply(PLANNER.revision(base, bought.after, STAGES, recorded_at=T0 + 60))
        assert isinstance(written, CartRecord) and written.listed_at is None
        order = PLANNER.order(
            written.state, '{"id": 9}', CartSummary(total=Decimal("5"), currency="USD"), recorded_at=T0 + 61
        )
        assert order is not None
        listed = store.apply(order)
        assert isinstance(listed, CartRecord)
        assert (listed.listed_at, listed.order, listed.summary.total) == (T0 + 61, '{"id": 9}', Decimal("5"))
        assert listed.listed_activity_at == written.state.last_activity_at
        again = store.apply(replace(order, listing=Listing(CartStatus.CONVERTED, T0 + 99, keep_earlier=True)))
        assert isinstance(again, CartRecord) and (again.listed_at, again.listed_activity_at) == (
            T0 + 61,
            listed.listed_activity_at,
        )
        other = StillBought(CartStatus.CONVERTED, T0 + 1)
        assert isinstance(store.apply(Patch(("contract", "c1"), other)), Conflict)

    def test_history_is_trimmed_by_revisions_and_appended_by_patches(self, store: CartStore) -> None:
        record = created(store, "c1")
        for n in range(HISTORY_LIMIT + 2):
            entry = Transition(T0 + n, record.state.status, 0, "api:suppress", T0)
            written = store.apply(PLANNER.revision(record, record.state, STAGES, recorded_at=T0, entry=entry))
            assert isinstance(written, CartRecord)
            record = written
        assert len(record.history) == HISTORY_LIMIT and record.history[-1].at == T0 + HISTORY_LIMIT + 1
        decision = SweepDecision(
            SweepAction.ABANDON, replace(record.state, status=CartStatus.ABANDONED, stage=1), 1
        )
        entry = sweep_transition(decision, T0 + HOUR, idle_known=False)
        appended = store.apply(Patch(("contract", "c1"), AtVersion(record.state.version), history=entry))
        assert isinstance(appended, CartRecord)
        assert appended.history == (*record.history, entry)

    def test_schedule_changes_move_within_the_shard_or_leave(self, store: CartStore) -> None:
        record = created(store, "c1")
        moved = store.apply(Patch(("contract", "c1"), IsCart(), schedule=DueAt(T0 + 7200)))
        assert isinstance(moved, CartRecord) and moved.due == DueSlot(record.due.shard, T0 + 7200)  # type: ignore[union-attr]
        left = store.apply(Patch(("contract", "c1"), IsCart(), schedule=Unscheduled()))
        assert isinstance(left, CartRecord) and left.due is None
        assert [
            e for s in PLANNER.shards() for page in store.due_entries(s, T0 + 9 * HOUR) for e in page
        ] == []

    # --- the shopper index and stopped series -----------------------------------------------------

    def test_a_shopper_is_recorded_with_the_snapshot_or_the_order_and_found_latest_first(
        self, store: CartStore
    ) -> None:
        for n in range(4):
            created(store, f"c{n}", T0 + n)
        assert abandon_from_index_all(store, T0 + HOUR + 10) == 4
        for n in range(3):
            state = stored(store, f"c{n}").state
            store.apply(PLANNER.snapshot(state, "{}", CartSummary(), ShopperSlot("c:7", T0 + 2 * HOUR + n)))
        # Another shopper, and the same key in another store: not this shopper's carts.
        state = stored(store, "c3").state
        store.apply(PLANNER.snapshot(state, "{}", CartSummary(), ShopperSlot("e:other", T0 + 3 * HOUR)))
        elsewhere = CartState("elsewhere", "x", CartStatus.ACTIVE, T0, T0)
        store.apply(PLANNER.revision(None, elsewhere, STAGES, recorded_at=T0))
        bought = apply_webhooks(
            stored_elsewhere(store).state,
            [CartWebhook("elsewhere", "x", WebhookKind.CONVERTED, T0 + 9, "k", order_id=1)],
        )
        base = stored_elsewhere(store)
        written = store.apply(PLANNER.revision(base, bought.after, STAGES, recorded_at=T0 + 9))
        assert isinstance(written, CartRecord)
        order = PLANNER.order(
            written.state, "{}", CartSummary(), recorded_at=T0 + 10, shopper=ShopperSlot("c:7", T0 + 10)
        )
        assert order is not None and isinstance(store.apply(order), CartRecord)

        assert store.shopper_carts(STORE, "c:7") == [(STORE, "c2"), (STORE, "c1"), (STORE, "c0")]
        assert store.shopper_carts(STORE, "c:7", limit=2) == [(STORE, "c2"), (STORE, "c1")]
        assert store.shopper_carts("elsewhere", "c:7") == [("elsewhere", "x")]
        assert store.shopper_carts(STORE, "c:8") == []
        assert stored(store, "c0").shopper == ShopperSlot("c:7", T0 + 2 * HOUR)
        # A revision (the processor's next write) keeps it; an erasure takes the cart out.
        c1 = stored(store, "c1")
        back = apply_webhooks(c1.state, [webhook("c1", WebhookKind.UPDATED, T0 + 5 * HOUR)])
        revised = store.apply(PLANNER.revision(c1, back.after, STAGES, recorded_at=T0 + 5 * HOUR))
        assert isinstance(revised, CartRecord) and revised.shopper == ShopperSlot("c:7", T0 + 2 * HOUR + 1)
        store.erase(Tombstone(STORE, "c2", erased_at=T0, expires_at=T0 + 1))
        assert store.shopper_carts(STORE, "c:7") == [(STORE, "c1"), (STORE, "c0")]

    def test_a_stopped_series_leaves_the_due_index_and_the_sweep_guard_refuses_it(
        self, store: CartStore
    ) -> None:
        created(store, "c1")
        abandoned = abandon_from_index(store, "c1", T0 + HOUR)
        assert isinstance(abandoned, CartRecord) and abandoned.due is not None
        (entry,) = [
            e for s in PLANNER.shards() for page in store.due_entries(s, T0 + 24 * HOUR) for e in page
        ]
        after = stop_series(abandoned.state, T0 + 2 * HOUR)
        written = store.apply(
            PLANNER.stopped(abandoned, after, STAGES, now=T0 + 2 * HOUR + 5, bought_cart_id="other")
        )
        assert isinstance(written, CartRecord) and written.state.series_stopped
        assert written.state.shopper_bought_at == T0 + 2 * HOUR and written.due is None
        assert written.history[-1] == Transition(
            T0 + 2 * HOUR + 5, CartStatus.ABANDONED, 1, "stopped:shopper_bought:other", T0
        )
        assert stored(store, "c1") == written
        # A stale index entry (eventually consistent) cannot announce stage 2.
        decision = sweep(replace(abandoned.state, last_activity_at=T0), T0 + 24 * HOUR, STAGES)
        stale = store.apply(
            PLANNER.sweep_from_index(entry, decision, STAGES, now=T0 + 24 * HOUR, recorded_at=T0)
        )
        assert stale == Conflict(current=written)
        # Activity after the purchase starts a series of its own: back in the due index.
        back = apply_webhooks(written.state, [webhook("c1", WebhookKind.UPDATED, T0 + 3 * HOUR)])
        revived = store.apply(PLANNER.revision(written, back.after, STAGES, recorded_at=T0 + 3 * HOUR))
        assert isinstance(revived, CartRecord) and not revived.state.series_stopped
        assert revived.due == DueSlot(due_shard("c1", 4), T0 + 4 * HOUR) and revived.expires_at is None

    # --- recovery copies, erasure, purges -------------------------------------------------------------

    def test_a_recovery_copy_is_put_when_new_and_marked_when_its_webhooks_won(self, store: CartStore) -> None:
        new_copy = store.apply(PLANNER.recovery_copy(STORE, "copy1", "orig", now=T0))
        assert isinstance(new_copy, CartRecord) and stored(store, "copy1") == new_copy
        assert (new_copy.recovery_of, new_copy.due, new_copy.state.activity_seen) == ("orig", None, False)
        created(store, "copy2")
        assert store.apply(PLANNER.recovery_copy(STORE, "copy2", "orig", now=T0)) == Conflict(None)
        marked = store.apply(PLANNER.mark_recovery_copy(STORE, "copy2", "orig"))
        assert isinstance(marked, CartRecord) and (marked.recovery_of, marked.due) == ("orig", None)
        assert isinstance(store.apply(PLANNER.mark_recovery_copy(STORE, "never-seen", "orig")), Conflict)

    def test_an_erased_cart_is_a_tombstone_that_only_grows_older(self, store: CartStore) -> None:
        record = created(store, "c1")
        tombstone = Tombstone(STORE, "c1", erased_at=T0 + 5, expires_at=T0 + 100)
        assert store.erase(tombstone)
        assert store.load(STORE, "c1") == tombstone
        assert not store.erase(Tombstone(STORE, "c1", erased_at=T0 + 6, expires_at=T0 + 200))
        assert not store.erase(Tombstone(STORE, "nothing", erased_at=T0, expires_at=T0 + 1))
        store.extend_tombstone(tombstone, T0 + 50)
        assert store.load(STORE, "c1") == tombstone
        store.extend_tombstone(tombstone, T0 + 500)
        assert store.load(STORE, "c1") == replace(tombstone, expires_at=T0 + 500)
        assert store.apply(PLANNER.revision(None, record.state, STAGES, recorded_at=T0)) == Conflict(None)
        assert store.apply(PLANNER.revision(record, record.state, STAGES, recorded_at=T0)) == Conflict(None)
        assert [
            e for s in PLANNER.shards() for page in store.due_entries(s, T0 + 9 * HOUR) for e in page
        ] == []

    def test_many_carts_load_at_once_each_under_its_own_key(self, store: CartStore) -> None:
        for n in range(130):
            created(store, f"c{n}")
        store.erase(Tombstone(STORE, "c0", erased_at=T0, expires_at=T0 + 1))
        other = CartRecord(CartState("elsewhere", "x", CartStatus.ACTIVE, T0, T0, version=1))
        store.apply(PLANNER.revision(None, other.state, STAGES, recorded_at=T0))
        loaded = store.load_many([(STORE, f"c{n}") for n in range(130)] + [(STORE, "missing")])
        assert len(loaded) == 130 and isinstance(loaded[(STORE, "c0")], Tombstone)
        assert all(record.ref == ref for ref, record in loaded.items() if isinstance(record, CartRecord))
        assert store.load_many([("elsewhere", "x"), (STORE, "missing")]).keys() == {("elsewhere", "x")}
