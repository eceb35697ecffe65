"""Per-channel stages through the real pipeline: sandbox storefronts on two channels → webhooks
(the channel learnt from the creation hook cartwatch registers for a channel with its own stages)
→ processor → sweeps → publisher → SNS.

The issue's example: channel 1 has 1h,24h,48h and channel 2 — a storefront with another audience —
30m,6h (``--channel-stages 1:1h,24h,48h --channel-stages 2:30m,6h``); the store's own stages, 2h,12h,
are what every other channel's carts follow.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from tests.integration.pipeline_support import World, make_world, validate
from tests.support import signed_headers

from cartwatch.domain.cart_record import CartRecord
from cartwatch.domain.stages import ChannelStages

pytestmark = pytest.mark.integration
ABANDONED = "cartwatch.cart.abandoned"
MINUTE, HOUR = 60, 3600


@pytest.fixture
def storefronts(moto_endpoint: str) -> Iterator[World]:
    yield from make_world(
        moto_endpoint,
        stages="2h,12h",
        channel_stages=(ChannelStages.parse("1:1h,24h,48h"), ChannelStages.parse("2:30m,6h")),
    )


def channel_of(world: World, cart_id: str) -> int | None:
    stored = world.stored(cart_id)
    assert isinstance(stored, CartRecord)
    return stored.state.channel_id


def announced(world: World, queue: str) -> list[tuple[str, int, int]]:
    events = world.received(queue)
    for event in events:
        validate(event)
    return sorted((e["subject"], e["data"]["stage"], e["data"]["stage_count"]) for e in events)


def test_per_channel_stages_are_honoured(storefronts: World) -> None:
    world, queue = storefronts, storefronts.consumer_queue(ABANDONED)
    t0 = int(time.time())
    two = world.shop.storefront_add_to_cart(88, 1, channel_id=2)
    one = world.shop.storefront_add_to_cart(86, 2, channel_id=1)
    three = world.shop.storefront_add_to_cart(88, 1, channel_id=3)
    world.deliver()
    # Channels 1 and 2 are told by their creation hooks; channel 3 has none (it follows the store).
    assert [channel_of(world, cart) for cart in (one, two, three)] == [1, 2, None]

    timeline = [
        (t0 + 30 * MINUTE - 10, []),
        (t0 + 30 * MINUTE + 5, [(two, 1, 2)]),  # channel 2's first stage: at 30 min, not at 1 h
        (t0 + HOUR - 10, []),
        (t0 + HOUR + 5, [(one, 1, 3)]),  # channel 1's first stage: at 1 h, not at the store's 2 h
        (t0 + 2 * HOUR - 10, []),
        (t0 + 2 * HOUR + 5, [(three, 1, 2)]),  # channel 3 follows the store
        (t0 + 6 * HOUR + 5, [(two, 2, 2)]),
        (t0 + 12 * HOUR + 5, [(three, 2, 2)]),
        (t0 + 24 * HOUR + 5, [(one, 2, 3)]),
        (t0 + 48 * HOUR + 5, [(one, 3, 3)]),  # channels 2 and 3 had two stages: nothing more
    ]
    for now, expected in timeline:
        world.pipeline.drain(now=now)
        assert announced(world, queue) == sorted(expected), f"at t0 + {now - t0} s"


def test_a_channel_learnt_late_takes_over_the_carts_stages(storefronts: World) -> None:
    """The creation hook's delivery is late (BigCommerce retries for up to 48 h): the cart follows
    the store's stages until then, and its channel's from then on — due sooner, so the due entry
    moves and the first stage is still announced in the sweep at which it falls due."""
    world, queue = storefronts, storefronts.consumer_queue(ABANDONED)
    hooks = world.shop.hooks.find(world.shop.account.client_id)
    channel_hook = next(h for h in hooks if h.scope == "store/channel/2/cart/created")
    world.shop.deactivate_hook(channel_hook.id)
    t0 = int(time.time())
    late = world.shop.storefront_add_to_cart(88, 1, channel_id=2)
    world.deliver()
    assert channel_of(world, late) is None
    world.pipeline.drain(now=t0 + 10 * MINUTE)

    stored = world.stored(late)
    assert isinstance(stored, CartRecord)
    twin = {
        "scope": "store/channel/2/cart/created",
        "store_id": "1",
        "data": {"cart_id": late},
        "hash": "5" * 40,
        "created_at": stored.state.cart_created_at,
        "producer": f"stores/{world.store_hash}",
    }
    body = json.dumps(twin).encode()
    assert world.post(body, signed_headers(world.client_secret, body)) == 200
    world.pipeline.drain(now=t0 + 20 * MINUTE)
    assert channel_of(world, late) == 2

    world.pipeline.drain(now=t0 + 30 * MINUTE + 5)
    assert announced(world, queue) == [(late, 1, 2)]
    world.pipeline.drain(now=t0 + 6 * HOUR + 5)
    assert announced(world, queue) == [(late, 2, 2)]
