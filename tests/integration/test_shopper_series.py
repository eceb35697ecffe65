"""The shopper, not the cart, over the whole local pipeline: a purchase with one cart stops the
shopper's other series; two abandoned carts of one shopper are announced once per stage."""

from __future__ import annotations

import time

import pytest
from tests.integration.pipeline_support import World
from tests.integration.test_events import ABANDONED, CONVERTED, DAY, HOUR, later

from cartwatch.domain.cart_record import CartRecord

pytestmark = pytest.mark.integration


def causes(world: World, cart_id: str) -> list[str]:
    stored = world.stored(cart_id)
    assert isinstance(stored, CartRecord)
    return [entry.cause for entry in stored.history]


def test_buying_with_cart_b_stops_the_series_of_cart_a(world: World) -> None:
    abandoned, converted = world.consumer_queue(ABANDONED), world.consumer_queue(CONVERTED)
    shopper = world.shop.add_customer("ada@example.com", "Ada", "Lovelace")
    cart_a = world.shop.storefront_add_to_cart(88, 1, customer_id=shopper)
    world.deliver()
    world.pipeline.drain(now=later(HOUR + 5))
    assert [(e["subject"], e["data"]["stage"]) for e in world.received(abandoned)] == [(cart_a, 1)]

    # The shopper comes back on another device: a new cart, bought at once.
    cart_b = world.shop.storefront_add_to_cart(86, 2, customer_id=shopper)
    order_id = world.shop.storefront_convert(cart_b)
    world.deliver()
    world.pipeline.drain(now=later(HOUR + 10))
    [bought] = world.received(converted)
    assert (bought["subject"], bought["data"]["order"]["id"]) == (cart_b, order_id)

    # Cart A stays open on BigCommerce, but its stage 2 and 3 never go out.
    world.pipeline.drain(now=later(DAY + 5))
    world.pipeline.drain(now=later(2 * DAY + 5))
    assert world.received(abandoned) == []
    assert f"stopped:shopper_bought:{cart_b}" in causes(world, cart_a)


def test_two_abandoned_carts_of_one_shopper_get_one_event_per_stage(world: World) -> None:
    abandoned = world.consumer_queue(ABANDONED)
    shopper = world.shop.add_customer("grace@example.com", "Grace", "Hopper")
    older = world.shop.storefront_add_to_cart(88, 1, customer_id=shopper)
    newer = world.shop.storefront_add_to_cart(86, 1, customer_id=shopper)
    # The cart the shopper touched last; webhooks tell time in whole seconds (a tie would go
    # to the greater cart id, either of the two).
    time.sleep(1.1)
    world.shop.storefront_add_to_cart(88, 1, cart_id=newer)
    world.deliver()
    announced = []
    for at in (HOUR + 5, DAY + 5, 2 * DAY + 5):
        world.pipeline.drain(now=later(at))
        announced += [(e["subject"], e["data"]["stage"]) for e in world.received(abandoned)]
    # Per shopper (the default): the most recently active cart, once per stage.
    assert announced == [(newer, 1), (newer, 2), (newer, 3)]
    assert causes(world, older).count(f"skipped:newer_cart:{newer}") == 3
