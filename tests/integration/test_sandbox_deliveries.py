"""Issue 5: a cart shopped in the BigCommerce sandbox reaches the pipeline through its signed
deliveries, and duplicated, reordered deliveries end in the same cart state."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from tests.integration.pipeline_support import World, make_world

from cartwatch.domain.cart_record import CartRecord
from cartwatch.domain.lifecycle import CartState, CartStatus


@contextlib.contextmanager
def world_with(moto_endpoint: str, **delivery: Any) -> Iterator[World]:
    worlds = make_world(moto_endpoint)
    world = next(worlds)
    try:
        world.sandbox.configure_delivery(delivery)
        yield world
    finally:
        worlds.close()


def shop_and_buy(world: World) -> tuple[str, int, list[Any]]:
    """Add, add again, change a quantity, apply a coupon, type an email, buy."""
    shop = world.shop
    cart_id = shop.storefront_add_to_cart(86, 1)
    shop.storefront_add_to_cart(88, 2, cart_id=cart_id)
    cart = shop.get_cart(cart_id)
    assert cart is not None
    first_item = cart["line_items"]["physical_items"][0]["id"]
    shop.storefront_update_quantity(cart_id, first_item, 3)
    shop.storefront_apply_coupon(cart_id, "SAVE10")
    shop.storefront_set_guest_email(cart_id, "grace@example.com", first_name="Grace")
    order_id = shop.storefront_convert(cart_id)
    world.deliver()
    world.pipeline.process_intake()  # a second pass for anything a retry put back
    deliveries = [
        d
        for d in world.sandbox.deliveries
        if cart_id in (d.payload["data"].get("id"), d.payload["data"].get("cartId"))
    ]
    return cart_id, order_id, deliveries


def stored_state(world: World, cart_id: str) -> CartState:
    loaded = world.stored(cart_id)
    assert isinstance(loaded, CartRecord)
    return loaded.state


@pytest.mark.integration
def test_sandbox_cart_reaches_the_pipeline_and_duplicates_or_reordering_change_nothing(
    moto_endpoint: str,
) -> None:
    outcomes = {}
    for label, delivery in {
        "in order": {},
        "duplicated+reordered": {"duplicate_rate": 0.5, "reorder": True},
    }.items():
        with world_with(moto_endpoint, **delivery) as world:
            cart_id, order_id, deliveries = shop_and_buy(world)
            assert deliveries and all(d.status == 200 for d in deliveries)  # signed, accepted
            if delivery:
                assert any(d.duplicate for d in deliveries), "the sandbox sent no duplicate"
            state = stored_state(world, cart_id)
            assert state.status is CartStatus.CONVERTED
            assert state.order_id == order_id
            # The last activity is the newest activity webhook BigCommerce sent for the cart.
            activity = [d.payload["created_at"] for d in deliveries if d.scope != "store/cart/converted"]
            assert state.last_activity_at == max(activity)
            outcomes[label] = (state.status, state.stage, state.activity_seen, state.abandoned_token)
    assert outcomes["in order"] == outcomes["duplicated+reordered"]
