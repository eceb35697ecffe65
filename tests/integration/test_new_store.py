"""A store added while cartwatch runs: the functions keep a copy of every store's settings,
read whole at a time (the store directory); a store that is not in
that copy yet is read alone, so its own stages apply from its first cart."""

from __future__ import annotations

import pytest
from tests.integration.pipeline_support import World, join
from tests.integration.test_events import ABANDONED, HOUR, later

pytestmark = pytest.mark.integration


def test_a_store_added_after_the_functions_read_the_stores_has_its_own_stages_from_its_first_cart(
    world: World,
) -> None:
    # The first store's cart goes through every function: each has read the stores by now.
    first = world.consumer_queue(ABANDONED)
    world.shop.storefront_add_to_cart(86, 1)
    world.deliver()
    world.pipeline.drain(now=later(HOUR + 5))
    assert len(world.received(first)) == 1

    newcomer = join(world.sandbox, world.pipeline, stages="20m,2h")
    queue = newcomer.consumer_queue(ABANDONED)
    cart_id = newcomer.shop.storefront_add_to_cart(88, 2)
    newcomer.deliver()
    newcomer.pipeline.drain(now=later(21 * 60))
    [event] = newcomer.received(queue)
    assert (event["subject"], event["data"]["stage"], event["data"]["stage_count"]) == (cart_id, 1, 2)
    assert event["source"] == f"cartwatch/bigcommerce/{newcomer.store_hash}"
