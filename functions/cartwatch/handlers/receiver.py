"""POST /webhooks/bigcommerce/{store_hash} — the ack path (API Gateway HTTP API, payload v2).

Authenticate, bound, enqueue, answer.  Kept deliberately light: no pydantic and no
event-handler framework on this path, whose cold import is budgeted at 1.3x
``import boto3`` (bench/).  This module is the one place that maps intake outcomes to
HTTP status codes.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from cartwatch.adapters.webhook_credentials import CredentialsUnavailable
from cartwatch.handlers.emf import log_metrics
from cartwatch.handlers.observability import logger, metrics
from cartwatch.service.intake import Delivery, Rejection, WebhookIntake

Response = dict[str, Any]


def _response(status: int, body: dict[str, Any] | None = None) -> Response:
    response: Response = {"statusCode": status}
    if body is not None:
        response["headers"] = {"content-type": "application/json"}
        response["body"] = json.dumps(body)
    return response


@logger.inject_lambda_context(clear_state=True)
@log_metrics(metrics)
def handler(event: dict[str, Any], context: Any, *, intake: WebhookIntake | None = None) -> Response:
    store_hash = (event.get("pathParameters") or {}).get("store_hash", "")
    logger.append_keys(store_hash=store_hash)
    try:
        body = _raw_body(event)
        delivery = Delivery(
            store_hash=store_hash,
            body=body,
            headers={k.lower(): v for k, v in (event.get("headers") or {}).items()},
        )
        if intake is None:
            from cartwatch.composition import composition_for

            intake = composition_for("receiver").webhook_intake
        accepted = intake.accept(delivery)
    except Rejection as rejection:
        # Rejections are alarmed on: a burst means a misconfigured hook or someone probing.
        metrics.add_metric(name="WebhooksRejected", unit=MetricUnit.Count, value=1)
        logger.info("webhook rejected", extra={"status": rejection.status, "reason": rejection.reason})
        return _response(rejection.status, {"error": rejection.reason})
    except CredentialsUnavailable:
        # Our side failed (DynamoDB throttled or unreachable), not the delivery: a 503 makes
        # BigCommerce retry it later instead of it being refused as unauthenticated.
        metrics.add_metric(name="WebhooksDeferred", unit=MetricUnit.Count, value=1)
        logger.warning("store secrets unavailable; delivery deferred to BigCommerce's retry")
        return _response(503, {"error": "temporarily unable to verify deliveries; retry later"})
    metrics.add_metric(name="WebhooksAccepted", unit=MetricUnit.Count, value=1)
    logger.info("webhook accepted", extra={"scope": accepted.scope, "auth": accepted.authenticated_by})
    # BigCommerce asks for a 2xx with no body.
    return _response(200)


def _raw_body(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise Rejection(400, "body is not valid base64") from None
    try:
        return body.encode("utf-8")
    except UnicodeEncodeError:
        raise Rejection(400, "body is not UTF-8 text") from None
