"""The Powertools objects the handlers share (logger, metrics), built once, and tracing.

Every handler module takes ``logger`` and ``metrics`` from here and never builds its own:
one configured Powertools logger and one metrics object per process.  In Lambda a process
runs one function, but `cartwatch local` runs every handler in one process, and Powertools
objects are not independent there.  A second ``Logger`` of an already configured name does
not configure itself: it adopts whatever handler its ``logging.Logger`` holds first —
a plain one, without a Powertools formatter, once the CLI has given the ``cartwatch``
logger a handler — and ``inject_lambda_context`` then fails on every call (issue 17).
``Metrics`` keeps its values and dimensions in class attributes, so a second object would
flush and clear the first one's metrics.  Per-module logger names would avoid the first
trap only, and would cut the service modules' ``logging.getLogger(__name__)`` records
(children of ``cartwatch``) off from the Powertools formatter and the invocation's keys
(architecture decision 30).  tests/unit/test_observability.py imports every module in one
interpreter and fails on a second logger or metrics object.

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

# The stack sets POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE to these same values;
# explicit arguments win over the environment in Powertools, so these are the ones in force.
logger = Logger(service="cartwatch")
metrics = Metrics(namespace="Cartwatch", service="cartwatch")


def capture_lambda_handler[F: Callable[..., Any]](handler: F) -> F:
    """Powertools Tracer's ``capture_lambda_handler`` when subsegment tracing is on."""
    if os.environ.get(ENV.TRACE_SUBSEGMENTS, "").strip().lower() != "true":
        return handler
    from aws_lambda_powertools import Tracer

    traced: F = Tracer(service="cartwatch").capture_lambda_handler(handler)  # type: ignore[assignment]
    return traced
