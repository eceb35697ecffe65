"""EventBridge schedule → one abandonment sweep over the due index."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from cartwatch.handlers.emf import log_metrics
from cartwatch.handlers.observability import capture_lambda_handler, logger, metrics
from cartwatch.service.sweeping import AbandonmentSweep, SweepReport


@logger.inject_lambda_context(clear_state=True)
@log_metrics(metrics)
@capture_lambda_handler
def handler(
    event: dict[str, Any], context: Any, *, sweep: AbandonmentSweep | None = None, now: int | None = None
) -> dict[str, Any]:
    if sweep is None:
        from cartwatch.composition import composition_for

        remaining = getattr(context, "get_remaining_time_in_millis", None)
        sweep = composition_for("sweeper").abandonment_sweep(remaining_ms=remaining)
    report = sweep.run(int(time.time()) if now is None else now)
    _emit(report)
    return {
        "due_seen": report.due_seen,
        "abandoned": report.abandoned_total,
        "expired": report.expired,
        "rescheduled": report.rescheduled,
        "conflicts": report.conflicts,
        "stopped_early": report.stopped_early,
        "lag_seconds": report.lag_seconds,
        "shards": _shards(report),
        "starved_shards": report.starved,
    }


def _shards(report: SweepReport) -> dict[str, dict[str, int]]:
    return {
        name: {"lag_seconds": shard.lag_seconds(report.now), "swept": shard.swept}
        for name, shard in report.shards.items()
    }


def _emit(report: SweepReport) -> None:
    metrics.add_metric(name="DueCartsSeen", unit=MetricUnit.Count, value=report.due_seen)
    metrics.add_metric(name="CartsAbandoned", unit=MetricUnit.Count, value=report.abandoned_total)
    metrics.add_metric(name="CartsExpired", unit=MetricUnit.Count, value=report.expired)
    # The oldest due entry of every shard, reached or not: the lag alarm watches all of them.
    metrics.add_metric(name="SweepLagSeconds", unit=MetricUnit.Seconds, value=report.lag_seconds)
    if report.stopped_early:
        metrics.add_metric(name="SweepsStoppedEarly", unit=MetricUnit.Count, value=1)
        # Which shards were left behind, and how late each one is: the alarm names no shard.
        logger.warning(
            "sweep stopped early",
            extra={"shards": _shards(report), "starved_shards": report.starved, "due": report.due_seen},
        )
    logger.info(
        "sweep finished",
        extra={
            "abandoned_by_stage": dict(report.abandoned),
            "due": report.due_seen,
            "lag_seconds": report.lag_seconds,
        },
    )
