"""The Powertools objects the handlers share (logger, metrics), built once, and tracing.

Every function runs with Lambda's active X-Ray tracing (set by the stack): each
invocation is a trace segment with no SDK in the function.  Powertools Tracer adds
subsegments for every boto3 and BigCommerce call, but creating it imports the X-Ray SDK,
which costs about a third of ``import boto3`` on every cold start (bench/run measures
it).  So it is opt-in: the stack's ``traceSubsegments`` context sets
``CARTWATCH_TRACE_SUBSEGMENTS=true`` for when a deployment needs call-level traces.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics

from cartwatch.settings import ENV

# Service name and namespace come from POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE
# set by the stack; these defaults serve tests and `cartwatch local`.
logger = Logger(service="cartwatch")
metrics = Metrics(namespace="Cartwatch", service="cartwatch")


def capture_lambda_handler[F: Callable[..., Any]](handler: F) -> F:
    """Powertools Tracer's ``capture_lambda_handler`` when subsegment tracing is on."""
    if os.environ.get(ENV.TRACE_SUBSEGMENTS, "").strip().lower() != "true":
        return handler
    from aws_lambda_powertools import Tracer

    traced: F = Tracer(service="cartwatch").capture_lambda_handler(handler)  # type: ignore[assignment]
    return traced
