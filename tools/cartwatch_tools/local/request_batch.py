"""Many AWS requests in one HTTP request: a fleet's data put into the emulator at once.

A test or benchmark that needs thousands of stores' parameters would otherwise make
thousands of round trips, each a connection, a server thread and botocore's signing —
about four times the work of the ``PutParameter`` itself.  ``POST /_cartwatch/batch`` takes
requests of AWS's JSON protocols (DynamoDB, SSM, SQS)::

    {"region": "us-east-1", "service": "ssm",
     "requests": [{"target": "AmazonSSM.PutParameter", "body": {...}}, ...]}

and hands each to the emulator as if it had come alone — its size limits, its call tally
and DynamoDB's one-at-a-time apply to each — answering ``{"answers": [{"status": 200,
"body": {...}}, ...]}`` in order.  The path is one no AWS API uses.  ``send_batch`` is the
client.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from werkzeug.test import EnvironBuilder

from cartwatch_tools.local.aws_limits import read_body

BATCH_PATH = "/_cartwatch/batch"
_CONTENT_TYPE = "application/x-amz-json-1.0"  # both JSON protocol versions are read alike


class RequestBatch:
    """WSGI middleware: answers ``POST /_cartwatch/batch`` by passing each request on to ``app``."""

    def __init__(self, app: Any) -> None:
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != BATCH_PATH or environ.get("REQUEST_METHOD") != "POST":
            response: Iterable[bytes] = self._app(environ, start_response)
            return response
        try:
            batch = json.loads(read_body(environ))
            region, service, requests = batch["region"], batch["service"], batch["requests"]
            answers = [self._one(region, service, r["target"], r["body"]) for r in requests]
        except (ValueError, KeyError, TypeError) as error:
            return _answer(start_response, "400 Bad Request", {"error": f"not a batch: {error!r}"})
        return _answer(start_response, "200 OK", {"answers": answers})

    def _one(self, region: str, service: str, target: str, body: Any) -> dict[str, Any]:
        headers = {
            "X-Amz-Target": target,
            # moto picks the service and region from the credential scope, as AWS signs it.
            "Authorization": (
                f"AWS4-HMAC-SHA256 Credential=batch/20260101/{region}/{service}/aws4_request, "
                "SignedHeaders=host;x-amz-target, Signature=batch"
            ),
        }
        environ = EnvironBuilder(
            path="/",
            method="POST",
            base_url=f"http://{service}.{region}.amazonaws.com",
            headers=list(headers.items()),
            content_type=_CONTENT_TYPE,
            data=json.dumps(body).encode(),
        ).get_environ()
        status: list[str] = []

        def start(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            status.append(line)

        raw = b"".join(self._app(environ, start))
        return {"status": int(status[0].split()[0]), "body": json.loads(raw) if raw.strip() else None}


def _answer(start_response: Callable[..., Any], status: str, body: dict[str, Any]) -> list[bytes]:
    payload = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]


def send_batch(
    endpoint_url: str,
    region: str,
    service: str,
    requests: Sequence[tuple[str, dict[str, Any]]],
    *,
    size: int = 500,
) -> list[dict[str, Any]]:
    """Send ``(target, body)`` requests to the emulator ``size`` at a time; their answers."""
    answers: list[dict[str, Any]] = []
    for start in range(0, len(requests), size):
        batch = {
            "region": region,
            "service": service,
            "requests": [{"target": t, "body": b} for t, b in requests[start : start + size]],
        }
        request = urllib.request.Request(  # noqa: S310 — the emulator, on loopback
            endpoint_url.rstrip("/") + BATCH_PATH,
            data=json.dumps(batch).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
            answers += json.loads(response.read())["answers"]
    return answers
