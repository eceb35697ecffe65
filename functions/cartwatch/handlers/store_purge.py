"""Purge queue (SQS) → uninstall checks and purge steps.  Failed messages are retried by SQS.

Each message is small work with its own budget: a purge step stops in time and queues its
successor (``service/purge_job.py``); an uninstall check makes one BigCommerce call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from cartwatch.handlers.emf import log_metrics
from cartwatch.handlers.observability import capture_lambda_handler, logger, metrics
from cartwatch.service.purge_job import CheckUninstall, PurgeJob, StepOutcome, decode
from cartwatch.service.uninstall import UninstallCheck, UninstallVerdict


@logger.inject_lambda_context(clear_state=True)
@log_metrics(metrics)
@capture_lambda_handler
def handler(
    event: dict[str, Any],
    context: Any,
    *,
    job: PurgeJob | None = None,
    check: UninstallCheck | None = None,
) -> dict[str, Any]:
    if job is None or check is None:
        from cartwatch.composition import composition_for

        lifecycle = composition_for("store_purge").store_lifecycle
        job, check = job or lifecycle.job, check or lifecycle.check
    remaining: Callable[[], int] | None = getattr(context, "get_remaining_time_in_millis", None)

    def handle(record: SQSRecord) -> None:
        message = decode(record.body)
        logger.append_keys(store_hash=message.store_hash)
        if isinstance(message, CheckUninstall):
            verdict = check(message.store_hash)
            metrics.add_metric(name="UninstallChecks", unit=MetricUnit.Count, value=1)
            if verdict is UninstallVerdict.REFUTED:
                # Someone sent an uninstall webhook for a store whose token still works.
                metrics.add_metric(name="UninstallsRefuted", unit=MetricUnit.Count, value=1)
                logger.warning("uninstall webhook not confirmed: the store's token still works")
            elif verdict is UninstallVerdict.CONFIRMED:
                metrics.add_metric(name="UninstallsConfirmed", unit=MetricUnit.Count, value=1)
            logger.info("uninstall webhook checked", extra={"verdict": verdict.value})
            return
        report = job.step(message, remaining)
        metrics.add_metric(name="PurgedItems", unit=MetricUnit.Count, value=report.deleted)
        if report.outcome is StepOutcome.PURGED:
            metrics.add_metric(name="StoresPurged", unit=MetricUnit.Count, value=1)
        logger.info(
            "purge step",
            extra={
                "segment": message.segment,
                "outcome": report.outcome.value,
                "deleted": report.deleted,
                "total_deleted": report.total_deleted,
            },
        )

    return process_partial_response(  # type: ignore[return-value]
        event=event, record_handler=handle, processor=BatchProcessor(EventType.SQS), context=context
    )
