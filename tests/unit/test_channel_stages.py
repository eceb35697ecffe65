"""Per-channel stages: the one rule (the channel's own stages, else the store's), parsing, and the
processor and sweep following a cart's channel — known at once, learnt late, or stale in the index."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.memory_cart_store import MemoryCartStore
from tests.unit.pipeline_fakes import DAY, HOUR, PLANNER, STAGES, STORE, T0, Stores, webhook

from cartwatch.domain.cart_record import CartRecord
from cartwatch.domain.cart_webhooks import (
    HOOK_SCOPES,
    WebhookKind,
    channel_hook_scope,
    hook_scopes,
    is_channel_hook_scope,
)
from cartwatch.domain.event_types import ABANDONED
from cartwatch.domain.stages import ChannelStages, StageSchedule, by_channel
from cartwatch.domain.store import StoreSettings
from cartwatch.domain.write_plan import Revision
from cartwatch.service.processing import CartProcessor
from cartwatch.service.sweeping import AbandonmentSweep

K = WebhookKind
MINUTE = 60
SHORT = StageSchedule.parse("30m,6h")  # channel 2: a storefront with an impatient audience
CHANNELS = (ChannelStages(2, SHORT),)


# --- the rule and its parsing --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "channel", "stages"),
    [("2:30m,6h", 2, "30m,6h"), (" 1 : 1h,24h,48h ", 1, "1h,1d,2d"), ("17:90s", 17, "90s")],
)
def test_a_channel_schedule_reads_channel_colon_stages(text: str, channel: int, stages: str) -> None:
    parsed = ChannelStages.parse(text)
    assert (parsed.channel_id, str(parsed.stages)) == (channel, stages)
    assert ChannelStages.parse(str(parsed)) == parsed


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("30m,6h", "'30m,6h' is not CHANNEL:STAGES, e.g. 2:30m,6h"),
        ("2:", "'2:' is not CHANNEL:STAGES"),
        (":1h", "':1h' is not CHANNEL:STAGES"),
        ("0:1h", "'0' is not a channel id (a positive whole number)"),
        ("-1:1h", "'-1' is not a channel id"),
        ("two:1h", "'two' is not a channel id"),
        ("2:1h,30m", "channel 2: stage delays must increase"),
        ("2:5x", "channel 2: '5x' is not a duration"),
        ("2:31d", "channel 2: the last stage must fall before BigCommerce expires the cart"),
    ],
)
def test_a_bad_channel_schedule_says_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ValueError, match="^" + says.replace("(", r"\(").replace(")", r"\)")):
        ChannelStages.parse(text)


def test_a_channel_given_twice_is_refused_and_schedules_are_kept_in_channel_order() -> None:
    three, two = ChannelStages.parse("3:15m"), ChannelStages.parse("2:30m,6h")
    assert by_channel([three, two]) == (two, three)
    with pytest.raises(ValueError, match="channel 2 is given more than one schedule"):
        by_channel([two, three, ChannelStages.parse("2:1h")])
    with pytest.raises(ValueError, match="channel 2 is given more than one schedule"):
        StoreSettings(STORE, STAGES, channel_stages=(two, two))


schedules = st.lists(st.integers(min_value=1, max_value=60), min_size=1, max_size=4, unique=True).map(
    lambda minutes: StageSchedule(tuple(sorted(m * 60 for m in minutes)))
)


@given(
    own=st.dictionaries(st.integers(min_value=1, max_value=8), schedules, max_size=4),
    channel=st.one_of(st.none(), st.integers(min_value=1, max_value=10)),
)
def test_a_cart_follows_its_channels_stages_if_the_store_gives_it_some_else_the_stores(
    own: dict[int, StageSchedule], channel: int | None
) -> None:
    settings = StoreSettings(STORE, STAGES, channel_stages=tuple(ChannelStages(c, s) for c, s in own.items()))
    expected = own.get(channel, STAGES) if channel is not None else STAGES
    assert settings.stages_for(channel) == expected
    assert settings.stages_for(None) == STAGES  # a channel not known yet: the store's


def test_a_channel_with_its_own_stages_adds_one_hook_its_creation_twin() -> None:
    settings = StoreSettings(
        STORE, STAGES, channel_stages=(ChannelStages(12, SHORT), ChannelStages(2, SHORT))
    )
    assert settings.hook_scopes == (
        *HOOK_SCOPES,
        "store/channel/2/cart/created",
        "store/channel/12/cart/created",
    )
    assert StoreSettings(STORE, STAGES).hook_scopes == HOOK_SCOPES == hook_scopes()
    assert is_channel_hook_scope(channel_hook_scope(7))
    assert not any(is_channel_hook_scope(scope) for scope in HOOK_SCOPES)
    assert not is_channel_hook_scope("store/channel/7/cart/updated")


# --- the pipeline follows the cart's channel -------------------------------------------------------


def processor(store: MemoryCartStore, at: int = T0) -> CartProcessor:
    return CartProcessor(
        store, PLANNER, Stores(channel_stages=CHANNELS), check_uninstall=lambda _: None, clock=lambda: at
    )


def sweep(store: MemoryCartStore, now: int) -> Any:
    return AbandonmentSweep(store, PLANNER, Stores(channel_stages=CHANNELS), clock=lambda: now).run(now)


def created(cart_id: str, channel: int | None, at: int = T0) -> Any:
    """A cart's creation: the store-wide webhook, and its channel twin when the channel has a hook."""
    store_wide = webhook(cart_id, K.CREATED, at)
    if channel is None:
        return [store_wide]
    return [store_wide, webhook(cart_id, K.CREATED, at, key=f"{cart_id}:twin", channel_id=channel)]


def announced(store: MemoryCartStore) -> list[tuple[str, int, int]]:
    """Every abandonment event committed: (cart, stage, stage count)."""
    found = []
    for plan in store.applied:
        event = plan.record.outbox if isinstance(plan, Revision) else plan.outbox
        if event is not None and event.type == ABANDONED:
            found.append((plan.ref[1], event.stage, event.stage_count))
    return sorted(found)


def due_at(store: MemoryCartStore, cart_id: str) -> int | None:
    record = store.load(STORE, cart_id)
    assert isinstance(record, CartRecord)
    return record.due.at if record.due is not None else None


def test_carts_of_a_channel_with_its_own_stages_follow_them_and_every_other_cart_the_stores() -> None:
    store = MemoryCartStore()
    processor(store).apply([*created("two", 2), *created("one", 1), *created("unknown", None)])
    assert {cart: due_at(store, cart) for cart in ("two", "one", "unknown")} == {
        "two": T0 + 30 * MINUTE,
        "one": T0 + HOUR,
        "unknown": T0 + HOUR,
    }
    for now in (T0 + 30 * MINUTE - 1, T0 + 30 * MINUTE, T0 + HOUR, T0 + 6 * HOUR, T0 + DAY, T0 + 2 * DAY):
        sweep(store, now)
    assert announced(store) == [
        ("one", 1, 3),
        ("one", 2, 3),
        ("one", 3, 3),
        ("two", 1, 2),
        ("two", 2, 2),
        ("unknown", 1, 3),
        ("unknown", 2, 3),
        ("unknown", 3, 3),
    ]
    # Exact: each stage in the sweep at which it fell due, never a sweep later.
    abandoned = store.load(STORE, "two")
    assert isinstance(abandoned, CartRecord) and abandoned.state.abandoned_at == T0 + 30 * MINUTE
    assert store.conflicts == []  # decided from the index entries, the channel re-checked by the write


def test_a_channel_learnt_late_moves_the_due_time_to_the_channels_stages_from_then_on() -> None:
    store = MemoryCartStore()
    processor(store).apply(created("late", None))  # the channel twin is delayed
    assert due_at(store, "late") == T0 + HOUR
    processor(store, at=T0 + 10 * MINUTE).apply(
        [webhook("late", K.CREATED, T0, key="late:twin", channel_id=2)]
    )
    assert due_at(store, "late") == T0 + 30 * MINUTE  # earlier than the store's: the entry moved
    assert sweep(store, T0 + 30 * MINUTE - 1).abandoned_total == 0
    assert sweep(store, T0 + 30 * MINUTE).abandoned_total == 1
    assert announced(store) == [("late", 1, 2)]


def test_a_channel_learnt_after_the_first_stage_sets_the_next_stage_by_the_channels_stages() -> None:
    store = MemoryCartStore()
    processor(store).apply(created("later", None))
    sweep(store, T0 + HOUR)  # stage 1 of the store's three
    assert due_at(store, "later") == T0 + DAY
    processor(store, at=T0 + 2 * HOUR).apply(
        [webhook("later", K.CREATED, T0, key="later:twin", channel_id=2)]
    )
    assert due_at(store, "later") == T0 + 6 * HOUR
    sweep(store, T0 + 6 * HOUR)
    assert announced(store) == [("later", 1, 3), ("later", 2, 2)]
    sweep(store, T0 + 2 * DAY)  # the channel has two stages: nothing more
    assert len(announced(store)) == 2


def test_a_stale_index_entry_without_the_channel_is_decided_again_with_the_channels_stages() -> None:
    store = MemoryCartStore()
    processor(store).apply(created("stale", None))
    lagging = store.index_entries()  # still without the channel (and due at the store's 1 h)
    processor(store, at=T0 + 10 * MINUTE).apply(
        [webhook("stale", K.CREATED, T0, key="stale:twin", channel_id=2)]
    )
    store.serve_index(lagging)
    report = sweep(store, T0 + HOUR)
    # The entry would have said "stage 1 of 3, stage 2 in a day"; the write's channel guard
    # refused it and the stored cart decided: stage 1 of the channel's 2, stage 2 at 6 h.
    assert (report.conflicts, dict(report.abandoned)) == (1, {1: 1})
    assert announced(store) == [("stale", 1, 2)]
    store.serve_index(None)
    assert due_at(store, "stale") == T0 + 6 * HOUR
