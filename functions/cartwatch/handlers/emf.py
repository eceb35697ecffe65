"""`log_metrics` that also behaves when metrics are switched off.

With ``POWERTOOLS_METRICS_DISABLED=true`` (the tests, `cartwatch local`, the benchmarks),
Powertools' ``log_metrics`` skips the flush but keeps the values, and once a metric holds
100 of them ``add_metric`` prints the EMF blob anyway.  Clearing after every invocation
keeps a disabled Metrics object silent and its memory flat.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

F = TypeVar("F", bound=Callable[..., Any])


def log_metrics(metrics: Metrics) -> Callable[[F], F]:
    def decorate(handler: F) -> F:
        published = metrics.log_metrics(handler)

        @functools.wraps(handler)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return published(*args, **kwargs)
            finally:
                if is_metrics_disabled():
                    metrics.clear_metrics()

        return wrapper  # type: ignore[return-value]

    return decorate


def add_dimensioned_metric(
    metrics: Metrics, name: str, unit: MetricUnit, value: float, dimensions: dict[str, str]
) -> None:
    """A metric with dimensions of its own (a currency, a reason), as one EMF line at once.

    The shared ``metrics`` object's dimensions apply to every metric it flushes, so a
    per-value dimension needs a blob of its own; Powertools' ``single_metric`` prints it even
    when metrics are switched off, hence the check.
    """
    if is_metrics_disabled():
        return
    with single_metric(
        name=name,
        unit=unit,
        value=value,
        namespace=metrics.namespace,
        default_dimensions={"service": str(metrics.service), **metrics.default_dimensions, **dimensions},
    ):
        pass
