"""The HTTP front door: BigCommerce's API gateway on a loopback port.

In order, like the gateway: find the store (404), check ``X-Auth-Token`` (401), play any
injected fault, count the request against the store's quota (429), then route.  Every answer for
a known store carries the ``X-Rate-Limit-*`` headers.  ``ApiError`` becomes its status and body
here and nowhere else; anything unexpected is a 500 with the traceback in the log.

HTTP/1.1 with keep-alive, as BigCommerce's gateway: a client's connection serves its next
requests (a new connection and a new thread for every request was most of a request's cost).
Stopping ends the idle connections, so it never waits on a client that keeps one open.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from cartwatch_tools.sandbox.apps import AppError, AppMarketplace
from cartwatch_tools.sandbox.errors import ApiError
from cartwatch_tools.sandbox.rate_limit import FaultQueue, RateState
from cartwatch_tools.sandbox.routes import ROUTES, Call, Reply
from cartwatch_tools.sandbox.store import ApiAccount, Store

logger = logging.getLogger(__name__)

_STORE_PATH = re.compile(r"/stores/(?P<store_hash>[^/]+)(?P<rest>/.*)")
_FAULT_TITLES = {
    429: "Too many requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
UNAUTHORIZED = (
    "Unauthorized - the v3 Auth client ID or token in the request are not a valid combination for this store."
)


CONTROL_PATH = "/_sandbox/delivery"
# login.bigcommerce.com's token endpoint, and the sandbox's app controls (not BigCommerce APIs:
# what a merchant does in the control panel, for `cartwatch sandbox …` and the tests).
TOKEN_PATH = "/oauth2/token"  # noqa: S105 — a path, not a secret
APPS_PATH = "/_sandbox/apps"
_APP_ACTION = re.compile(
    r"/_sandbox/stores/(?P<store_hash>[^/]+)/apps/(?P<client_id>[^/]+)/"
    r"(?P<action>install|uninstall|remove-user|control-panel)"
)


class SandboxHTTPServer(ThreadingHTTPServer):
    # Request threads are joined on close, so a stopped sandbox leaves no thread behind.
    daemon_threads = False
    block_on_close = True

    def __init__(
        self,
        address: tuple[str, int],
        stores: Callable[[str], Store | None],
        faults: FaultQueue,
        control: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        apps: AppMarketplace | None = None,
    ) -> None:
        super().__init__(address, _Handler)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self.connections_opened = 0  # in all, since the server started
        self.stores = stores
        self.faults = faults
        self.apps = apps
        # Sandbox-only knobs (not a BigCommerce API): lets `cartwatch simulate`, running in
        # another process, switch duplicate/reordered deliveries on and off.
        self.control = control

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
            self.connections_opened += 1
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def server_close(self) -> None:
        # A kept-alive connection's thread waits for the client's next request: closing the
        # connection's reading side ends that wait (a request being answered is still answered),
        # so joining the request threads does not wait on idle clients.
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # the client closed it first
                connection.shutdown(socket.SHUT_RD)
        super().server_close()


class _Handler(BaseHTTPRequestHandler):
    server: SandboxHTTPServer
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes: without TCP_NODELAY a kept-alive connection
    # waits out the client's delayed ACK (~40 ms) on every answer.
    disable_nagle_algorithm = True
    # A client that connects and stalls must not hold up stop(), which joins request threads.
    timeout = 10

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        # Request lines only: tokens travel in headers, which are never logged.
        logger.debug("%s " + format, self.address_string(), *args)

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.headers.get("Transfer-Encoding"):
            # A body this server does not read (chunked) must not be taken for the next request.
            self.close_connection = True
        if parts.path == CONTROL_PATH and self.command == "PUT" and self.server.control is not None:
            try:
                self._send(200, self.server.control(json.loads(raw or b"{}")))
            except (ValueError, TypeError) as error:
                self._send(400, ApiError(400, f"Invalid sandbox settings: {error}").v3_body())
            return
        if self.server.apps is not None and (parts.path == TOKEN_PATH or parts.path.startswith("/_sandbox/")):
            self._apps(self.server.apps, parts.path, parts.query, raw)
            return
        match = _STORE_PATH.fullmatch(parts.path)
        store = self.server.stores(match["store_hash"]) if match else None
        if match is None or store is None:
            self._send(404, ApiError(404, "Store not found").v3_body())
            return
        rest = match["rest"]
        account = store.authenticate(self.headers.get("X-Auth-Token"))
        if account is None:
            self._send(401, ApiError(401, UNAUTHORIZED).v3_body(), store.rate_limiter.peek())
            return
        fault = self.server.faults.take(self.command, parts.path)
        if fault is not None:
            quota = store.rate_limiter.peek()
            if fault.status == 429:
                quota = RateState(False, quota.quota, quota.window_ms, 0, fault.reset_ms)
            self._send(fault.status, self._fault_body(fault.status), quota)
            return
        quota = store.rate_limiter.consume()
        if not quota.allowed:
            self._send(429, self._fault_body(429), quota)
            return
        try:
            reply = self._dispatch(store, account, rest, parts.query, raw)
        except ApiError as error:
            reply = Reply(error.status, error.v2_body() if rest.startswith("/v2/") else error.v3_body())
        except Exception:
            logger.exception("sandbox failed on %s %s", self.command, parts.path)
            reply = Reply(500, self._fault_body(500))
        self._send(reply.status, reply.body, quota)

    def _apps(self, apps: AppMarketplace, path: str, query: str, raw: bytes) -> None:
        if path == TOKEN_PATH and self.command == "POST":
            fault = self.server.faults.take(self.command, path)
            if fault is not None:
                self._send(fault.status, {"error": "server_error"})
                return
            self._send(*apps.exchange(_token_request(self.headers.get("Content-Type", ""), raw)))
            return
        if path == APPS_PATH and self.command == "GET":
            self._send(200, {"client_ids": apps.client_ids})
            return
        action = _APP_ACTION.fullmatch(path)
        if action is None:
            self._send(404, ApiError(404, "No such sandbox control").v3_body())
            return
        store_hash, client_id = action["store_hash"], action["client_id"]
        try:
            body = json.loads(raw) if raw.strip() else {}
            user_id = body.get("user_id") if isinstance(body, dict) else None
            if action["action"] == "control-panel":
                user = dict(parse_qsl(query)).get("user_id")
                self._send_html(apps.control_panel(store_hash, client_id, int(user) if user else None))
                return
            if self.command != "POST":
                self._send(405, ApiError(405, "Method Not Allowed").v3_body())
                return
            if action["action"] == "install":
                answer = apps.install(store_hash, client_id, user_id)
            elif action["action"] == "uninstall":
                answer = apps.uninstall(store_hash, client_id, user_id)
            else:
                answer = apps.remove_user(store_hash, client_id, int(user_id or 0))
        except (AppError, ValueError) as error:
            self._send(400, ApiError(400, str(error)).v3_body())
            return
        self._send(200, {"status": answer.status, "page": answer.body})

    def _send_html(self, page: str) -> None:
        payload = page.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    @staticmethod
    def _fault_body(status: int) -> dict[str, Any]:
        return ApiError(status, _FAULT_TITLES.get(status, "Error")).v3_body()

    def _dispatch(self, store: Store, account: ApiAccount, rest: str, query: str, raw: bytes) -> Reply:
        allowed = []
        for route in ROUTES:
            found = route.pattern.fullmatch(rest)
            if found is None:
                continue
            if route.method != self.command:
                allowed.append(route.method)
                continue
            try:
                body = json.loads(raw) if raw.strip() else None
            except ValueError as exc:
                raise ApiError(400, "Input is invalid.") from exc
            call = Call(
                store=store,
                account=account,
                params=found.groupdict(),
                query=dict(parse_qsl(query, keep_blank_values=True)),
                body=body,
                api_root=f"{self.server.url}/stores/{store.hash}",
            )
            # One operation at a time per store: its change, its webhooks and its answer agree.
            with store.lock:
                return route.handler(call)
        if allowed:
            raise ApiError(405, "Method Not Allowed")
        raise ApiError(404, "The requested resource was not found.")

    def _send(self, status: int, body: Any, quota: RateState | None = None) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in (quota.headers() if quota else {}).items():
            self.send_header(name, value)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)


def _token_request(content_type: str, raw: bytes) -> Any:
    """BigCommerce documents JSON; its older docs and the Python SDK send a form (APPS.md §1)."""
    if content_type.startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl(raw.decode("utf-8", errors="replace")))
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return None
