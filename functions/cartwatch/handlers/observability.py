"""The Powertools objects the handlers share (logger, metrics, tracer), built once."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

# Service name and namespace come from POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE
# set by the stack; these defaults serve tests and `cartwatch local`.
logger = Logger(service="cartwatch")
metrics = Metrics(namespace="Cartwatch", service="cartwatch")
tracer = Tracer(service="cartwatch")
