"""A loopback HTTP front door that plays API Gateway for `cartwatch local` and tests.

It turns each request into an HTTP API (payload 2.0) event, calls the same Lambda
handler the stack deploys, and writes back the handler's response.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

_WEBHOOK_ROUTE = re.compile(r"^/webhooks/bigcommerce/(?P<store_hash>[^/]+)/?$")
# API Gateway's own limit on a request body is 10 MB; anything larger never reaches a Lambda.
_MAX_BODY = 10 * 1024 * 1024


class _LambdaContext:
    function_name = "cartwatch-local-receiver"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:cartwatch-local-receiver"
    aws_request_id = "local"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 5_000


class LocalGateway:
    def __init__(
        self,
        receiver: Handler,
        *,
        port: int = 0,
        on_delivery: Callable[[str, str, int], None] | None = None,
    ) -> None:
        gateway = self

        class RequestHandler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                gateway._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._receiver = receiver
        self._on_delivery = on_delivery
        self._server = ThreadingHTTPServer(("127.0.0.1", port), RequestHandler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="cartwatch-gateway", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LocalGateway:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path.split("?", 1)[0]
        match = _WEBHOOK_ROUTE.match(path)
        if match is None:
            self._reply(request, {"statusCode": 404, "body": '{"message":"Not Found"}'})
            return
        length = int(request.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            self._reply(request, {"statusCode": 413, "body": '{"message":"Request Entity Too Large"}'})
            return
        body = request.rfile.read(length)
        try:
            text, encoded = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode(), True
        event = {
            "version": "2.0",
            "routeKey": "POST /webhooks/bigcommerce/{store_hash}",
            "rawPath": path,
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "pathParameters": {"store_hash": match.group("store_hash")},
            "requestContext": {
                "http": {"method": "POST", "path": path, "sourceIp": request.client_address[0]}
            },
            "body": text,
            "isBase64Encoded": encoded,
        }
        try:
            response = self._receiver(event, _LambdaContext())
        except Exception:  # a crashed Lambda is a 500 at API Gateway, not a dead server
            logger.exception("the receiver failed")
            # What API Gateway answers when the integration fails.
            response = {"statusCode": 500, "body": '{"message":"Internal Server Error"}'}
        if self._on_delivery:
            self._on_delivery(match.group("store_hash"), _scope(body), int(response.get("statusCode", 500)))
        self._reply(request, response)

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, response: dict[str, Any]) -> None:
        body = (response.get("body") or "").encode()
        request.send_response(int(response.get("statusCode", 200)))
        for name, value in (response.get("headers") or {}).items():
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)


def _scope(body: bytes) -> str:
    """The webhook's scope, for the live log only (the receiver does the real parsing)."""
    try:
        scope = json.loads(body).get("scope")
    except (ValueError, AttributeError):
        return "?"
    return scope if isinstance(scope, str) else "?"
