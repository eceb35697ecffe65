"""The publisher: DynamoDB stream (the outbox) → CloudEvents on SNS, and the outbox's safety net.

Two triggers, one relay: stream batches (partial batch responses: only the records that
failed are retried) and the scheduled rescue run (EventBridge), which publishes events whose
outbox slot outlived the stream or was deferred by a store's quota.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from cartwatch.adapters.batch import BatchApplyProcessor, EventType
from cartwatch.adapters.cart_table.items import record_from_item
from cartwatch.domain.cart_record import CartRecord
from cartwatch.handlers.emf import add_dimensioned_metric, log_metrics
from cartwatch.handlers.observability import capture_lambda_handler, logger, metrics
from cartwatch.service.publishing import OutboxRelay, RelayReport

# What EventBridge sends on the schedule (``source``): the rescue run, not a stream batch.
SCHEDULED_SOURCE = "aws.events"


def written_cart(record: DynamoDBRecord) -> CartRecord:
    """The cart as the write left it: the stream record's new image (the raw attribute-value map)."""
    return record_from_item(record.raw_event.get("dynamodb", {}).get("NewImage", {}))


@logger.inject_lambda_context(clear_state=True)
@log_metrics(metrics)
@capture_lambda_handler
def handler(
    event: dict[str, Any], context: Any, *, relay: OutboxRelay | None = None, now: int | None = None
) -> dict[str, Any]:
    if relay is None:
        from cartwatch.composition import composition_for

        relay = composition_for("publisher").outbox_relay
    remaining_ms: Callable[[], int] | None = getattr(context, "get_remaining_time_in_millis", None)

    if event.get("source") == SCHEDULED_SOURCE:
        report = relay.rescue(int(time.time()) if now is None else now, remaining_ms)
        emit(report, "events rescued")
        return {"rescued": report.rescued, "deferred": report.deferred, "failed": report.failed}

    def apply(carts: Sequence[CartRecord]) -> list[BaseException | None]:
        errors, report = relay.relay(carts, remaining_ms)
        emit(report, "events relayed")
        return errors

    batch = BatchApplyProcessor(EventType.DynamoDBStreams, apply)
    return process_partial_response(  # type: ignore[return-value]
        event=event, record_handler=written_cart, processor=batch, context=context
    )


def emit(report: RelayReport, message: str) -> None:
    """The report as metrics (alarms watch EventsParked, StoreGone, EventsRescued) and a log line."""
    for event_type, count in report.published.items():
        metrics.add_metric(name="EventsPublished", unit=MetricUnit.Count, value=count)
        if event_type.endswith(".abandoned"):
            metrics.add_metric(name="CartsAbandonedPublished", unit=MetricUnit.Count, value=count)
        if event_type.endswith(".recovered"):
            metrics.add_metric(name="CartsRecovered", unit=MetricUnit.Count, value=count)
    for currency, total in report.recovered_revenue.items():
        # Amounts in different currencies never add up: one series per currency.
        add_dimensioned_metric(
            metrics, "RecoveredRevenue", MetricUnit.NoUnit, float(Decimal(total)), {"currency": currency}
        )
    for reason, count in report.skipped.items():
        add_dimensioned_metric(metrics, "CartsSkipped", MetricUnit.Count, count, {"reason": reason})
    metrics.add_metric(name="BigCommerceCalls", unit=MetricUnit.Count, value=report.bigcommerce_calls)
    for name, value in (
        ("EventsParked", sum(report.parked.values())),
        ("EventsDeferred", report.deferred),
        ("StoreGone", report.dropped_store_gone),
        ("EventsDroppedErased", report.dropped_erased),
        ("EventsRescued", report.rescued),
        # Carts whose abandonment series stopped because their shopper bought another cart.
        ("SeriesStopped", report.stopped),
    ):
        if value:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    logger.info(
        message,
        extra={
            "published": dict(report.published),
            "failed": report.failed,
            "parked": dict(report.parked),
            "deferred": report.deferred,
            "cart_gone": report.dropped_cart_gone,
            "store_gone": report.dropped_store_gone,
            "erased": report.dropped_erased,
            "already_published": report.skipped_published,
            "obsolete": report.dropped_obsolete,
            "rescued": report.rescued,
            "skipped": dict(report.skipped),
            "stopped": report.stopped,
        },
    )
