"""Issue 3 end to end: sandbox store → receiver → processor → sweeper → publisher → SNS → SQS."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from tests.integration.pipeline_support import World, make_world, validate

from cartwatch.domain.cart_record import CartRecord
from cartwatch.domain.lifecycle import CartStatus

ABANDONED = "cartwatch.cart.abandoned"
RECOVERED = "cartwatch.cart.recovered"
CONVERTED = "cartwatch.cart.converted"
HOUR, DAY = 3600, 86400


def later(seconds: int) -> int:
    return int(time.time()) + seconds


def registered_shopper(world: World) -> tuple[str, int]:
    customer_id = world.shop.add_customer("ada@example.com", "Ada", "Lovelace", phone="+44 20 7946 0000")
    world.shop.add_subscriber("ada@example.com", consents=["abandoned_cart", "marketing_newsletter"])
    cart_id = world.shop.storefront_add_to_cart(88, 2, customer_id=customer_id)
    world.shop.storefront_add_to_cart(86, 1, cart_id=cart_id)
    world.deliver()
    return cart_id, customer_id


@pytest.mark.integration
def test_idle_cart_gets_one_abandoned_event_per_stage_with_everything_a_reminder_needs(world: World) -> None:
    queue = world.consumer_queue(ABANDONED)
    cart_id, customer_id = registered_shopper(world)
    world.pipeline.drain(now=later(HOUR + 5))
    events = world.received(queue)
    assert [e["data"]["stage"] for e in events] == [1]
    event = events[0]
    validate(event)
    assert event["type"] == ABANDONED
    assert event["source"] == f"cartwatch/bigcommerce/{world.store_hash}"
    assert event["subject"] == cart_id
    data = event["data"]
    assert data["currency"] == "USD"
    assert len(data["line_items"]) == 2
    assert {item["product_id"] for item in data["line_items"]} == {88, 86}
    assert all(isinstance(item["sale_price"], str) for item in data["line_items"])  # exact decimals
    bigcommerce_cart = world.shop.get_cart(cart_id)
    assert Decimal(data["totals"]["cart_amount"]) == Decimal(str(bigcommerce_cart["cart_amount"]))
    customer = data["customer"]
    assert (customer["id"], customer["email"], customer["is_guest"]) == (
        customer_id,
        "ada@example.com",
        False,
    )
    assert customer["consent"]["abandoned_cart_emails"] is True
    stage_one_calls = world.pipeline.functions["publisher"].outbox_relay.bigcommerce_calls
    assert stage_one_calls <= 3

    # Later stages follow, from the stage-1 snapshot: one BigCommerce call each (still open?).
    world.pipeline.drain(now=later(DAY + 5))
    world.pipeline.drain(now=later(2 * DAY + 5))
    later_events = world.received(queue)
    assert [e["data"]["stage"] for e in later_events] == [2, 3]
    for e in later_events:
        validate(e)
        assert e["data"]["line_items"] == data["line_items"]
    assert len({e["id"] for e in [event, *later_events]}) == 3
    assert world.pipeline.functions["publisher"].outbox_relay.bigcommerce_calls == stage_one_calls + 2


@pytest.mark.integration
def test_conversion_after_abandonment_is_one_recovered_event_with_the_order(world: World) -> None:
    abandoned_q, outcome_q = world.consumer_queue(ABANDONED), world.consumer_queue(RECOVERED, CONVERTED)
    cart_id, _ = registered_shopper(world)
    world.pipeline.drain(now=later(HOUR + 5))
    order_id = world.shop.storefront_convert(cart_id)
    world.deliver()
    world.pipeline.drain(now=later(HOUR + 10))
    outcomes = world.received(outcome_q)
    assert [e["type"] for e in outcomes] == [RECOVERED]
    recovered = outcomes[0]
    validate(recovered)
    assert recovered["data"]["order"]["id"] == order_id
    assert recovered["data"]["order"]["total"] is not None
    assert recovered["data"]["stage_reached"] == 1
    assert len(world.received(abandoned_q)) == 1


@pytest.mark.integration
def test_a_lost_converted_webhook_means_no_stage_two_reminder_but_a_recovered_event(world: World) -> None:
    abandoned_q, outcome_q = world.consumer_queue(ABANDONED), world.consumer_queue(RECOVERED, CONVERTED)
    cart_id, _ = registered_shopper(world)
    world.pipeline.drain(now=later(HOUR + 5))
    assert [e["data"]["stage"] for e in world.received(abandoned_q)] == [1]
    # BigCommerce gave up on the hooks (48 h of failures): the purchase sends no webhook.
    for scope in ("store/cart/converted", "store/channel/1/cart/converted"):
        for hook in world.shop.hooks.matching(scope):
            world.shop.deactivate_hook(hook.id)
    order_id = world.shop.storefront_convert(cart_id)
    world.deliver()
    world.pipeline.drain(now=later(DAY + 5))
    # Stage 2 asked BigCommerce, found the cart bought: no reminder, the purchase instead.
    assert world.received(abandoned_q) == []
    outcomes = world.received(outcome_q)
    assert [(e["type"], e["data"]["order"]["id"]) for e in outcomes] == [(RECOVERED, order_id)]
    validate(outcomes[0])
    world.pipeline.drain(now=later(2 * DAY + 5))
    assert world.received(abandoned_q) == [] and world.received(outcome_q) == []


@pytest.mark.integration
def test_converted_before_abandonment_is_converted_never_abandoned(world: World) -> None:
    abandoned_q, outcome_q = world.consumer_queue(ABANDONED), world.consumer_queue(RECOVERED, CONVERTED)
    cart_id = world.shop.storefront_add_to_cart(86, 1)
    world.shop.storefront_set_guest_email(cart_id, "guest@example.com", first_name="Grace")
    order_id = world.shop.storefront_convert(cart_id)
    world.deliver()
    world.pipeline.drain(now=later(3 * DAY))
    outcomes = world.received(outcome_q)
    assert [(e["type"], e["data"]["order"]["id"]) for e in outcomes] == [(CONVERTED, order_id)]
    validate(outcomes[0])
    assert world.received(abandoned_q) == []


@pytest.mark.integration
def test_deleted_cart_publishes_nothing(world: World) -> None:
    queue = world.consumer_queue(ABANDONED, RECOVERED, CONVERTED)
    cart_id = world.shop.storefront_add_to_cart(86, 1)
    world.shop.delete_cart(cart_id)
    world.deliver()
    world.pipeline.drain(now=later(3 * DAY))
    assert world.received(queue) == []


@pytest.mark.integration
def test_cart_gone_in_bigcommerce_at_abandonment_publishes_nothing(world: World) -> None:
    queue = world.consumer_queue(ABANDONED)
    cart_id = world.shop.storefront_add_to_cart(86, 1)
    world.deliver()
    # BigCommerce deletes the cart, but that webhook is still on its way when the sweep runs.
    world.shop.delete_cart(cart_id)
    world.pipeline.sweep(now=later(HOUR + 5))
    world.pipeline.publish()
    assert world.received(queue) == []
    stored = world.stored(cart_id)
    assert isinstance(stored, CartRecord) and stored.state.status is CartStatus.DELETED


class SnsOutage(Exception):
    """SNS failing the first publish call (an outage right after the state committed)."""


class FirstPublishFails:
    """A botocore handler on the publisher's SNS client: the first PublishBatch fails."""

    def __init__(self) -> None:
        self.refused: list[str] = []

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        if not self.refused:
            self.refused = [
                json.loads(entry["Message"])["id"] for entry in params["PublishBatchRequestEntries"]
            ]
            raise SnsOutage("injected")


@pytest.mark.integration
def test_sns_outage_after_commit_still_publishes_later_with_the_same_id(world: World) -> None:
    queue = world.consumer_queue(ABANDONED)
    registered_shopper(world)
    flaky = FirstPublishFails()
    sns = world.pipeline.functions["publisher"].clients.client("sns")
    sns.meta.events.register("before-parameter-build.sns.PublishBatch", flaky)
    world.pipeline.process_intake()
    world.pipeline.sweep(now=later(HOUR + 5))
    assert world.pipeline.publish() == 0  # the record failed and stays for a retry
    assert world.received(queue) == []
    world.pipeline.publish()  # the event source retries the record
    events = world.received(queue)
    assert [e["id"] for e in events] == flaky.refused


@pytest.mark.integration
def test_rate_limited_bigcommerce_is_waited_for(world: World) -> None:
    queue = world.consumer_queue(ABANDONED)
    registered_shopper(world)
    world.sandbox.inject_faults(r"/v3/checkouts/", [429], reset_ms=200)
    world.pipeline.drain(now=later(HOUR + 5))
    events = world.received(queue)
    assert len(events) == 1
    assert events[0]["data"]["line_items"]


@pytest.fixture
def linking_world(moto_endpoint: str) -> Iterator[World]:
    yield from make_world(moto_endpoint, recovery_links=True)


@pytest.mark.integration
def test_recovery_link_copy_recovers_the_original_and_is_never_announced(linking_world: World) -> None:
    world = linking_world
    abandoned_q, outcome_q = world.consumer_queue(ABANDONED), world.consumer_queue(RECOVERED, CONVERTED)
    cart_id, _ = registered_shopper(world)
    world.pipeline.drain(now=later(HOUR + 5))
    [abandoned] = world.received(abandoned_q)
    link = abandoned["data"]["recovery_link"]
    assert link["url"] and link["cart_id"] and link["cart_id"] != cart_id
    world.deliver()  # the copy's own webhooks (BigCommerce fires them for the recreated cart)

    # The shopper follows the link and buys the copy.
    order_id = world.shop.storefront_convert(link["cart_id"])
    world.deliver()
    world.pipeline.drain(now=later(HOUR + 10))
    outcomes = world.received(outcome_q)
    assert [(e["type"], e["subject"], e["data"]["order"]["id"]) for e in outcomes] == [
        (RECOVERED, cart_id, order_id)
    ]
    # Days later: neither the recovered original nor the copy is ever announced again.
    world.pipeline.drain(now=later(3 * DAY))
    assert world.received(abandoned_q) == []


def stream_record_of(world: World, cart_id: str, stage: int) -> dict[str, Any]:
    """The stream record that carries this cart's stage-``stage`` event intent."""
    streams = world.pipeline.client("dynamodbstreams")
    arn = world.pipeline.resources.stream_arn
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    for record in streams.get_records(ShardIterator=iterator)["Records"]:
        image = record["dynamodb"].get("NewImage", {})
        pending = image.get("pending_event", {}).get("S")
        if image.get("cart_id", {}).get("S") == cart_id and pending and json.loads(pending)["stage"] == stage:
            return {**record, "shardId": shard["ShardId"]}
    raise AssertionError(f"no stream record for {cart_id} stage {stage}")


@pytest.mark.integration
def test_an_event_whose_publish_keeps_failing_is_given_up_by_the_stream_and_rescued(world: World) -> None:
    """SNS keeps refusing (here: the topic is gone), step by step.

    The stream mapping retries the batch, bisects it down to single records, retries each
    PUBLISHER_STREAM.max_retry_attempts times, then gives up: the on-failure queue gets the
    records' stream coordinates only.  The events are not lost: each cart keeps its event in
    its outbox slot, and once SNS accepts messages again the publisher's scheduled run
    publishes them — with the data enriched once, before the first attempt.
    """
    from cartwatch.domain.write_planner import WritePlanner
    from cartwatch.resources import PUBLISHER_STREAM

    pipeline = world.pipeline
    sns = pipeline.client("sns")
    carts = [world.shop.storefront_add_to_cart(86, 1) for _ in range(3)]
    world.deliver()
    sns.delete_topic(TopicArn=pipeline.resources.topic_arn)  # every publish is refused from now on
    swept = later(HOUR + 5)
    assert pipeline.sweep(now=swept)["abandoned"] == 3  # the state commits: 3 intents

    for _ in range(200):
        pipeline.publish()
        if not pipeline._stream.pending:
            break
    discarded = [
        json.loads(m["Body"])
        for m in pipeline.client("sqs")
        .receive_message(QueueUrl=pipeline.resources.publisher_dlq_url, MaxNumberOfMessages=10)
        .get("Messages", [])
    ]

    # One discarded batch per record: the batch of 3 raised (every record failed), was
    # bisected to single records, and each was retried until the retries ran out.
    assert len(discarded) == 3
    expected = {cart: stream_record_of(world, cart, 1) for cart in carts}
    by_start = {d["DDBStreamBatchInfo"]["startSequenceNumber"]: d for d in discarded}
    for cart, record in expected.items():
        info = by_start[record["dynamodb"]["SequenceNumber"]]
        assert info["DDBStreamBatchInfo"]["batchSize"] == 1
        assert info["DDBStreamBatchInfo"]["shardId"] == record["shardId"]
        assert info["requestContext"]["condition"] == "RetryAttemptsExhausted"
        assert info["requestContext"]["approximateInvokeCount"] == 1 + PUBLISHER_STREAM.max_retry_attempts
        assert cart not in json.dumps(info)  # coordinates, never the event or the cart
    # Enriched once: every retry published from the snapshot stored before the first attempt.
    calls = pipeline.functions["publisher"].outbox_relay.bigcommerce_calls
    assert 3 <= calls <= 3 * 3

    # SNS works again (same topic ARN) and a consumer subscribes: the safety net publishes them.
    assert sns.create_topic(Name=pipeline.resources.topic_arn.rsplit(":", 1)[1])["TopicArn"] == (
        pipeline.resources.topic_arn
    )
    queue = world.consumer_queue(ABANDONED)
    for cart in carts:
        stored = world.stored(cart)
        assert isinstance(stored, CartRecord) and stored.snapshot and stored.unpublished is not None
    assert pipeline.rescue(now=swept + WritePlanner.OUTBOX_GRACE_SECONDS + 1)["rescued"] == 3
    rescued = world.received(queue)
    assert sorted((e["subject"], e["data"]["stage"]) for e in rescued) == sorted((cart, 1) for cart in carts)
    assert pipeline.functions["publisher"].outbox_relay.bigcommerce_calls == calls
    # The next stage is announced normally.
    pipeline.drain(now=later(DAY + 5))
    assert sorted((e["subject"], e["data"]["stage"]) for e in world.received(queue)) == sorted(
        (cart, 2) for cart in carts
    )
