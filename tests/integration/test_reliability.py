"""Reliability cases of docs/reliability.md that no other test file covers.

Each drives the real handlers against moto server (and, where a store is needed, the
BigCommerce sandbox through the local gateway), and fails when the behaviour breaks.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from tests.integration.conftest import Aws, Store
from tests.integration.pipeline_support import World
from tests.integration.test_events import ABANDONED, CONVERTED, DAY, HOUR, RECOVERED, later
from tests.integration.test_processor import cart_item, make_processor, message, sqs_event
from tests.integration.test_sweeper import published_intents
from tests.support import FakeLambdaContext, cart_webhook, signed_headers

from cartwatch.adapters.cart_table.items import state_from_item
from cartwatch.domain.cart_record import CartRecord
from cartwatch.domain.lifecycle import CartStatus
from cartwatch.handlers import processor as processor_handler
from cartwatch.handlers import publisher as publisher_handler
from cartwatch.service.processing import CartProcessor
from cartwatch_tools.local.event_sources import DynamoDBStreamEventSource, SqsEventSource
from cartwatch_tools.sandbox.delivery import DeliveryRecord

pytestmark = pytest.mark.integration


def emitted(text: str) -> Counter[str]:
    """Totals of every CloudWatch metric (EMF) the handlers printed."""
    totals: Counter[str] = Counter()
    for line in text.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        blob = json.loads(line)
        for definition in blob["_aws"]["CloudWatchMetrics"]:
            for metric in definition["Metrics"]:
                values = blob[metric["Name"]]
                totals[metric["Name"]] += sum(values) if isinstance(values, list) else values
    return totals


def stored_state(world: World, cart_id: str) -> Any:
    stored = world.stored(cart_id)
    assert isinstance(stored, CartRecord)
    return stored.state


def deliveries_of(world: World, cart_id: str, scope: str) -> list[DeliveryRecord]:
    return [
        d
        for d in world.sandbox.deliveries
        if d.scope == scope
        and d.ok
        and str(d.payload["data"].get("id", d.payload["data"].get("cartId"))) == cart_id
    ]


# --- 1. the same webhook five times ------------------------------------------------------


def test_the_same_conversion_five_times_in_a_row_or_at_once_is_one_transition_one_event_four_duplicates(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    queue = world.consumer_queue(CONVERTED, RECOVERED)
    in_a_row, at_once = (world.shop.storefront_add_to_cart(86, 1) for _ in range(2))
    world.deliver()
    versions = {cart: stored_state(world, cart).version for cart in (in_a_row, at_once)}
    capsys.readouterr()

    def converted(cart_id: str, webhook_id: str) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(
            cart_webhook(world.store_hash, "store/cart/converted", cart_id, int(time.time()), orderId=9000)
        ).encode()
        return body, signed_headers(world.client_secret, body, msg_id=webhook_id)

    # Five times in a row: each delivery is its own intake batch.
    body, headers = converted(in_a_row, "msg_conversion_in_a_row")
    for _ in range(5):
        assert world.post(body, headers) == 200
        world.pipeline.process_intake()
    # Five times at once: five concurrent deliveries, then one batch holding all of them.
    body, headers = converted(at_once, "msg_conversion_at_once")
    barrier = threading.Barrier(5)
    statuses: list[int] = []

    def deliver() -> None:
        barrier.wait()
        statuses.append(world.post(body, headers))

    threads = [threading.Thread(target=deliver) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 5
    world.pipeline.process_intake()
    world.pipeline.publish()

    metrics = emitted(capsys.readouterr().out)
    assert metrics["WebhooksApplied"] == 2  # one transition per cart
    assert metrics["WebhooksDuplicate"] == 8  # the other four of each, counted as duplicates
    for cart in (in_a_row, at_once):
        state = stored_state(world, cart)
        assert (state.status, state.version) == (CartStatus.CONVERTED, versions[cart] + 1)
    events = world.received(queue)
    assert sorted(e["subject"] for e in events) == sorted([in_a_row, at_once])  # one event each


# --- 2. a duplicate 47 hours later ---------------------------------------------------------


def test_a_duplicate_47_hours_later_changes_nothing_and_announces_nothing(world: World) -> None:
    queue = world.consumer_queue(ABANDONED, RECOVERED, CONVERTED)
    idle = world.shop.storefront_add_to_cart(86, 1)
    bought = world.shop.storefront_add_to_cart(88, 1)
    world.deliver()
    world.pipeline.drain(now=later(HOUR + 5))  # both abandoned, stage 1
    world.shop.storefront_convert(bought)
    world.deliver()
    world.pipeline.drain(now=later(HOUR + 10))  # bought: recovered
    world.pipeline.drain(now=later(DAY + 5))  # idle: stage 2
    before = {cart: stored_state(world, cart) for cart in (idle, bought)}
    seen = [(e["subject"], e["type"], e["data"].get("stage")) for e in world.received(queue)]

    # 47 hours after they were first sent, BigCommerce retries the first webhooks of each
    # cart and the conversion (same webhook-id, same body, a fresh signature).
    retried = [
        *deliveries_of(world, idle, "store/cart/created")[:1],
        *deliveries_of(world, bought, "store/cart/created")[:1],
        *deliveries_of(world, bought, "store/cart/converted")[:1],
    ]
    assert len(retried) == 3
    for record in retried:
        assert world.redeliver(record) == 200
    world.pipeline.drain(now=later(47 * HOUR), sweep=False)

    for cart in (idle, bought):
        assert stored_state(world, cart) == before[cart]  # not even a version bump
    assert world.received(queue) == []
    # The idle cart's stages did not restart: stage 3 comes at 48 h, once.
    world.pipeline.drain(now=later(2 * DAY + 5))
    later_events = [(e["subject"], e["type"], e["data"].get("stage")) for e in world.received(queue)]
    assert later_events == [(idle, ABANDONED, 3)]
    assert Counter((s, t) for s, t, _ in seen) == {
        (idle, ABANDONED): 2,
        (bought, ABANDONED): 1,
        (bought, RECOVERED): 1,
    }


# --- 7. updated and converted at the same time -------------------------------------------


def test_updated_and_converted_applied_concurrently_end_converted_with_one_event(
    aws: Aws, store: Store
) -> None:
    t0 = int(time.time()) - 600
    carts = [f"race{n}" for n in range(8)]
    setup = make_processor(aws)
    processor_handler.handler(
        sqs_event(*[message(store, "store/cart/created", c, t0) for c in carts]),
        FakeLambdaContext(),
        processor=setup,
    )
    for cart in carts:
        # Activity after the purchase (a late click) racing the conversion itself.
        results = at_once(
            aws,
            message(store, "store/cart/updated", cart, t0 + 90),
            message(store, "store/cart/converted", cart, t0 + 60, orderId=77),
        )
        assert results == [{"batchItemFailures": []}] * 2
        state = state_from_item(cart_item(aws, store, cart))
        assert (state.status, state.order_id, state.last_activity_at) == (CartStatus.CONVERTED, 77, t0 + 90)
    intents = published_intents(aws)
    assert sorted(i["cart_id"] for i in intents) == sorted(carts)  # exactly one event per cart
    assert {i["type"] for i in intents} == {CONVERTED}


def at_once(aws: Aws, *bodies: str) -> list[dict[str, Any]]:
    """Each intake message to its own processor (its own Lambda), all started together."""
    barrier = threading.Barrier(len(bodies))
    results: list[dict[str, Any]] = []

    def work(processor: CartProcessor, body: str) -> None:
        barrier.wait()
        results.append(processor_handler.handler(sqs_event(body), FakeLambdaContext(), processor=processor))

    threads = [threading.Thread(target=work, args=(make_processor(aws), body)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


# --- 12. the same event twice at a consumer -----------------------------------------------


def test_an_event_delivered_twice_to_a_consumer_queue_carries_the_same_id(world: World) -> None:
    from botocore.exceptions import EndpointConnectionError

    queue = world.consumer_queue(ABANDONED)
    cart = world.shop.storefront_add_to_cart(86, 2)
    world.deliver()
    # The publisher's write after the publish (releasing the outbox slot) is lost once: the
    # stream retries the record and, the slot still held, the event goes out again.
    dynamodb = world.pipeline.functions["publisher"].clients.client("dynamodb")
    calls = {"UpdateItem": 0}

    def lose_the_release(**_: Any) -> None:
        calls["UpdateItem"] += 1
        if calls["UpdateItem"] == 2:  # 1: the stage-1 snapshot, 2: the release
            raise EndpointConnectionError(endpoint_url="dynamodb")

    dynamodb.meta.events.register("before-call.dynamodb.UpdateItem", lose_the_release)
    try:
        world.pipeline.drain(now=later(HOUR + 5))
    finally:
        dynamodb.meta.events.unregister("before-call.dynamodb.UpdateItem", lose_the_release)
    first, second = world.received(queue)
    assert first["subject"] == second["subject"] == cart
    assert second["id"] == first["id"]
    assert second == first  # the same event, not merely the same id
    # Once released, a record the stream delivers again publishes nothing.
    again = DynamoDBStreamEventSource(
        world.pipeline.client("dynamodbstreams"),
        world.pipeline.resources.stream_arn,
        lambda event: publisher_handler.handler(
            event, FakeLambdaContext(), relay=world.pipeline.functions["publisher"].outbox_relay
        ),
    )
    with world.pipeline.acting_as("publisher"):  # a second reader of the stream: the publisher's
        again.drain()
    assert world.received(queue) == []


# --- 13. a handler timing out in the middle of a batch -----------------------------------


class LambdaTimeout(BaseException):
    """The runtime stopping a function mid-call: no ``except Exception`` in the code sees it."""


@pytest.fixture
def times_out_after() -> Iterator[Any]:
    """``times_out_after(client, operations, n)``: the n-th of those calls (only it) never returns."""
    registered: list[tuple[Any, str, Any]] = []

    def arm(client: Any, operations: tuple[str, ...], calls: int) -> None:
        counter = {"seen": 0}

        def stop(**_: Any) -> None:
            counter["seen"] += 1
            if counter["seen"] == calls:
                raise LambdaTimeout

        for operation in operations:
            name = f"before-call.{client.meta.service_model.service_name}.{operation}"
            client.meta.events.register(name, stop)
            registered.append((client, name, stop))

    yield arm
    for client, name, handler in registered:
        client.meta.events.unregister(name, handler)


def as_lambda(handler: Any) -> Any:
    """Lambda's view of a timed-out invocation: a failed invocation ("Task timed out")."""

    def invoke(event: dict[str, Any]) -> Any:
        try:
            return handler(event)
        except LambdaTimeout:
            raise RuntimeError("Task timed out after 60.00 seconds") from None

    return invoke


def test_a_processor_timing_out_mid_batch_is_finished_by_the_retry(
    aws: Aws, store: Store, times_out_after: Any
) -> None:
    sqs = aws.client("sqs")
    t0 = int(time.time()) - 600
    carts = [f"t{n}" for n in range(10)]
    for cart in carts:
        sqs.send_message(
            QueueUrl=aws.resources.intake_queue_url,
            MessageBody=message(store, "store/cart/created", cart, t0),
        )
    function = aws.function("processor")
    processor = function.cart_processor
    # Four carts are written, the fifth write never returns.
    times_out_after(function.clients.client("dynamodb"), ("PutItem", "UpdateItem"), 5)
    with aws.acting_as("processor"):  # its event source mapping polls with the function's role
        source = SqsEventSource(
            sqs,
            aws.resources.intake_queue_url,
            as_lambda(
                lambda event: processor_handler.handler(event, FakeLambdaContext(), processor=processor)
            ),
            batch_size=10,
        )
        assert source.poll_once() == 10  # the whole batch failed: every message becomes visible again
    written = [c for c in carts if "Item" in _get(aws, store, c)]
    assert len(written) == 4
    with aws.acting_as("processor"):
        source.drain()  # the retry
    for cart in carts:
        assert state_from_item(cart_item(aws, store, cart)).version == 1  # applied once, not twice
    assert aws.queue_messages(aws.resources.intake_queue_url) == []
    assert aws.queue_messages(aws.resources.intake_dlq_url) == []


def _get(aws: Aws, store: Store, cart: str) -> dict[str, Any]:
    return aws.client("dynamodb").get_item(
        TableName=aws.resources.table_name,
        Key={"pk": {"S": f"CART#{store.store_hash}#{cart}"}, "sk": {"S": "STATE"}},
        ConsistentRead=True,
    )


def test_a_publisher_timing_out_mid_batch_is_finished_by_the_retry(
    world: World, times_out_after: Any
) -> None:
    queue = world.consumer_queue(ABANDONED)
    carts = [world.shop.storefront_add_to_cart(86, 1) for _ in range(12)]
    world.deliver()
    world.pipeline.sweep(now=later(HOUR + 5))
    publisher = world.pipeline.functions["publisher"]
    relay = publisher.outbox_relay
    # Twelve events are two PublishBatch calls; the first goes out, then time runs out.
    times_out_after(publisher.clients.client("sns"), ("PublishBatch",), 2)
    stream = DynamoDBStreamEventSource(
        world.pipeline.client("dynamodbstreams"),
        world.pipeline.resources.stream_arn,
        as_lambda(lambda event: publisher_handler.handler(event, FakeLambdaContext(), relay=relay)),
    )
    with world.pipeline.acting_as("publisher"):
        stream.poll_once()
        for _ in range(20):
            if not stream.pending:
                break
            stream.poll_once()
    assert stream.pending == 0  # nothing stuck
    events = world.received(queue)
    # Every cart announced; the ten that went out before the timeout went out again, with the same ids.
    assert sorted({e["subject"] for e in events}) == sorted(carts)
    by_cart: dict[str, set[str]] = {}
    for event in events:
        by_cart.setdefault(event["subject"], set()).add(event["id"])
    assert all(len(ids) == 1 for ids in by_cart.values())
    assert len(events) == 12 + 10
    for cart in carts:
        stored = world.stored(cart)
        assert isinstance(stored, CartRecord) and stored.snapshot


# --- deadlines: the uninstall purge stops taking pages before its time runs out ----------


def test_a_purge_step_stops_before_its_time_runs_out_and_the_next_step_finishes(world: World) -> None:
    from dataclasses import replace

    from tests.integration.test_uninstall_purge import seed_carts, store_carts

    from cartwatch.adapters.cart_table.purge import CartPurge
    from cartwatch.adapters.purge_records import PurgeRecords
    from cartwatch.domain.store import StoreSettings
    from cartwatch.service.purge_job import PurgeJob, PurgeStep, StepOutcome, StepReport

    pipeline = world.pipeline
    dynamodb, table = pipeline.client("dynamodb"), pipeline.resources.table_name
    writer = pipeline.writer()
    writer.save(
        StoreSettings(
            "leaving", pipeline.functions["processor"].store_directory.stages_for(world.store_hash, None)
        ),
        access_token="t",
        client_secret="s",
        webhook_token="w",
        created_at=0,
    )
    seed_carts(world, "leaving", 3000)
    job = PurgeJob(
        PurgeRecords(dynamodb, table),
        CartPurge(dynamodb, table, page_items=100),
        writer,
        pipeline.lifecycle.queue,
        max_pages=100,
    )
    reports: list[StepReport] = []

    class Deadlines:
        """The first step's invocation has 60 s, then 60 s, then 10 s left — under the reserve."""

        def step(self, step: PurgeStep, remaining: Any = None) -> StepReport:
            left = iter([60_000, 60_000, 10_000]) if not reports else None
            report = job.step(step, (lambda: next(left)) if left is not None else (lambda: 60_000))
            reports.append(report)
            return report

    pipeline.lifecycle = replace(pipeline.lifecycle, job=Deadlines())  # type: ignore[arg-type]
    app = pipeline.functions["app_callbacks"]
    assert app.store_lifecycle.uninstall("leaving", "app uninstall callback (test)")
    for _ in range(60):  # the first step is queued with a short delay (the store caches' age)
        pipeline.purge()
        if any(r.outcome is StepOutcome.PURGED for r in reports):
            break
        time.sleep(0.5)
    first = reports[0]
    # Three pages of at most 100 items, then the time left fell under the reserve: stopped,
    # its cursor saved and the next step queued, though its segment had more.
    assert first.outcome is StepOutcome.CONTINUED
    assert 0 < first.deleted <= 3 * 100
    assert any(r.outcome is StepOutcome.PURGED for r in reports)
    assert store_carts(replace(world, store_hash="leaving"), "leaving") == 0
