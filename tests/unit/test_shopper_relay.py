"""The publisher and the shopper rules, on the in-memory store: a shopper's carts, not each cart alone."""

from __future__ import annotations

from typing import Any

from tests.unit.pipeline_fakes import DAY, HOUR, STORE, T0, fixture, guest_checkout
from tests.unit.shopper_pipeline import REGISTERED, ShopperPipeline

from cartwatch.domain import history
from cartwatch.domain.cart_record import ShopperSlot
from cartwatch.domain.lifecycle import CartStatus
from cartwatch.domain.shopper import ReminderScope, shopper_key

ABANDONED, CONVERTED, RECOVERED = (f"cartwatch.cart.{t}" for t in ("abandoned", "converted", "recovered"))


def two_idle_carts(shop: ShopperPipeline) -> None:
    """Jane fills cart A, then cart B a minute later; both go idle."""
    shop.cart("A")
    shop.tick(60)
    shop.cart("B")


def run_stages(shop: ShopperPipeline, *at: int) -> None:
    for moment in at:
        shop.now = moment
        shop.sweep()
        shop.publish_all()


def test_buying_with_b_stops_a_series() -> None:
    shop = ShopperPipeline(reminders=ReminderScope.PER_CART)
    two_idle_carts(shop)
    run_stages(shop, T0 + HOUR + 60)
    assert sorted(shop.abandoned()) == [("A", 1), ("B", 1)]  # per cart: each announced
    calls = shop.api.calls

    shop.tick(600)
    shop.buy("B", order_id=218)
    shop.publish_all()
    assert [p.event.type for p in shop.published][-1] == RECOVERED
    # One BigCommerce call for the purchase (its order, which also names the buyer).
    assert shop.api.calls == calls + 1 and shop.reports[-1].stopped == 1
    a = shop.stored("A")
    assert a.state.status is CartStatus.ABANDONED and a.state.series_stopped and a.due is None
    assert a.history[-1].cause == "stopped:shopper_bought:B"
    # The purchase's cart now names its buyer too; A's stage 2 and 3 never come.
    run_stages(shop, T0 + DAY + HOUR, T0 + 3 * DAY + HOUR)
    assert sorted(shop.abandoned()) == [("A", 1), ("B", 1)]
    assert shop.stored("B").shopper == ShopperSlot("c:11", T0 + HOUR + 60)
    # `carts show` derives A's events from its history: stage 1 only.
    assert [e.stage for e in history.published_events(a.state, a.history)] == [1]


def test_a_reminder_already_in_the_stream_when_the_shopper_buys_is_withdrawn() -> None:
    shop = ShopperPipeline(reminders=ReminderScope.PER_CART)
    two_idle_carts(shop)
    run_stages(shop, T0 + HOUR + 60)
    shop.now = T0 + DAY + 120
    shop.sweep()  # both carts' stage 2 is committed: their records are in the stream
    assert shop.waiting("A") == shop.waiting("B") == 1
    shop.buy("B", order_id=218)
    shop.publish("B", "B")  # B's stage 2 (moot: B is bought), then its purchase
    assert shop.reports[-1].skipped == {"shopper_bought": 1}  # no reminder of what she bought
    shop.publish("A")  # A's stage 2 reaches the publisher after B's purchase went out
    assert sorted(shop.abandoned()) == [("A", 1), ("B", 1)]
    report = shop.reports[-1]
    assert report.skipped == {"shopper_bought": 1} and not report.published
    a = shop.stored("A")
    assert a.unpublished is None  # its slot released: not rescued later either
    assert [e.cause for e in a.history][-3:] == [
        "sweep",
        "stopped:shopper_bought:B",
        "skipped:shopper_bought",
    ]
    assert [e.stage for e in history.published_events(a.state, a.history)] == [1]


def test_a_purchase_and_a_reminder_in_one_batch_never_send_the_reminder() -> None:
    # A was never enriched before (no shopper known), B's purchase comes in the same batch as
    # A's first reminder, in either order.
    for order in (("A", "B"), ("B", "A")):
        shop = ShopperPipeline(reminders=ReminderScope.PER_CART)
        two_idle_carts(shop)
        shop.now = T0 + HOUR + 30
        shop.sweep()  # only A is due
        shop.buy("B", order_id=218)
        shop.publish(*order)
        assert shop.abandoned() == [] and shop.reports[-1].skipped == {"shopper_bought": 1}, order
        assert [p.event.type for p in shop.published] == [CONVERTED]


def test_two_abandoned_carts_of_one_shopper_are_announced_once_per_stage() -> None:
    shop = ShopperPipeline()  # per shopper: the default
    two_idle_carts(shop)
    run_stages(shop, T0 + HOUR + 60, T0 + DAY + 60, T0 + 2 * DAY + 60)
    # Only the most recently active cart (B), at every stage; A's stages are skipped, with why.
    assert shop.abandoned() == [("B", 1), ("B", 2), ("B", 3)]
    assert shop.causes("A") == [
        "sweep",
        "skipped:newer_cart:B",
        "sweep",
        "skipped:newer_cart:B",
        "sweep",
        "skipped:newer_cart:B",
    ]
    assert sum(r.skipped["newer_cart"] for r in shop.reports) == 3
    # Stage 1 enriched both (the shopper of each is learnt there); a later stage costs the one
    # call that confirms B still open, and A's, withdrawn by the last look, nothing.
    assert shop.api.calls == 2 * 3 + 2


def test_carts_left_minutes_apart_still_give_one_reminder_per_stage() -> None:
    # Jane leaves A; twenty minutes later she leaves B (another browser).  A's stage 1 goes
    # out while B is still active and unknown to cartwatch (no shopper before enrichment).
    shop = ShopperPipeline()
    shop.cart("A")
    shop.tick(20 * 60)
    shop.cart("B")
    run_stages(shop, T0 + HOUR + 10)
    assert shop.abandoned() == [("A", 1)]
    # B's stage 1: she was reminded of stage 1 already (of A, while B existed).
    run_stages(shop, T0 + HOUR + 20 * 60 + 10)
    assert shop.causes("B") == ["sweep", "skipped:shopper_reminded:A"]
    # From stage 2 on, the cart she touched last: B.
    run_stages(shop, T0 + DAY + 10, T0 + DAY + 20 * 60 + 10, T0 + 2 * DAY + 10, T0 + 2 * DAY + 20 * 60 + 10)
    assert shop.abandoned() == [("A", 1), ("B", 2), ("B", 3)]
    assert shop.causes("A")[-4:] == ["sweep", "skipped:newer_cart:B", "sweep", "skipped:newer_cart:B"]


def test_coming_back_to_the_older_cart_makes_it_the_one_reminded_of() -> None:
    shop = ShopperPipeline()
    two_idle_carts(shop)
    run_stages(shop, T0 + HOUR + 60)
    assert shop.abandoned() == [("B", 1)]
    # Jane comes back to A: A is the newest now; she had her stage-1 reminder (of B).
    shop.now = T0 + 2 * HOUR
    shop.activity("A")
    run_stages(shop, T0 + 3 * HOUR + 10)
    assert shop.causes("A")[-2:] == ["sweep", "skipped:shopper_reminded:B"]
    run_stages(shop, T0 + DAY + 70, T0 + DAY + 2 * HOUR + 10, T0 + 2 * DAY + 2 * HOUR + 10)
    assert shop.abandoned() == [("B", 1), ("A", 2), ("A", 3)]
    assert shop.causes("B")[-2:] == ["sweep", "skipped:newer_cart:A"]


def test_a_cart_left_after_the_last_reminder_of_another_gets_its_own_series() -> None:
    shop = ShopperPipeline()
    shop.cart("A")
    run_stages(shop, T0 + HOUR + 10, T0 + DAY + 10, T0 + 2 * DAY + 10)
    assert shop.abandoned() == [("A", 1), ("A", 2), ("A", 3)]
    shop.now = T0 + 3 * DAY
    shop.cart("B")  # a new shopping trip, after every reminder of A went out
    run_stages(shop, T0 + 3 * DAY + HOUR + 10, T0 + 4 * DAY + 10)
    assert shop.abandoned()[3:] == [("B", 1), ("B", 2)]


def test_per_cart_announces_every_cart_as_before() -> None:
    shop = ShopperPipeline(reminders=ReminderScope.PER_CART)
    two_idle_carts(shop)
    run_stages(shop, T0 + HOUR + 60, T0 + DAY + 60, T0 + 2 * DAY + 60)
    assert sorted(shop.abandoned()) == [(c, s) for c in "AB" for s in (1, 2, 3)]
    assert not any(r.skipped for r in shop.reports)


def test_a_newer_cart_the_store_would_not_announce_leaves_the_older_one_announced() -> None:
    no_email: dict[str, Any] = {**guest_checkout("B"), "cart": {**guest_checkout("B")["cart"], "email": ""}}
    shop = ShopperPipeline()
    shop.cart("A")
    shop.tick(60)
    shop.cart("B", no_email)  # no email: the default rules skip it — and it has no shopper either
    run_stages(shop, T0 + HOUR + 60)
    assert shop.abandoned() == [("A", 1)]
    assert shop.causes("B") == ["sweep", "skipped:no_email"]


def test_a_guest_who_signs_in_to_pay_stops_the_carts_of_both_names() -> None:
    email = "jane@example.com"
    guest = {**REGISTERED, "cart": {**REGISTERED["cart"], "customer_id": 0, "email": email}}
    shop = ShopperPipeline(reminders=ReminderScope.PER_CART)
    shop.cart("G1", guest)  # a guest cart with her email
    shop.cart("R1")  # a cart of her account (customer 11)
    shop.cart("G2", guest)  # the guest cart she will pay with, signed in
    run_stages(shop, T0 + HOUR + 5)
    assert shop.stored("G1").shopper == ShopperSlot(str(shopper_key(None, email)), T0 + HOUR + 5)
    assert shop.stored("R1").shopper == ShopperSlot("c:11", T0 + HOUR + 5)
    shop.api.order = {**fixture("order.json"), "customer_id": 11}
    shop.tick(60)
    shop.buy("G2", order_id=218)
    shop.publish_all()
    # The snapshot named her by email, the order by her account: both series stop.
    assert shop.reports[-1].stopped == 2
    assert shop.stored("G1").state.series_stopped and shop.stored("R1").state.series_stopped


def test_carts_without_a_shopper_behave_as_before() -> None:
    anonymous: dict[str, Any] = {**guest_checkout("x"), "cart": {**guest_checkout("x")["cart"], "email": ""}}
    shop = ShopperPipeline()
    shop.stores.eligibility = shop.stores.eligibility.__class__(require_email=False)
    for cart_id in ("A", "B"):
        shop.cart(cart_id, anonymous)
        shop.tick(60)
    run_stages(shop, T0 + HOUR + 120, T0 + DAY + 120)
    assert sorted(shop.abandoned()) == [(c, s) for c in "AB" for s in (1, 2)]
    assert shop.stored("A").shopper is None and shop.stored("B").shopper is None
    shop.buy("B", order_id=218)
    shop.api.order = {**fixture("order.json"), "customer_id": 0, "billing_address": {}}
    shop.publish_all()
    assert shop.reports[-1].stopped == 0 and not shop.stored("A").state.series_stopped
    run_stages(shop, T0 + 2 * DAY + 120)
    assert ("A", 3) in shop.abandoned()
    assert shop.stored("A").state.store_hash == STORE
