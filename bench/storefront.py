"""A realistic storefront mix, as BigCommerce would deliver it.

Each shopper's clicks fire the webhooks BigCommerce documents (FACTS.md §1.2): the first
add-to-cart fires created + updated + lineItem/created, later adds updated +
lineItem/created, a quantity change updated + lineItem/updated, a coupon couponApplied +
updated, a guest entering an email updated; some shoppers buy (converted), some empty the
cart (lineItem/deleted + updated + deleted), the rest walk away.  About 5 % of deliveries
arrive twice, as BigCommerce's at-least-once delivery does.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class Delivery:
    at: float  # seconds from the start of the replay
    scope: str
    cart_id: str
    created_at: int
    webhook_id: str
    data: dict[str, object]


def storefront_mix(
    shoppers: int, *, start: int, seed: int = 7, duplicate_rate: float = 0.05
) -> list[Delivery]:
    rng = random.Random(seed)
    deliveries: list[Delivery] = []

    def fire(t: float, cart: str, scope: str, **data: object) -> None:
        webhook_id = f"msg_{uuid.UUID(int=rng.getrandbits(128)).hex}"
        delivery = Delivery(t, scope, cart, start + int(t), webhook_id, data)
        deliveries.append(delivery)
        if rng.random() < duplicate_rate:
            deliveries.append(Delivery(t + rng.uniform(1, 90), scope, cart, start + int(t), webhook_id, data))

    for shopper in range(shoppers):
        cart = str(uuid.UUID(int=rng.getrandbits(128)))
        t = rng.uniform(0, shoppers * 2.0)  # arrivals spread over the replay
        adds = 1 + rng.choice([0, 0, 1, 1, 2])
        for item in range(1, adds + 1):
            if item > 1:
                t += rng.uniform(15, 240)
            if item == 1:
                fire(t, cart, "store/cart/created")
            fire(t, cart, "store/cart/updated")
            fire(t, cart, "store/cart/lineItem/created", item_id=f"{cart}-i{item}")
        if rng.random() < 0.35:
            t += rng.uniform(10, 120)
            fire(t, cart, "store/cart/updated")
            fire(t, cart, "store/cart/lineItem/updated", item_id=f"{cart}-i1")
        if rng.random() < 0.15:
            t += rng.uniform(10, 60)
            fire(t, cart, "store/cart/couponApplied", couponId=rng.randint(1, 5))
            fire(t, cart, "store/cart/updated")
        ending = rng.random()
        if ending < 0.30:
            t += rng.uniform(30, 300)
            fire(t, cart, "store/cart/updated")  # guest enters an email at checkout
            t += rng.uniform(30, 300)
            fire(t, cart, "store/cart/converted", orderId=1000 + shopper)
        elif ending < 0.38:
            t += rng.uniform(10, 120)
            fire(t, cart, "store/cart/lineItem/deleted", item_id=f"{cart}-i1")
            fire(t, cart, "store/cart/updated")
            fire(t, cart, "store/cart/deleted")
        del shopper
    deliveries.sort(key=lambda d: d.at)
    return deliveries
