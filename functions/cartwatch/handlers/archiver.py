"""The archive queue (SQS, subscribed to the topic with raw delivery) → gzipped objects on S3.

One object per store and hour of each batch; a batch's events whose object could not be
written go back to the queue (partial batch response) and, after its ``maxReceiveCount``,
to its dead-letter queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from cartwatch.adapters.batch import BatchApplyProcessor, EventType
from cartwatch.adapters.event_archive import ArchivedEvent, EventArchive, archived
from cartwatch.handlers.emf import log_metrics
from cartwatch.handlers.observability import capture_lambda_handler, logger, metrics


def parse_record(record: SQSRecord) -> ArchivedEvent:
    return archived(record.body)


@logger.inject_lambda_context(clear_state=True)
@log_metrics(metrics)
@capture_lambda_handler
def handler(event: dict[str, Any], context: Any, *, archive: EventArchive | None = None) -> dict[str, Any]:
    if archive is None:
        from cartwatch.composition import composition_for

        archive = composition_for("archiver").event_archive
    store = archive

    def apply(events: Sequence[ArchivedEvent]) -> list[BaseException | None]:
        errors: list[BaseException | None] = [None] * len(events)
        position = {id(e): n for n, e in enumerate(events)}
        written = 0
        for group in store.group(events).values():
            try:
                store.put(group)
                written += 1
            except Exception as error:  # noqa: BLE001 — this object's events are retried, the others are kept
                for member in group:
                    errors[position[id(member)]] = error
        archived_count = sum(1 for error in errors if error is None)
        metrics.add_metric(name="EventsArchived", unit=MetricUnit.Count, value=archived_count)
        logger.info("events archived", extra={"events": archived_count, "objects": written})
        return errors

    batch = BatchApplyProcessor(EventType.SQS, apply)
    return process_partial_response(  # type: ignore[return-value]
        event=event, record_handler=parse_record, processor=batch, context=context
    )
