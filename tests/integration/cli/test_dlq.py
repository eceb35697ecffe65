"""`cartwatch dlq list|redrive` against moto server: the intake DLQ goes back to the intake
queue and its webhooks are applied once; parked publisher events go back to the outbox."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.integration.cli.cli_support import CliRun
from tests.integration.conftest import Aws, Store
from tests.integration.test_processor import cart_item, message
from tests.support import FakeLambdaContext

from cartwatch.adapters.cart_table.items import state_from_item
from cartwatch.domain.cart_record import CartRecord, OutboxEvent, OutboxSlot
from cartwatch.domain.event_types import ABANDONED
from cartwatch.domain.lifecycle import CartState, CartStatus
from cartwatch.domain.write_plan import Revision
from cartwatch.handlers import processor as processor_handler
from cartwatch_tools.local.event_sources import SqsEventSource

pytestmark = pytest.mark.integration


def test_redrive_empties_the_intake_dlq_into_the_queue_and_the_webhooks_are_applied_once(
    aws: Aws, store: Store, cli: Callable[..., CliRun]
) -> None:
    sqs = aws.client("sqs")
    t0 = 1_800_000_000
    created = message(store, "store/cart/created", "c1", t0, webhook_id="msg-1")
    updated = message(store, "store/cart/updated", "c1", t0 + 60, webhook_id="msg-2")
    # What the intake queue dead-lettered during an incident — one webhook twice (a retry).
    for body in (created, updated, updated):
        sqs.send_message(QueueUrl=aws.resources.intake_dlq_url, MessageBody=body)

    listed = cli("dlq", "list")
    assert listed.code == 0, listed.err
    intake_line = next(line for line in listed.out.splitlines() if line.startswith("intake"))
    assert " 3 messages" in intake_line and "oldest" in intake_line

    processor = aws.function("processor").cart_processor
    intake = SqsEventSource(
        sqs,
        aws.resources.intake_queue_url,
        lambda event: processor_handler.handler(event, FakeLambdaContext(), processor=processor),
        batch_size=10,
    )
    assert cli("dlq", "redrive", "intake", "--max", "1").out.startswith("intake: 1 messages moved")
    intake.drain()
    assert state_from_item(cart_item(aws, store, "c1")).version == 1
    done = cli("dlq", "redrive", "intake")
    assert done.code == 0 and "2 messages moved" in done.out
    assert aws.queue_messages(aws.resources.intake_dlq_url) == []
    intake.drain()
    state = state_from_item(cart_item(aws, store, "c1"))
    # The update applied once: one more write, whatever the order; the duplicate changed nothing.
    assert (state.last_activity_at, state.version) == (t0 + 60, 2)
    assert aws.queue_messages(aws.resources.intake_queue_url) == []


def test_parked_events_are_listed_with_their_reason_and_redriven_into_the_outbox(
    aws: Aws, cli: Callable[..., CliRun]
) -> None:
    event = OutboxEvent(ABANDONED, 1_800_000_000, stage=1, stage_count=3)
    state = CartState("s1", "c1", CartStatus.ABANDONED, 1_799_990_000, 1_799_990_000, stage=1, version=1)
    parked = CartRecord(state=state, unpublished=OutboxSlot(event, "PARKED", 1_800_000_600, "store_gone"))
    aws.carts().apply(Revision(None, parked))

    listed = cli("dlq", "list")
    assert "publisher-parked        1 events    store_gone: 1" in listed.out
    redriven = cli("dlq", "redrive", "publisher-parked")
    assert redriven.code == 0 and "1 events back in the outbox" in redriven.out
    stored = aws.carts().load("s1", "c1")
    assert isinstance(stored, CartRecord) and stored.unpublished is not None
    assert (stored.unpublished.shard, stored.unpublished.parked) == ("OUTBOX#00", None)
    assert "publisher-parked        0 events" in cli("dlq", "list").out


def test_dlq_needs_a_local_target_and_a_positive_max(cli: Callable[..., CliRun]) -> None:
    assert (
        cli("dlq", "redrive", "intake", "--max", "0").err.strip()
        == "cartwatch: error: --max must be at least 1"
    )
