"""How many AWS calls the emulator answered, by service and operation.

AWS meters requests; a benchmark that wants "AWS calls per webhook" of a whole running
`cartwatch local` — its gateway, pollers and handlers, all in another process — counts them
where they all arrive: here.  ``GET /_cartwatch/calls`` answers the tally so far as JSON
(``{"calls": {"sqs.SendMessage": 1234, …}, "cpu_seconds": {…}}``, the emulator's own CPU time
per operation beside the count); the path is one no AWS API uses.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from cartwatch_tools.local.aws_limits import read_body

TALLY_PATH = "/_cartwatch/calls"
# The service as SigV4 scopes the request: Credential=KEY/DATE/REGION/SERVICE/aws4_request.
_CREDENTIAL_SERVICE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/(?P<service>[^/]+)/")
# JSON protocols name the operation in X-Amz-Target: "DynamoDB_20120810.PutItem".
_TARGET_PREFIXES = {
    "DynamoDB_": "dynamodb",
    "DynamoDBStreams_": "dynamodbstreams",
    "AmazonSQS": "sqs",
    "AmazonSSM": "ssm",
}


class CallTally:
    """WSGI middleware: count each request's ``service.Operation``, then pass it on unchanged."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._calls: Counter[str] = Counter()
        self._cpu: dict[str, float] = {}
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == TALLY_PATH and environ.get("REQUEST_METHOD") == "GET":
            with self._lock:
                body = json.dumps({"calls": dict(self._calls), "cpu_seconds": dict(self._cpu)}).encode()
            headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            start_response("200 OK", headers)
            return [body]
        call = _operation(environ)
        # Each request is served on a thread of its own: its thread's CPU time is the call's.
        started = time.thread_time()
        # Materialized here, so the work moto does while producing the body is counted.
        response = list(self._app(environ, start_response))
        spent = time.thread_time() - started
        with self._lock:
            self._calls[call] += 1
            self._cpu[call] = self._cpu.get(call, 0.0) + spent
        return response


def _operation(environ: dict[str, Any]) -> str:
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        prefix, _, operation = target.partition(".")
        service = next((s for p, s in _TARGET_PREFIXES.items() if prefix.startswith(p)), prefix.lower())
        return f"{service}.{operation}"
    scope = _CREDENTIAL_SERVICE.search(environ.get("HTTP_AUTHORIZATION", ""))
    service = scope.group("service") if scope else "unknown"
    if environ.get("REQUEST_METHOD") == "POST" and "urlencoded" in environ.get("CONTENT_TYPE", ""):
        action = dict(parse_qsl(read_body(environ).decode("utf-8", errors="replace"))).get("Action")
        if action:
            return f"{service}.{action}"
    return f"{service}.{environ.get('REQUEST_METHOD', '?')}"
