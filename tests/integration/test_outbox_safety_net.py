"""The outbox's safety net against the whole local pipeline: an event whose stream record is
given up on is still published, once, by the publisher's scheduled run; the stream's
retries publish nothing twice; a revoked token parks the event until it is redriven."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from tests.integration.pipeline_support import World
from tests.integration.test_events import ABANDONED, HOUR, later

from cartwatch.domain.cart_record import CartRecord
from cartwatch.domain.write_planner import WritePlanner
from cartwatch.resources import PUBLISHER_STREAM

pytestmark = pytest.mark.integration


@pytest.fixture
def sns_down() -> Iterator[Any]:
    """``sns_down(client)``: every PublishBatch of that client fails until the returned switch is flipped."""
    registered: list[tuple[Any, Any]] = []
    state = {"down": True}

    def arm(client: Any) -> dict[str, bool]:
        def refuse(**_: Any) -> None:
            if state["down"]:
                raise ConnectionError("SNS is unreachable")

        client.meta.events.register("before-call.sns.PublishBatch", refuse)
        registered.append((client, refuse))
        return state

    yield arm
    for client, handler in registered:
        client.meta.events.unregister("before-call.sns.PublishBatch", handler)


def test_an_event_whose_stream_record_exhausted_its_retries_still_arrives_once(
    world: World, sns_down: Any
) -> None:
    queue = world.consumer_queue(ABANDONED)
    carts = [world.shop.storefront_add_to_cart(86, 1) for _ in range(3)]
    world.deliver()
    swept = later(HOUR + 5)
    world.pipeline.sweep(now=swept)
    publisher = world.pipeline.functions["publisher"]
    outage = sns_down(publisher.clients.client("sns"))

    for _ in range(200):  # every attempt fails: bisected, retried, given up on
        world.pipeline.publish()
        if not world.pipeline._stream.pending:
            break
    failures = world.pipeline.client("sqs").receive_message(
        QueueUrl=world.pipeline.resources.publisher_dlq_url, MaxNumberOfMessages=10
    )["Messages"]
    given_up = [json.loads(m["Body"])["requestContext"] for m in failures]
    assert given_up and all(c["condition"] == "RetryAttemptsExhausted" for c in given_up)
    assert all(c["approximateInvokeCount"] == 1 + PUBLISHER_STREAM.max_retry_attempts for c in given_up)
    assert world.received(queue) == []
    # The stream has moved on, but the carts still hold their events in the outbox slot.
    for cart in carts:
        stored = world.stored(cart)
        assert isinstance(stored, CartRecord) and stored.unpublished is not None

    outage["down"] = False
    assert world.pipeline.rescue(now=swept + 1)["rescued"] == 0  # the stream's grace period first
    rescued_at = swept + WritePlanner.OUTBOX_GRACE_SECONDS + 60
    assert world.pipeline.rescue(now=rescued_at)["rescued"] == 3
    assert world.pipeline.rescue(now=rescued_at + 600)["rescued"] == 0
    world.pipeline.publish()
    events = world.received(queue)
    assert sorted(e["subject"] for e in events) == sorted(carts)
    assert len({e["id"] for e in events}) == len(events) == 3  # once per id
    for cart in carts:
        stored = world.stored(cart)
        assert isinstance(stored, CartRecord) and stored.unpublished is None


def test_a_revoked_token_parks_the_event_until_it_is_redriven(world: World) -> None:
    queue = world.consumer_queue(ABANDONED)
    cart = world.shop.storefront_add_to_cart(86, 1)
    world.deliver()
    swept = later(HOUR + 5)
    world.pipeline.sweep(now=swept)
    account = world.shop.account
    world.shop.remove_api_account(account.client_id)  # BigCommerce answers 401 to the stored token
    world.pipeline.publish()
    stored = world.stored(cart)
    assert isinstance(stored, CartRecord) and stored.unpublished is not None
    assert stored.unpublished.parked == "bigcommerce_unauthorized"
    assert world.received(queue) == []
    # The schedule leaves parked events alone...
    assert world.pipeline.rescue(now=swept + 7200)["rescued"] == 0
    # ...until the cause is fixed and they are redriven.
    world.shop.add_api_account(account.client_id, account.access_token, account.client_secret)
    relay = world.pipeline.functions["publisher"].outbox_relay
    assert relay.redrive_parked(now=swept + 7200) == 1
    assert world.pipeline.rescue(now=swept + 7200)["rescued"] == 1
    [event] = world.received(queue)
    assert event["subject"] == cart
