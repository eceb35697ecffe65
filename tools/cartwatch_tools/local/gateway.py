"""A loopback HTTP front door that plays API Gateway for `cartwatch local` and tests.

It turns each request into an HTTP API (payload 2.0) event, calls the same Lambda
handler the stack deploys, and writes back the handler's response.  The query API's
routes (``cartwatch.resources.QUERY_ROUTES``) are IAM-authorized in AWS; here the gateway
verifies their SigV4 signature against the local credentials first (403 otherwise) and
passes the caller on as ``requestContext.authorizer.iam``, as API Gateway does.  The app's
callbacks (``cartwatch.resources.APP_ROUTES``) are public, as in the stack.  Every route is
throttled by its own bucket of the stack's throttle plan (``local/throttling.py``): a request
over its route's limit is answered 429 before routing reaches a handler or a signature check.
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
from urllib.parse import parse_qsl

from cartwatch.resources import (
    APP_ROUTES,
    DEFAULT_THROTTLES,
    QUERY_API_PREFIX,
    QUERY_ROUTES,
    WEBHOOK_ROUTE,
    ThrottlePlan,
)
from cartwatch_tools.local.sigv4 import SignatureRejected, SignedRequest, SigV4Verifier
from cartwatch_tools.local.throttling import RouteThrottles

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

_WEBHOOK_ROUTE = re.compile(r"^/webhooks/bigcommerce/(?P<store_hash>[^/]+)/?$")
# API Gateway's own limit on a request body is 10 MB; anything larger never reaches a Lambda.
_MAX_BODY = 10 * 1024 * 1024


def route_pattern(template: str) -> re.Pattern[str]:
    """``/v1/stores/{store_hash}/carts`` -> a regex with one named group per path parameter."""
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts))
    return re.compile(f"^{regex}$")


_QUERY_ROUTES = [(method, template, route_pattern(template)) for method, template in QUERY_ROUTES]
_APP_ROUTES = frozenset(APP_ROUTES.values())
_WEBHOOK_ROUTE_KEY = f"{WEBHOOK_ROUTE[0]} {WEBHOOK_ROUTE[1]}"
# What API Gateway answers a throttled request.
_THROTTLED = {
    "statusCode": 429,
    "headers": {"content-type": "application/json"},
    "body": '{"message":"Too Many Requests"}',
}


class _LambdaContext:
    function_name = "cartwatch-local-receiver"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:cartwatch-local-receiver"
    aws_request_id = "local"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 5_000


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # A burst opens many connections at once; with socketserver's backlog of 5 the kernel
    # refuses the rest while the accepting thread waits for the GIL — a "connection
    # refused" that BigCommerce counts as a failed delivery.
    request_queue_size = 256


class LocalGateway:
    def __init__(
        self,
        receiver: Handler,
        *,
        port: int = 0,
        on_delivery: Callable[[str, str, int], None] | None = None,
        query_api: Handler | None = None,
        verifier: SigV4Verifier | None = None,
        app_callbacks: Handler | None = None,
        throttles: ThrottlePlan = DEFAULT_THROTTLES,
    ) -> None:
        gateway = self

        class RequestHandler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                gateway._handle(self)

            def do_GET(self) -> None:
                gateway._handle(self)

            def do_DELETE(self) -> None:
                gateway._handle(self)

            def __getattr__(self, name: str) -> Any:
                # Any other method meets no route: API Gateway's 404, not http.server's 501.
                if name.startswith("do_"):
                    return lambda: gateway._handle(self)
                raise AttributeError(name)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._receiver = receiver
        self._on_delivery = on_delivery
        self._query_api = query_api
        self._verifier = verifier
        self._app_callbacks = app_callbacks
        self._throttles = RouteThrottles(throttles)
        self._server = _Server(("127.0.0.1", port), RequestHandler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="cartwatch-gateway", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LocalGateway:
        if not self._thread.is_alive():  # a pipeline may start a gateway a test started first
            self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path.split("?", 1)[0]
        if path.startswith(QUERY_API_PREFIX + "/") and self._query_api is not None:
            self._handle_query(request, path)
            return
        if (request.command, path) in _APP_ROUTES and self._app_callbacks is not None:
            if not self._throttles.admit(f"{request.command} {path}"):
                self._reply(request, _THROTTLED)
                return
            self._handle_app(request, path, self._app_callbacks)
            return
        match = _WEBHOOK_ROUTE.match(path) if request.command == "POST" else None
        if match is None:
            self._reply(request, {"statusCode": 404, "body": '{"message":"Not Found"}'})
            return
        if not self._throttles.admit(_WEBHOOK_ROUTE_KEY):
            self._reply(request, _THROTTLED)
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
        response = _invoke(self._receiver, event, "the receiver")
        if self._on_delivery:
            self._on_delivery(match.group("store_hash"), _scope(body), int(response.get("statusCode", 500)))
        self._reply(request, response)

    def _handle_query(self, request: BaseHTTPRequestHandler, path: str) -> None:
        if self._query_api is None or self._verifier is None:
            raise RuntimeError("the local query API needs a handler and a SigV4 verifier")
        route = _match_route(request.command, path)
        if route is None:
            # API Gateway answers an unknown route before any authorization.
            self._reply(request, {"statusCode": 404, "body": '{"message":"Not Found"}'})
            return
        template, parameters = route
        # Throttling comes before authorization, in API Gateway too: a flood of unsigned
        # requests drains its route's bucket without a signature check each.
        if not self._throttles.admit(f"{request.command} {template}"):
            self._reply(request, _THROTTLED)
            return
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(min(length, _MAX_BODY))
        headers = {k.lower(): v for k, v in request.headers.items()}
        signed = SignedRequest(
            method=request.command,
            url=f"http://{headers.get('host', '127.0.0.1')}{request.path}",
            headers=headers,
            body=body,
        )
        try:
            caller = self._verifier.verify(signed)
        except SignatureRejected as rejection:
            self._reply(request, {"statusCode": 403, "body": json.dumps({"message": str(rejection)})})
            return
        event = _http_event(
            request,
            path,
            f"{request.command} {template}",
            headers=headers,
            path_parameters=parameters or None,
            authorizer={"iam": {"accessKey": caller.access_key, "userArn": caller.user_arn}},
            body=body.decode("utf-8", errors="replace") if body else None,
        )
        self._reply(request, _invoke(self._query_api, event, "the query API"))

    def _handle_app(self, request: BaseHTTPRequestHandler, path: str, handler: Handler) -> None:
        """The app's callbacks: public routes (BigCommerce and browsers call them), no SigV4."""
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(min(length, _MAX_BODY))
        # A form arrives base64-encoded, as API Gateway passes a body it does not take for text.
        event = _http_event(
            request,
            path,
            f"{request.command} {path}",
            headers={k.lower(): v for k, v in request.headers.items()},
            body=base64.b64encode(body).decode() if body else None,
            base64_body=bool(body),
        )
        self._reply(request, _invoke(handler, event, "the app callbacks"))

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, response: dict[str, Any]) -> None:
        body = (response.get("body") or "").encode()
        request.send_response(int(response.get("statusCode", 200)))
        for name, value in (response.get("headers") or {}).items():
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)


def _http_event(
    request: BaseHTTPRequestHandler,
    path: str,
    route_key: str,
    *,
    headers: dict[str, str],
    body: str | None,
    base64_body: bool = False,
    path_parameters: dict[str, str] | None = None,
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An HTTP API (payload 2.0) event for a routed request."""
    raw_query = request.path.partition("?")[2]
    query: dict[str, list[str]] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        query.setdefault(name, []).append(value)
    context: dict[str, Any] = {
        "http": {"method": request.command, "path": path, "sourceIp": request.client_address[0]},
        "routeKey": route_key,
        "stage": "$default",
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    return {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        # HTTP APIs join a repeated query parameter's values with commas.
        "queryStringParameters": {name: ",".join(values) for name, values in query.items()} or None,
        "headers": headers,
        "pathParameters": path_parameters,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": base64_body,
    }


def _scope(body: bytes) -> str:
    """The webhook's scope, for the live log only (the receiver does the real parsing)."""
    try:
        scope = json.loads(body).get("scope")
    except (ValueError, AttributeError):
        return "?"
    return scope if isinstance(scope, str) else "?"


def _invoke(handler: Handler, event: dict[str, Any], name: str) -> dict[str, Any]:
    try:
        return handler(event, _LambdaContext())
    except Exception:  # a crashed Lambda is a 500 at API Gateway, not a dead server
        logger.exception("%s failed", name)
        # What API Gateway answers when the integration fails.
        return {"statusCode": 500, "body": '{"message":"Internal Server Error"}'}


def _match_route(method: str, path: str) -> tuple[str, dict[str, str]] | None:
    for route_method, template, pattern in _QUERY_ROUTES:
        found = pattern.match(path)
        if found and route_method == method:
            return template, found.groupdict()
    return None
