"""Eligibility rules through the real pipeline: sandbox storefront → webhooks → sweep → publisher.

The store has the default rules (an email required) and a minimum value; each skipped cart
says why in the history the query API shows, and only the eligible cart is announced.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from tests.integration.pipeline_support import World, make_world
from tests.integration.query.query_support import HOUR, api_client

from cartwatch.domain.eligibility import EligibilityRules

pytestmark = pytest.mark.integration
ABANDONED = "cartwatch.cart.abandoned"


@pytest.fixture
def strict(moto_endpoint: str) -> Iterator[World]:
    yield from make_world(moto_endpoint, eligibility=EligibilityRules(min_value=Decimal("60.00")))


def test_each_failed_rule_is_recorded_and_only_the_eligible_cart_is_announced(strict: World) -> None:
    queue = strict.consumer_queue(ABANDONED)
    t0 = int(time.time())
    no_email = strict.shop.storefront_add_to_cart(88, 2)  # 99.00, a guest who typed no email
    too_small = strict.shop.storefront_add_to_cart(111, 1)  # 25.00
    strict.shop.storefront_set_guest_email(too_small, "small@example.com")
    eligible = strict.shop.storefront_add_to_cart(88, 2)  # 99.00
    strict.shop.storefront_set_guest_email(eligible, "big@example.com")
    strict.deliver()
    strict.pipeline.drain(now=t0 + HOUR + 5)
    strict.pipeline.drain(now=t0 + 24 * HOUR + 5)

    announced = [(e["subject"], e["data"]["stage"]) for e in strict.received(queue)]
    assert sorted(announced) == [(eligible, 1), (eligible, 2)]
    api = api_client(strict)
    for cart_id, reason in ((no_email, "no_email"), (too_small, "below_min_value")):
        shown = api.cart(strict.store_hash, cart_id).body
        assert shown["status"] == "abandoned" and shown["stage_reached"] == 2
        causes = [entry["cause"] for entry in shown["history"]]
        assert causes == ["created", "sweep", f"skipped:{reason}", "sweep", f"skipped:{reason}"]
        assert shown["events"] == []
    assert [e["stage"] for e in api.cart(strict.store_hash, eligible).body["events"]] == [1, 2]
