"""The shopper rules as pure functions: who a shopper is, which stage goes out, what a purchase stops."""

from __future__ import annotations

from dataclasses import replace

from cartwatch.domain import history
from cartwatch.domain.history import Transition
from cartwatch.domain.lifecycle import CartState, CartStatus, next_due_at, stop_series, sweep
from cartwatch.domain.shopper import (
    ReminderScope,
    ShopperSkip,
    ShopperVerdict,
    Sibling,
    announcement,
    shopper_key,
    stopped_by_purchase,
)
from cartwatch.domain.stages import StageSchedule

T0 = 1_800_000_000
HOUR, DAY = 3600, 86400
STAGES = StageSchedule.parse("1h,24h,48h")
PER_SHOPPER, PER_CART = ReminderScope.PER_SHOPPER, ReminderScope.PER_CART


def cart(
    cart_id: str, last_activity: int, status: CartStatus = CartStatus.ABANDONED, **fields: int
) -> CartState:
    stage = 1 if status is CartStatus.ABANDONED else 0
    return CartState(
        "s1", cart_id, status, T0, last_activity, stage=stage, last_abandoned_stage=stage, **fields
    )


def bought(cart_id: str, at: int) -> CartState:
    return cart(cart_id, at - 60, CartStatus.CONVERTED, closed_at=at)


def test_a_shopper_is_a_logged_in_customer_else_an_email_and_an_email_is_never_stored_as_typed() -> None:
    assert shopper_key(11, "jane@example.com") == "c:11"
    by_email = shopper_key(None, " Jane@Example.COM ")
    assert by_email == shopper_key(0, "jane@example.com") and by_email is not None
    assert by_email.startswith("e:") and "jane" not in by_email and len(by_email) == 34
    assert shopper_key(None, "joe@example.com") != by_email
    assert shopper_key(None, None) is None and shopper_key(0, "  ") is None


def test_per_shopper_only_the_most_recently_active_open_cart_is_announced() -> None:
    older, newer = cart("a", T0), cart("b", T0 + 60)
    assert announcement(older, T0, [Sibling(newer)], PER_SHOPPER) == ShopperVerdict(
        ShopperSkip.NEWER_CART, "b"
    )
    assert announcement(newer, T0 + 60, [Sibling(older)], PER_SHOPPER) is None
    # An active cart the shopper is busy in counts too; per cart, nothing is withheld.
    active = cart("b", T0 + 60, CartStatus.ACTIVE)
    assert announcement(older, T0, [Sibling(active)], PER_SHOPPER) == ShopperVerdict(
        ShopperSkip.NEWER_CART, "b"
    )
    assert announcement(older, T0, [Sibling(newer)], PER_CART) is None
    # Equal activity: the greater cart id wins, so exactly one of the two is announced.
    twin_a, twin_b = cart("a", T0), cart("b", T0)
    verdicts = [
        announcement(twin_a, T0, [Sibling(twin_b)], PER_SHOPPER),
        announcement(twin_b, T0, [Sibling(twin_a)], PER_SHOPPER),
    ]
    assert verdicts == [ShopperVerdict(ShopperSkip.NEWER_CART, "b"), None]


def test_a_newer_cart_that_will_not_be_announced_does_not_silence_an_older_one() -> None:
    older = cart("a", T0)
    for newer in (
        Sibling(cart("b", T0 + 60), announceable=False),  # fails the store's eligibility rules
        Sibling(cart("b", T0 + 60, suppressed_at=T0 + 70)),
        Sibling(cart("b", T0 + 60, shopper_bought_at=T0 + 90)),  # its series stopped
        Sibling(cart("b", T0 + 60, CartStatus.DELETED, closed_at=T0 + 90)),
        Sibling(cart("a", T0 + 60)),  # the cart itself, as the index listed it
    ):
        assert announcement(older, T0, [newer], PER_SHOPPER) is None, newer


def test_a_purchase_after_the_abandonment_began_withdraws_its_stages_in_either_scope() -> None:
    abandoned = cart("a", T0)
    for scope in ReminderScope:
        assert announcement(abandoned, T0, [Sibling(bought("b", T0 + 10))], scope) == ShopperVerdict(
            ShopperSkip.SHOPPER_BOUGHT, "b"
        )
        # Bought before this cart was last active: a new shopping trip, reminded about.
        assert announcement(abandoned, T0, [Sibling(bought("b", T0 - 10))], scope) is None
        # Its own series stopped since (by a purchase the index no longer shows).
        stopped = replace(abandoned, shopper_bought_at=T0 + 5)
        assert announcement(stopped, T0, [], scope) == ShopperVerdict(ShopperSkip.SHOPPER_BOUGHT)
    assert ShopperVerdict(ShopperSkip.SHOPPER_BOUGHT, "b").cause == "skipped:shopper_bought:b"
    assert ShopperVerdict(ShopperSkip.SHOPPER_BOUGHT).cause == "skipped:shopper_bought"


def test_a_purchase_stops_the_open_carts_idle_since_before_it_and_nothing_else() -> None:
    purchase = bought("b", T0 + HOUR)
    idle = cart("a", T0)
    busy_since = cart("c", T0 + 2 * HOUR, CartStatus.ACTIVE)
    closed = cart("d", T0, CartStatus.DELETED, closed_at=T0 + 5)
    stopped = stopped_by_purchase(purchase, [idle, busy_since, closed, purchase])
    assert stopped == [replace(idle, shopper_bought_at=T0 + HOUR)]
    # Applying it again, or an older purchase, changes nothing: nothing to write.
    assert stopped_by_purchase(purchase, stopped) == []
    assert stopped_by_purchase(bought("e", T0 + 30), stopped) == []
    # An open cart is no purchase.
    assert stopped_by_purchase(cart("f", T0 + HOUR), [idle]) == []


def test_a_stopped_series_is_never_due_and_activity_after_the_purchase_starts_a_new_one() -> None:
    stopped = stop_series(cart("a", T0), T0 + HOUR)
    assert stopped.series_stopped and next_due_at(stopped, STAGES) is None
    assert sweep(stopped, T0 + 30 * HOUR, STAGES).action.value == "drop"
    # Activity up to the purchase (a webhook late to arrive) belongs to the stopped series.
    assert replace(stopped, last_activity_at=T0 + HOUR).series_stopped
    came_back = replace(stopped, status=CartStatus.ACTIVE, stage=0, last_activity_at=T0 + HOUR + 1)
    assert not came_back.series_stopped and next_due_at(came_back, STAGES) == T0 + 2 * HOUR + 1
    assert stop_series(came_back, T0 + HOUR) == came_back  # that purchase is older than the activity


def test_a_stop_entry_names_the_cart_bought_and_a_stage_withdrawn_after_it_has_no_event() -> None:
    state = replace(cart("a", T0), stage=2, last_abandoned_stage=2)
    stop = history.stopped(state, T0 + 30 * HOUR, "b|c")  # an id holding the separator survives
    assert Transition.decode(stop.encode()) == stop and stop.cause == "stopped:shopper_bought:b|c"
    published = history.Transition(T0 + HOUR, CartStatus.ABANDONED, 1, history.SWEEP)
    withdrawn = history.Transition(T0 + 24 * HOUR, CartStatus.ABANDONED, 2, history.SWEEP)
    skipped = history.skipped(state, 2, ShopperSkip.SHOPPER_BOUGHT.cause, T0 + 30 * HOUR + 1)
    events = history.published_events(state, [published, withdrawn, stop, skipped])
    assert [e.stage for e in events] == [1]
    # A stop after a stage that went out does not take the event back.
    assert [e.stage for e in history.published_events(state, [published, withdrawn, stop])] == [1, 2]


def test_a_stage_the_shopper_was_reminded_of_while_the_cart_existed_is_not_announced_again() -> None:
    newer = replace(cart("b", T0 + 60), cart_created_at=T0 + 30)
    reminded = Sibling(cart("a", T0), announced={1: T0 + HOUR})  # older, and its stage 1 went out
    assert announcement(newer, T0 + 60, [reminded], PER_SHOPPER, stage=1) == ShopperVerdict(
        ShopperSkip.SHOPPER_REMINDED, "a"
    )
    assert announcement(newer, T0 + 60, [reminded], PER_SHOPPER, stage=2) is None
    assert announcement(newer, T0 + 60, [reminded], PER_CART, stage=1) is None
    # Reminders that went out before this cart existed were about another shopping trip.
    assert (
        announcement(replace(newer, cart_created_at=T0 + 2 * HOUR), T0 + 60, [reminded], PER_SHOPPER, 1)
        is None
    )
    # A sibling whose series is over (stopped, suppressed, closed) reminds of nothing any more.
    for over in (
        replace(reminded.state, shopper_bought_at=T0 + 10),
        replace(reminded.state, suppressed_at=T0 + 10),
        replace(reminded.state, status=CartStatus.DELETED, closed_at=T0 + 10),
    ):
        assert announcement(newer, T0 + 60, [Sibling(over, announced={1: T0 + HOUR})], PER_SHOPPER, 1) is None


def test_the_stages_announced_are_those_of_the_current_abandonment_that_went_out() -> None:
    state = replace(
        cart("a", T0 + 2 * DAY), stage=2, last_abandoned_stage=2, abandoned_at=T0 + 2 * DAY + HOUR
    )
    entries = [
        Transition(T0 + HOUR, CartStatus.ABANDONED, 1, history.SWEEP),  # an earlier abandonment
        Transition(T0 + 2 * DAY, CartStatus.ACTIVE, 0, "webhook:cart_updated", T0),
        Transition(T0 + 2 * DAY + HOUR, CartStatus.ABANDONED, 1, history.SWEEP),
        Transition(T0 + 2 * DAY + HOUR + 1, CartStatus.ABANDONED, 1, "skipped:newer_cart:b", T0 + 2 * DAY),
        Transition(T0 + 3 * DAY, CartStatus.ABANDONED, 2, history.SWEEP),
    ]
    assert history.announced_stages(state, entries) == {2: T0 + 3 * DAY}
    assert history.announced_stages(state, entries, in_flight_stage=2) == {}  # still in its slot
    assert history.announced_stages(replace(state, status=CartStatus.ACTIVE, stage=0), entries) == {}
