"""Intake queue (SQS batches) → cart state.  Partial batch failures go back to SQS."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from cartwatch.adapters.batch import BatchApplyProcessor, EventType
from cartwatch.domain.webhooks import Webhook
from cartwatch.handlers.emf import log_metrics
from cartwatch.handlers.observability import capture_lambda_handler, logger, metrics
from cartwatch.service.processing import CartProcessor, parse_intake_message


def parse_record(record: SQSRecord) -> Webhook:
    return parse_intake_message(record.body)


@logger.inject_lambda_context(clear_state=True)
@log_metrics(metrics)
@capture_lambda_handler
def handler(event: dict[str, Any], context: Any, *, processor: CartProcessor | None = None) -> dict[str, Any]:
    if processor is None:
        from cartwatch.composition import composition_for

        processor = composition_for("processor").cart_processor

    def apply(webhooks: Sequence[Webhook]) -> list[BaseException | None]:
        errors, report = processor.apply(webhooks)
        for outcome, count in report.outcomes.items():
            metrics.add_metric(name=f"Webhooks{outcome.capitalize()}", unit=MetricUnit.Count, value=count)
        metrics.add_metric(name="CartsWritten", unit=MetricUnit.Count, value=report.carts_written)
        metrics.add_metric(name="CartsConverted", unit=MetricUnit.Count, value=report.conversions)
        logger.info(
            "batch applied",
            extra={
                "outcomes": dict(report.outcomes),
                "carts_written": report.carts_written,
                "conflicts_retried": report.conflicts_retried,
                "uninstalls_to_check": report.uninstalls_to_check,
            },
        )
        return errors

    metrics.add_metric(name="WebhooksReceived", unit=MetricUnit.Count, value=len(event.get("Records", [])))
    batch = BatchApplyProcessor(EventType.SQS, apply)
    return process_partial_response(  # type: ignore[return-value]
        event=event, record_handler=parse_record, processor=batch, context=context
    )
