"""CartProcessor against the in-memory cart store: coalescing, races, tombstones, partial failures."""

from __future__ import annotations

from typing import Any

import pytest
from tests.memory_cart_store import MemoryCartStore
from tests.unit.pipeline_fakes import DAY, PLANNER, STAGES, STORE, T0, Stores, webhook

from cartwatch.domain.cart_record import CartRecord, Tombstone
from cartwatch.domain.cart_webhooks import AppUninstalled, IgnoredWebhook, WebhookKind
from cartwatch.domain.event_types import CONVERTED, RECOVERED
from cartwatch.domain.lifecycle import CartStatus, apply_webhooks, sweep
from cartwatch.domain.stages import CART_LIFETIME_SECONDS
from cartwatch.domain.write_plan import Conflict, WritePlan, abandonment_event
from cartwatch.service.processing import CartContention, CartProcessor

K = WebhookKind


def processor(store: Any, checks: list[str] | None = None, stores: Stores | None = None) -> CartProcessor:
    def check_uninstall(store_hash: str) -> None:
        if checks is None:
            raise RuntimeError("SQS is down")
        checks.append(store_hash)

    return CartProcessor(
        store, PLANNER, stores or Stores(), check_uninstall=check_uninstall, clock=lambda: T0
    )


def cart(store: MemoryCartStore, cart_id: str) -> CartRecord:
    record = store.load(STORE, cart_id)
    assert isinstance(record, CartRecord)
    return record


def test_one_click_of_three_webhooks_is_one_write() -> None:
    store = MemoryCartStore()
    errors, report = processor(store).apply(
        [webhook("c1", K.CREATED, T0), webhook("c1", K.UPDATED, T0), webhook("c1", K.LINE_ITEM_CREATED, T0)]
    )
    assert errors == [None, None, None]
    assert len(store.applied) == 1 and report.carts_written == 1
    record = cart(store, "c1")
    assert (record.state.status, record.state.version, record.state.last_activity_at) == (
        CartStatus.ACTIVE,
        1,
        T0,
    )
    assert record.due is not None and record.due.at == T0 + STAGES.delay(1)


def test_every_cart_of_a_batch_is_written_once_and_duplicates_cost_nothing() -> None:
    store = MemoryCartStore()
    batch = [webhook(f"c{n % 3}", K.UPDATED, T0 + n, key=f"w{n}") for n in range(9)]
    processor(store).apply(batch)
    assert len(store.applied) == 3
    _, report = processor(store).apply(batch)  # BigCommerce delivers it all again
    assert len(store.applied) == 3 and report.carts_written == 0
    assert report.outcomes["unchanged"] + report.outcomes["stale"] + report.outcomes["duplicate"] == 9


class RacingStore(MemoryCartStore):
    """Another processor writes a cart just before this one does, ``races[cart_id]`` times.

    The rival applies ``rival(n)`` for its n-th write.
    """

    def __init__(self, rival: Any) -> None:
        super().__init__()
        self.races: dict[str, int] = {}
        self.rival = rival
        self.rival_writes = 0

    def apply(self, plan: WritePlan) -> CartRecord | Conflict:
        current = self.load(*plan.ref)
        if self.races.get(plan.ref[1]) and isinstance(current, CartRecord):
            self.races[plan.ref[1]] -= 1
            self.rival_writes += 1
            result = apply_webhooks(current.state, [self.rival(plan.ref[1], self.rival_writes)])
            super().apply(PLANNER.revision(current, result.after, STAGES, recorded_at=T0))
        return super().apply(plan)


def test_a_lost_race_is_read_again_and_both_writers_changes_are_kept() -> None:
    store = RacingStore(lambda cart_id, n: webhook(cart_id, K.CONVERTED, T0 + 50, order_id=5))
    processor(store).apply([webhook("c1", K.CREATED, T0)])
    store.races["c1"] = 1
    _, report = processor(store).apply([webhook("c1", K.ABANDONED, T0 + 30, token="hint")])
    assert report.conflicts_retried == 1 and report.carts_written == 1
    state = cart(store, "c1").state
    # The rival's conversion and this writer's abandoned hint are both in the cart.
    assert (state.status, state.order_id, state.abandoned_token) == (CartStatus.CONVERTED, 5, "hint")
    assert state.version == 3 and len(store.conflicts) == 1


def test_a_batch_read_that_saw_an_older_cart_costs_a_conflict_never_a_change() -> None:
    # The batch read is eventually consistent: it may show a cart before its latest write.
    store = MemoryCartStore()
    processor(store).apply([webhook("c1", K.CREATED, T0), webhook("c2", K.CREATED, T0)])
    older = cart(store, "c1")
    processor(store).apply([webhook("c1", K.UPDATED, T0 + 30, key="second")])
    store.serve_stale((STORE, "c1"), older)
    store.serve_stale((STORE, "c2"), None)  # stored, but not yet seen by the read
    loads = store.loads

    errors, report = processor(store).apply(
        [webhook("c1", K.UPDATED, T0 + 60, key="third"), webhook("c2", K.UPDATED, T0 + 60, key="c2-second")]
    )

    assert errors == [None, None]
    assert report.conflicts_retried == 2 and report.carts_written == 2
    # c1's conflict brought the stored cart; only c2's failed put needed a read of its own.
    assert store.loads == loads + 1
    c1, c2 = cart(store, "c1"), cart(store, "c2")
    assert (c1.state.version, c1.state.last_activity_at) == (3, T0 + 60)  # nothing of either write lost
    assert (c2.state.version, c2.state.last_activity_at) == (2, T0 + 60)


def test_a_cart_that_never_stops_changing_fails_alone_for_sqs_to_retry() -> None:
    # A rival keeps writing activity that is older than this writer's, so it always has to retry.
    store = RacingStore(lambda cart_id, n: webhook(cart_id, K.UPDATED, T0 + n, key=f"rival{n}"))
    processor(store).apply([webhook("busy", K.CREATED, T0), webhook("calm", K.CREATED, T0)])
    store.races["busy"] = 100
    errors, report = processor(store).apply(
        [webhook("busy", K.UPDATED, T0 + 9), webhook("calm", K.UPDATED, T0 + 9)]
    )
    assert isinstance(errors[0], CartContention) and errors[1] is None
    assert report.conflicts_retried == 4 and report.carts_written == 1
    assert cart(store, "calm").state.last_activity_at == T0 + 9


def abandon(store: MemoryCartStore, cart_id: str, now: int) -> None:
    """What a sweep does to an idle cart (see test_abandonment_sweep.py for the sweep itself)."""
    record = cart(store, cart_id)
    decision = sweep(record.state, now, STAGES)
    event = abandonment_event(decision, STAGES, now)
    store.apply(
        PLANNER.revision(record, decision.after, STAGES, recorded_at=now, event=event, exact_due=True)
    )


def test_a_conversion_commits_its_event_and_a_recovery_names_itself() -> None:
    store = MemoryCartStore()
    processor(store).apply([webhook("bought", K.CREATED, T0), webhook("back", K.CREATED, T0)])
    abandon(store, "back", T0 + 3600)
    _, report = processor(store).apply(
        [
            webhook("bought", K.CONVERTED, T0 + 60, order_id=1),
            webhook("back", K.CONVERTED, T0 + 7200, order_id=2),
        ]
    )
    assert report.conversions == 2
    assert cart(store, "bought").outbox is not None and cart(store, "bought").outbox.type == CONVERTED  # type: ignore[union-attr]
    assert cart(store, "back").outbox is not None and cart(store, "back").outbox.type == RECOVERED  # type: ignore[union-attr]
    assert cart(store, "bought").expires_at == T0 + 60 + 30 * DAY
    # Until its event is out, a bought cart's due entry points the rescue run at it: left where
    # it was when that is within the hour (no index move), else moved to the slot's rescue time.
    bought, back = cart(store, "bought"), cart(store, "back")
    assert bought.unpublished is not None and back.unpublished is not None
    assert bought.unpublished.held_by_due_entry and back.unpublished.held_by_due_entry
    assert bought.due is not None and bought.due.at == T0 + 3600
    assert back.due is not None and back.due.at == back.unpublished.due


def test_an_erased_cart_stays_erased_and_its_tombstone_lasts_while_webhooks_come() -> None:
    tombstone = Tombstone(STORE, "gone", erased_at=T0, expires_at=T0 + CART_LIFETIME_SECONDS)
    store = MemoryCartStore()
    store._carts[(STORE, "gone")] = tombstone
    _, report = processor(store).apply(
        [webhook("gone", K.UPDATED, T0 + 60), webhook("gone", K.CONVERTED, T0 + 61)]
    )
    assert report.outcomes["erased"] == 2 and store.applied == []
    assert store.load(STORE, "gone") == tombstone  # within a day's slack: no write
    processor(store).apply([webhook("gone", K.UPDATED, T0 + 5 * DAY)])
    assert store.load(STORE, "gone") == Tombstone(STORE, "gone", T0, T0 + 5 * DAY + CART_LIFETIME_SECONDS)


def test_a_recovery_copy_is_never_scheduled_and_buying_it_recovers_the_original() -> None:
    store = MemoryCartStore()
    processor(store).apply([webhook("orig", K.CREATED, T0)])
    abandon(store, "orig", T0 + 3600)
    store.apply(PLANNER.recovery_copy(STORE, "copy", "orig", now=T0 + 3600))
    processor(store).apply([webhook("copy", K.CREATED, T0 + 3700), webhook("copy", K.UPDATED, T0 + 3700)])
    assert cart(store, "copy").due is None
    processor(store).apply([webhook("copy", K.CONVERTED, T0 + 4000, order_id=77)])
    recovered = cart(store, "orig")
    assert (recovered.state.status, recovered.state.order_id) == (CartStatus.RECOVERED, 77)
    assert recovered.outbox is not None and recovered.outbox.type == RECOVERED
    copy = cart(store, "copy")
    assert copy.state.status is CartStatus.CONVERTED and copy.outbox is None  # no event for the copy


def test_an_uninstall_is_handed_to_its_check_once_and_a_failed_request_fails_only_its_records() -> None:
    store = MemoryCartStore()
    checks: list[str] = []
    batch = [
        AppUninstalled(STORE, "u1"),
        IgnoredWebhook(STORE, "store/order/created"),
        webhook("c1", K.CREATED, T0),
        AppUninstalled(STORE, "u2"),
    ]
    errors, report = processor(store, checks).apply(batch)
    assert errors == [None, None, None, None] and checks == [STORE]
    assert (report.uninstalls_to_check, report.outcomes["ignored"]) == (1, 1)
    errors, _ = processor(store, None).apply(batch)
    assert isinstance(errors[0], RuntimeError) and isinstance(errors[3], RuntimeError)
    assert errors[1:3] == [None, None]


def test_webhooks_of_an_uninstalled_store_cannot_recreate_its_carts() -> None:
    store = MemoryCartStore()
    gone = Stores()
    gone.uninstalled.add(STORE)
    _, report = processor(store, [], gone).apply([webhook("c1", K.CREATED, T0)])
    assert report.outcomes["store_uninstalled"] == 1 and store.applied == []


def test_a_store_failure_on_one_cart_fails_that_carts_webhooks_only() -> None:
    class Failing(MemoryCartStore):
        def apply(self, plan: WritePlan) -> CartRecord | Conflict:
            if plan.ref == (STORE, "bad"):
                raise ConnectionError("throttled")
            return super().apply(plan)

    store = Failing()
    errors, _ = processor(store).apply(
        [webhook("bad", K.CREATED, T0), webhook("good", K.CREATED, T0), webhook("bad", K.UPDATED, T0 + 1)]
    )
    assert (
        isinstance(errors[0], ConnectionError)
        and errors[1] is None
        and isinstance(errors[2], ConnectionError)
    )
    assert store.load(STORE, "good") is not None and store.load(STORE, "bad") is None


@pytest.mark.parametrize("order", [0, 1])
def test_webhooks_in_any_batch_split_give_the_same_cart(order: int) -> None:
    hooks = [
        webhook("c1", K.CREATED, T0),
        webhook("c1", K.LINE_ITEM_CREATED, T0 + 10),
        webhook("c1", K.UPDATED, T0 + 20),
        webhook("c1", K.DELETED, T0 + 30),
    ]
    together, apart = MemoryCartStore(), MemoryCartStore()
    processor(together).apply(hooks)
    for hook in hooks[::-1] if order else hooks:
        processor(apart).apply([hook])
    assert cart(together, "c1").state.lifecycle_view() == cart(apart, "c1").state.lifecycle_view()
