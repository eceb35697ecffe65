"""EventBridge schedule (every few minutes) → check and repair the next stores' BigCommerce webhooks.

Each invocation takes a turn in the cycle over every store (``service/hook_health.py``).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from cartwatch.handlers.emf import log_metrics
from cartwatch.handlers.observability import capture_lambda_handler, logger, metrics
from cartwatch.service.hook_health import HookHealthCheck, HookHealthReport


@logger.inject_lambda_context(clear_state=True)
@log_metrics(metrics)
@capture_lambda_handler
def handler(event: dict[str, Any], context: Any, *, check: HookHealthCheck | None = None) -> dict[str, Any]:
    if check is None:
        from cartwatch.composition import composition_for

        remaining = getattr(context, "get_remaining_time_in_millis", None)
        check = composition_for("hook_health").hook_health_check(remaining_ms=remaining)
    report = check.run()
    _emit(report)
    return report.summary()


def _emit(report: HookHealthReport) -> None:
    metrics.add_metric(name="StoresChecked", unit=MetricUnit.Count, value=len(report.stores))
    # Stores the cycle has not reached although its period is over: alarmed on.
    metrics.add_metric(name="StoresNotChecked", unit=MetricUnit.Count, value=report.not_checked_count)
    metrics.add_metric(name="HooksReactivated", unit=MetricUnit.Count, value=report.reactivated)
    metrics.add_metric(name="HooksRecreated", unit=MetricUnit.Count, value=report.recreated)
    metrics.add_metric(name="HooksUnrecoverable", unit=MetricUnit.Count, value=report.unrecoverable)
    for store in report.stores:
        # Per store only when non-zero: each store_hash value is a billed custom metric.
        for name, value in (
            ("HooksReactivated", store.reactivated),
            ("HooksUnrecoverable", store.unrecoverable),
        ):
            if value:
                with single_metric(
                    name=name, unit=MetricUnit.Count, value=value, namespace=metrics.namespace
                ) as metric:
                    metric.add_dimension(name="store_hash", value=store.store_hash)
        if store.problems:
            logger.warning(
                "store hooks unhealthy",
                extra={"store_hash": store.store_hash, "problems": list(store.problems)},
            )
    if report.not_checked_count:
        logger.warning(
            "stores not checked within the period",
            extra={"count": report.not_checked_count, "first": list(report.not_checked)},
        )
    logger.info("hook health checked", extra=report.summary())
