"""The processor against moto server: duplicates, races, late events, poison messages."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from bench.counting import CallCounter
from tests.integration.conftest import Aws, Store
from tests.support import FakeLambdaContext, cart_webhook, sqs_event

from cartwatch.adapters.cart_table.items import state_from_item
from cartwatch.domain.lifecycle import CartStatus
from cartwatch.handlers import processor as processor_handler
from cartwatch.service.intake import Delivery, intake_message
from cartwatch.service.processing import CartProcessor
from cartwatch_tools.local.event_sources import SqsEventSource

T0 = int(time.time()) - 600


def message(
    store: Store, scope: str, cart_id: str, at: int, webhook_id: str | None = None, **data: Any
) -> str:
    body = json.dumps(cart_webhook(store.store_hash, scope, cart_id, at, **data)).encode()
    headers = {"webhook-id": webhook_id} if webhook_id else {}
    return intake_message(Delivery(store.store_hash, body, headers), scope, time.time())


def make_processor(aws: Aws, counter: CallCounter | None = None) -> CartProcessor:
    """The processor function's service, as the composition root builds it."""
    return aws.function("processor", event_handlers=counter.handlers if counter else ()).cart_processor


def run(aws: Aws, *bodies: str, processor: CartProcessor | None = None) -> dict[str, Any]:
    return processor_handler.handler(
        sqs_event(*bodies), FakeLambdaContext(), processor=processor or make_processor(aws)
    )


def cart_item(aws: Aws, store: Store, cart_id: str) -> dict[str, Any]:
    return aws.client("dynamodb").get_item(
        TableName=aws.resources.table_name,
        Key={"pk": {"S": f"CART#{store.store_hash}#{cart_id}"}, "sk": {"S": "STATE"}},
        ConsistentRead=True,
    )["Item"]


@pytest.mark.integration
def test_add_to_cart_burst_is_one_write(aws: Aws, store: Store) -> None:
    counter = CallCounter()
    processor = make_processor(aws, counter)
    response = run(
        aws,
        message(store, "store/cart/created", "c1", T0, "w1"),
        message(store, "store/cart/updated", "c1", T0, "w2"),
        message(store, "store/cart/lineItem/created", "c1", T0, "w3"),
        processor=processor,
    )
    assert response == {"batchItemFailures": []}
    state = state_from_item(cart_item(aws, store, "c1"))
    assert state.status is CartStatus.ACTIVE and state.version == 1
    assert counter.writes == 1


@pytest.mark.integration
def test_same_webhook_five_times_in_a_row_changes_state_once(aws: Aws, store: Store) -> None:
    counter = CallCounter()
    processor = make_processor(aws, counter)
    body = message(store, "store/cart/created", "c1", T0, "same-id")
    for _ in range(5):
        assert run(aws, body, processor=processor) == {"batchItemFailures": []}
    assert state_from_item(cart_item(aws, store, "c1")).version == 1
    assert counter.writes == 1


@pytest.mark.integration
def test_same_webhook_to_five_concurrent_processors_changes_state_once(aws: Aws, store: Store) -> None:
    body = message(store, "store/cart/created", "c1", T0, "same-id")
    counter = CallCounter()
    processors = [make_processor(aws, counter) for _ in range(5)]
    barrier = threading.Barrier(5)
    results: list[dict[str, Any]] = []

    def work(p: CartProcessor) -> None:
        barrier.wait()
        results.append(run(aws, body, processor=p))

    threads = [threading.Thread(target=work, args=(p,)) for p in processors]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [{"batchItemFailures": []}] * 5
    assert state_from_item(cart_item(aws, store, "c1")).version == 1
    assert counter.writes == 1


@pytest.mark.integration
def test_concurrent_different_updates_are_all_kept(aws: Aws, store: Store) -> None:
    run(aws, message(store, "store/cart/created", "c1", T0))
    bodies = [message(store, "store/cart/updated", "c1", T0 + n) for n in range(1, 6)]
    barrier = threading.Barrier(5)

    def work(body: str) -> None:
        barrier.wait()
        assert run(aws, body) == {"batchItemFailures": []}

    threads = [threading.Thread(target=work, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert state_from_item(cart_item(aws, store, "c1")).last_activity_at == T0 + 5


@pytest.mark.integration
def test_late_update_never_regresses_a_converted_cart(aws: Aws, store: Store) -> None:
    run(aws, message(store, "store/cart/created", "c1", T0))
    run(aws, message(store, "store/cart/converted", "c1", T0 + 60, orderId=252))
    run(aws, message(store, "store/cart/updated", "c1", T0 + 30))
    item = cart_item(aws, store, "c1")
    state = state_from_item(item)
    assert state.status is CartStatus.CONVERTED
    assert state.order_id == 252
    # A closed cart leaves the due index once its purchase is published; until then its
    # entry stays put (the rescue run's pointer) and the late update does not move it.
    assert "outbox_shard" not in item and item["unpublished"]["S"]
    assert int(item["due_at"]["N"]) <= T0 + 3600


@pytest.mark.integration
def test_conversion_writes_its_event_intent_with_the_state(aws: Aws, store: Store) -> None:
    run(
        aws,
        message(store, "store/cart/created", "c1", T0),
        message(store, "store/cart/converted", "c1", T0 + 60, orderId=252),
    )
    item = cart_item(aws, store, "c1")
    assert json.loads(item["pending_event"]["S"])["type"] == "cartwatch.cart.converted"
    # A later write (a stale update) clears the intent so the stream never repeats it.
    run(aws, message(store, "store/cart/updated", "c1", T0 + 30))
    assert "pending_event" not in cart_item(aws, store, "c1")


@pytest.mark.integration
def test_batch_with_one_poison_message_applies_nine_and_dead_letters_one(aws: Aws, store: Store) -> None:
    sqs = aws.client("sqs")
    good = [message(store, "store/cart/created", f"cart-{n}", T0, f"w{n}") for n in range(9)]
    poison = json.dumps({"v": 1, "store_hash": store.store_hash, "body": '{"scope": "store/cart/created"}'})
    for body in [*good[:4], poison, *good[4:]]:
        sqs.send_message(QueueUrl=aws.resources.intake_queue_url, MessageBody=body)
    counter = CallCounter()
    processor = make_processor(aws, counter)
    with aws.acting_as("processor"):  # the event source mapping polls with the function's role
        source = SqsEventSource(
            sqs,
            aws.resources.intake_queue_url,
            lambda event: processor_handler.handler(event, FakeLambdaContext(), processor=processor),
        )
        for _ in range(10):  # maxReceiveCount is 5: the poison message is received until it is moved
            source.poll_once()
    assert counter.writes == 9
    carts = [i for i in aws.table_items() if i["pk"]["S"].startswith("CART#")]
    assert len(carts) == 9
    dead = aws.queue_messages(aws.resources.intake_dlq_url)
    assert [json.loads(m["Body"])["body"] for m in dead] == ['{"scope": "store/cart/created"}']
    assert aws.queue_messages(aws.resources.intake_queue_url) == []


@pytest.mark.integration
def test_a_batch_where_everything_fails_raises(aws: Aws, store: Store) -> None:
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    with pytest.raises(BatchProcessingError):
        run(aws, "not an envelope", json.dumps({"v": 1, "store_hash": store.store_hash, "body": "[]"}))


@pytest.mark.integration
def test_an_uninstall_webhook_purges_nothing_and_asks_for_a_check(aws: Aws, store: Store) -> None:
    run(aws, message(store, "store/cart/created", "c1", T0), message(store, "store/cart/created", "c2", T0))
    uninstall = json.dumps(
        {
            "scope": "store/app/uninstalled",
            "store_id": "1",
            "producer": f"stores/{store.store_hash}",
            "created_at": T0 + 5,
            "data": {"type": "store"},
        }
    ).encode()
    envelope = intake_message(Delivery(store.store_hash, uninstall, {}), "store/app/uninstalled", 0.0)
    # Twice in one batch (BigCommerce retries, a forger repeats): one check.
    assert run(aws, envelope, envelope) == {"batchItemFailures": []}

    carts = [i for i in aws.table_items() if i["pk"]["S"].startswith(f"CART#{store.store_hash}#")]
    assert len(carts) == 2
    assert aws.writer().webhook_auth(store.store_hash) is not None
    checks = [json.loads(m["Body"]) for m in aws.queue_messages(aws.resources.purge_queue_url)]
    assert checks == [{"v": 1, "kind": "check-uninstall", "store_hash": store.store_hash}]
