"""Two carts of one shopper, any interleaving: activity, sweeps, purchases, and the stream's
records reaching the publisher one cart at a time or together, in any order.

* No reminder after a purchase: an abandoned event whose idle period began before a purchase
  of the shopper (of either cart) is never published after that purchase's event.
* Per shopper, when a stage goes out it is for the cart the shopper touched last (of those
  cartwatch knows to be theirs), and for no stage the shopper was already reminded of while
  the cart existed.
* Per cart, every cart is announced as it would be alone — less what a purchase of the other
  cart stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from tests.unit.pipeline_fakes import DAY, HOUR
from tests.unit.shopper_pipeline import Published, ShopperPipeline

from cartwatch.domain.cloud_events import CartAbandoned, CartConverted, CartRecovered
from cartwatch.domain.shopper import ReminderScope

CARTS = ("A", "B")
ORDERS = {"A": 218, "B": 219}
Op = tuple[Any, ...]
# Jane leaves A, then B half an hour later: A's first reminder goes out before cartwatch
# knows B is hers; B's first stage comes while A is still abandoned.
LEFT_APART: list[Op] = [("tick", 1800), ("activity", "B"), ("tick", 1800), ("sweep",), ("publish_all",)]
# Both reminders of stage 2 are in the stream when she buys with B; A's reaches the
# publisher last.
BOUGHT_MEANWHILE: list[Op] = [
    ("tick", HOUR),
    ("sweep",),
    ("publish_all",),
    ("tick", DAY),
    ("sweep",),
    ("buy", "B"),
    ("publish", "B", "B"),
    ("publish", "A"),
]

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("tick"), st.sampled_from([60, 1800, HOUR, 6 * HOUR, DAY])),
        st.tuples(st.just("activity"), st.sampled_from(CARTS)),
        st.tuples(st.just("buy"), st.sampled_from(CARTS)),
        st.tuples(st.just("sweep")),
        st.tuples(st.just("publish"), st.sampled_from(CARTS)),
        st.tuples(st.just("publish"), st.sampled_from(CARTS), st.sampled_from(CARTS)),
        st.tuples(st.just("publish_all")),
    ),
    max_size=40,
)


def play(ops: Sequence[Op], reminders: ReminderScope, carts: Sequence[str] = CARTS) -> ShopperPipeline:
    """The operations on a store with ``carts`` of one shopper (the others' operations dropped)."""
    shop = ShopperPipeline(reminders=reminders)
    for cart_id in CARTS:
        if cart_id in carts:
            shop.cart(cart_id)
        shop.tick(60)
    bought: set[str] = set()
    for op in ops:
        name, *args = op
        if name == "tick":
            shop.tick(args[0])
        elif name == "sweep":
            shop.sweep()
        elif name == "publish_all":
            shop.publish_all()
        elif name == "publish":
            shop.publish(*(c for c in args if c in carts))
        elif args[0] in carts and args[0] not in bought:  # BigCommerce deletes a bought cart
            if name == "buy":
                shop.buy(args[0], ORDERS[args[0]])
                bought.add(args[0])
            else:
                shop.activity(args[0])
    for step in (*[HOUR] * 3, *[DAY] * 3):  # every stage that can still come, comes
        shop.tick(step)
        shop.sweep()
        shop.publish_all()
    return shop


def purchase_time(published: Published) -> int | None:
    event = published.event
    if isinstance(event, CartConverted):
        return int(event.data.converted_at.timestamp())
    if isinstance(event, CartRecovered):
        return int(event.data.recovered_at.timestamp())
    return None


@settings(max_examples=250, deadline=None)
@given(ops=OPS, reminders=st.sampled_from(ReminderScope))
@example(ops=BOUGHT_MEANWHILE, reminders=ReminderScope.PER_CART)
@example(ops=LEFT_APART, reminders=ReminderScope.PER_SHOPPER)
def test_no_reminder_is_published_after_the_shoppers_purchase(
    ops: list[Op], reminders: ReminderScope
) -> None:
    shop = play(ops, reminders)
    purchases: list[tuple[str, int]] = []
    for published in shop.published:
        bought_at = purchase_time(published)
        if bought_at is not None:
            purchases.append((published.event.subject, bought_at))
            continue
        assert isinstance(published.event, CartAbandoned)
        idle_since = int(published.event.data.last_activity_at.timestamp())
        late = [(cart, at) for cart, at in purchases if idle_since <= at]
        assert not late, f"{published.event.subject} stage {published.event.data.stage} after purchase {late}"


@settings(max_examples=250, deadline=None)
@given(ops=OPS)
@example(ops=LEFT_APART)
@example(ops=BOUGHT_MEANWHILE)
def test_per_shopper_a_stage_goes_out_for_the_cart_touched_last_and_never_twice(ops: list[Op]) -> None:
    shop = play(ops, ReminderScope.PER_SHOPPER)
    announced: list[tuple[str, int, int]] = []  # (cart, stage, when)
    for published in shop.published:
        event = published.event
        if not isinstance(event, CartAbandoned):
            continue
        me = published.carts[event.subject]
        for other_id, other in published.carts.items():
            state = other.state
            live = (
                other_id != event.subject
                and other.shopper is not None  # cartwatch knows whose it is
                and state.status.is_open
                and not state.suppressed
                and not state.series_stopped
            )
            if not live:
                continue
            mine = (me.state.last_activity_at, me.state.cart_id)
            assert (state.last_activity_at, other_id) < mine, f"{event.subject} announced, {other_id} newer"
            reminded = [
                when
                for cart, stage, when in announced
                if cart == other_id
                and stage == event.data.stage
                and when >= me.state.cart_created_at
                and state.status.value == "abandoned"
                and state.abandoned_at is not None
                and when >= state.abandoned_at
            ]
            assert not reminded, f"stage {event.data.stage} of {event.subject}: reminded of it by {other_id}"
        announced.append((event.subject, event.data.stage, int(event.time.timestamp())))


@settings(max_examples=150, deadline=None)
@given(ops=OPS)
@example(ops=BOUGHT_MEANWHILE)
def test_per_cart_each_cart_is_announced_as_alone_less_what_a_purchase_stopped(ops: list[Op]) -> None:
    together = play(ops, ReminderScope.PER_CART)
    purchases = {p.event.subject: at for p in together.published if (at := purchase_time(p)) is not None}
    for cart_id in CARTS:
        alone = play(ops, ReminderScope.PER_CART, carts=(cart_id,))
        ids = {p.event.id for p in together.published if p.event.subject == cart_id}
        ids_alone = {p.event.id: p for p in alone.published}
        assert ids <= ids_alone.keys()
        other = next(c for c in CARTS if c != cart_id)
        for missing in ids_alone.keys() - ids:
            event = ids_alone[missing].event
            # Only reminders whose idle period began before the other cart was bought.
            assert isinstance(event, CartAbandoned) and other in purchases, event.type
            assert int(event.data.last_activity_at.timestamp()) <= purchases[other]
