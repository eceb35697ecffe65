"""GET /v1/stores/{store}/stats on moto: a multi-currency store's figures per day and per
currency, tallied from the table's stream, match a brute-force count over the stored carts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from bench.counting import CallCounter
from tests.integration.pipeline_support import make_world
from tests.integration.query.query_support import HOUR, Seeded, api_client, daily_truths

pytestmark = pytest.mark.integration


@pytest.fixture
def multi_currency(moto_endpoint: str) -> Iterator[tuple[Seeded, CallCounter]]:
    """Shoppers in three currencies: abandoned, recovered, bought at once, walked away."""
    tally_calls = CallCounter()
    for world in make_world(
        moto_endpoint, client_event_handlers=lambda f: tally_calls.handlers if f == "figure_tally" else ()
    ):
        seeded = Seeded(world, api_client(world), start=int(time.time()))
        shop = world.shop
        plan = [
            ("USD", "recovered"),
            ("EUR", "recovered"),
            ("EUR", "recovered"),
            ("JPY", "converted"),
            ("USD", "converted"),
            ("EUR", "abandoned"),
            ("JPY", "abandoned"),
            ("USD", "deleted"),
        ]
        for n, (currency, fate) in enumerate(plan):
            cart_id = shop.storefront_add_to_cart((88, 104, 111)[n % 3], 1 + n % 2, currency=currency)
            seeded.fates[cart_id] = fate
        seeded.settle()
        for cart_id, fate in seeded.fates.items():
            if fate == "converted":
                shop.storefront_convert(cart_id, email=f"{cart_id[:6]}@example.com")
            elif fate == "deleted":
                shop.delete_cart(cart_id)
        seeded.settle()
        seeded.sweep(seeded.start + HOUR + 5)  # stage 1 for the open carts
        for cart_id, fate in seeded.fates.items():
            if fate == "recovered":
                shop.storefront_convert(cart_id, email=f"{cart_id[:6]}@example.com")
        seeded.settle()
        seeded.sweep(seeded.start + 30 * HOUR)  # stage 2 (a later day for most runs)
        yield seeded, tally_calls


def amounts(figure: dict[str, Any]) -> dict[str, Decimal]:
    return {v["currency"]: Decimal(v["amount"]) for v in figure["value"]}


def test_each_currency_is_summed_on_its_own_and_matches_the_stored_carts(
    multi_currency: tuple[Seeded, CallCounter],
) -> None:
    seeded, tally_calls = multi_currency
    days = daily_truths(seeded.items())
    stats = seeded.api.stats(seeded.store_hash, **{"to": seeded.start + 3 * 86400}).body
    for day in stats["days"]:
        truth = days.get(day["day"], {})
        assert day["created"] == truth.get("created", 0)
        for name in ("abandoned", "recovered", "converted"):
            expected = {k.rsplit("_", 1)[1]: v for k, v in truth.items() if k.startswith(f"{name}_value_")}
            assert (day[name]["count"], amounts(day[name])) == (truth.get(name, 0), expected), (day, name)
    total = stats["total"]
    assert total["created"] == 8
    assert (total["abandoned"]["count"], total["recovered"]["count"], total["converted"]["count"]) == (
        5,
        3,
        2,
    )
    # Recovered revenue per currency — never one sum of dollars, euros and yen.
    recovered = amounts(total["recovered"])
    assert set(recovered) == {"USD", "EUR"} and all(amount > 0 for amount in recovered.values())
    assert set(amounts(total["converted"])) == {"JPY", "USD"}
    assert set(amounts(total["abandoned"])) == {"USD", "EUR", "JPY"}
    assert total["abandonment_rate"] == round(5 / 8, 4)
    assert total["recovery_rate"] == round(3 / 5, 4)
    # The tally wrote each store-day once per window (the pipeline's drains close one each),
    # never once per cart or per webhook.
    drains = 5
    assert 0 < tally_calls.calls["dynamodb.UpdateItem"] <= drains * len(days)
