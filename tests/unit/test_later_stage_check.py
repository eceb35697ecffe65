"""Stage 2 and later remind only a shopper who has not bought: one BigCommerce call says the
cart is still open; a gone cart is told apart — bought (a lost ``converted`` webhook) or deleted."""

from __future__ import annotations

from tests.memory_cart_store import MemoryCartStore
from tests.unit.pipeline_fakes import GONE, HOUR, PLANNER, T0, BigCommerce, Sns, Stores
from tests.unit.test_outbox_relay import cart, pipeline, relay, written_with_events

from cartwatch.domain.cart_record import CartRecord
from cartwatch.domain.event_types import RECOVERED
from cartwatch.domain.lifecycle import CartStatus
from cartwatch.service.sweeping import AbandonmentSweep

STAGE_TWO_AT = T0 + 24 * HOUR


def at_stage_two(api: BigCommerce, *cart_ids: str) -> tuple[MemoryCartStore, list[CartRecord]]:
    """Stage 1 published for each cart, then the sweep a day later: the stage-2 records."""
    store, written = pipeline(*cart_ids)
    relay(store, Sns(), api).relay(written)
    AbandonmentSweep(store, PLANNER, Stores(), clock=lambda: STAGE_TWO_AT).run(STAGE_TWO_AT)
    return store, [r for r in written_with_events(store) if r.outbox is not None and r.outbox.stage == 2]


def test_a_lost_conversion_gets_no_stage_two_reminder_but_a_recovered_event_with_its_order() -> None:
    api = BigCommerce()
    store, stage_two = at_stage_two(api, "paid", "open")
    api.bought["paid"] = 4711  # bought elsewhere; the converted webhook never came
    sns = Sns()
    calls = api.calls
    errors, report = relay(store, sns, api).relay(stage_two)
    assert errors == [None, None] and report.purchases_found == 1
    # The open cart is reminded (one call); the bought one is not (a second call finds the order).
    assert [(e["type"], e["subject"]) for e in sns.published] == [("cartwatch.cart.abandoned", "open")]
    assert api.calls - calls == 3
    paid = cart(store, "paid")
    assert (paid.state.status, paid.state.order_id) == (CartStatus.RECOVERED, 4711)
    assert paid.outbox is not None and paid.outbox.type == RECOVERED
    # The stream brings that write to the publisher: the recovery goes out with its order.
    errors, _ = relay(store, sns, api).relay([paid])
    recovered = sns.published[-1]
    assert errors == [None] and recovered["type"] == RECOVERED and recovered["data"]["order"]["id"] == 4711
    # And no later stage reminds the shopper: stage 3 is for the open cart only.
    report3 = AbandonmentSweep(store, PLANNER, Stores(), clock=lambda: T0 + 72 * HOUR).run(T0 + 72 * HOUR)
    assert dict(report3.abandoned) == {3: 1} and cart(store, "paid").state.status is CartStatus.RECOVERED


def test_a_cart_deleted_before_stage_two_is_closed_silently() -> None:
    api = BigCommerce()
    store, stage_two = at_stage_two(api, "dropped")
    api.checkouts["dropped"] = GONE  # deleted (or expired): no order behind it
    sns = Sns()
    errors, report = relay(store, sns, api).relay(stage_two)
    assert errors == [None] and sns.published == [] and report.dropped_cart_gone == 1
    dropped = cart(store, "dropped")
    assert (dropped.state.status, dropped.outbox, dropped.unpublished) == (CartStatus.DELETED, None, None)


def test_a_stage_one_cart_gone_with_an_order_is_a_purchase_not_a_silent_close() -> None:
    api = BigCommerce(bought={"late": 99})
    api.checkouts["late"] = GONE
    store, written = pipeline("late")
    sns = Sns()
    errors, report = relay(store, sns, api).relay(written)
    assert errors == [None] and sns.published == [] and report.purchases_found == 1
    assert (cart(store, "late").state.status, cart(store, "late").state.order_id) == (
        CartStatus.RECOVERED,
        99,
    )
