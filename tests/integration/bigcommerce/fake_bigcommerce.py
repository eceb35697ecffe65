"""A loopback BigCommerce for the API client tests: real HTTP, answers built from the fixtures.

The server answers the endpoints cartwatch's enrichment and hook management use, the way
the OpenAPI files describe them (``{data, meta}`` envelopes, v2 orders unwrapped, error
bodies with ``title``, rate-limit headers on every answer).  A test can *script* the next
answers of one endpoint (a 429, a 503, a slow answer) and read back every request it got.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Generator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bigcommerce"
STORE_HASH = "abc123"
TOKEN = "tok-0123456789abcdef-SECRET"


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


class FakeBigCommerce:
    """One store's API on 127.0.0.1, seeded from ``tests/fixtures/bigcommerce``."""

    def __init__(self) -> None:
        registered = load_fixture("checkout_registered.json")["data"]
        guest = load_fixture("checkout_guest.json")["data"]
        self.checkouts: dict[str, dict[str, Any]] = {registered["id"]: registered, guest["id"]: guest}
        self.customers: list[dict[str, Any]] = load_fixture("customers.json")["data"]
        self.subscribers: list[dict[str, Any]] = load_fixture("subscribers.json")["data"]
        order = load_fixture("order.json")
        self.orders: dict[int, dict[str, Any]] = {order["id"]: order}
        self.hooks: list[dict[str, Any]] = load_fixture("hooks.json")["data"]
        self.errors: dict[str, dict[str, Any]] = load_fixture("errors.json")
        self.quota_left = 149
        self.reset_ms = 12_345
        self.requests: list[Request] = []
        self._scripts: dict[tuple[str, str], deque[Answer]] = defaultdict(deque)
        self._lock = threading.Lock()
        self.url = ""

    def script(self, method: str, path: str, *answers: Answer) -> None:
        """The next answers to ``method path`` (path below ``/stores/{hash}``), in order."""
        self._scripts[(method, path)].extend(answers)

    def error(self, status: int, title: str | None = None) -> Answer:
        body = dict(self.errors[str(status)])
        if title:
            body["title"] = title
        return Answer(status, body)

    def paths(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.requests]

    # --- dispatch --------------------------------------------------------------------------

    def answer(self, method: str, target: str, headers: dict[str, str], body: Any) -> Answer:
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        prefix = f"/stores/{STORE_HASH}"
        path = parts.path.removeprefix(prefix)
        with self._lock:
            self.requests.append(Request(method, path, query, headers, body))
            scripted = self._scripts.get((method, path))
            if scripted:
                return scripted.popleft()
        if not parts.path.startswith(prefix + "/"):
            return self.error(404, "Store not found")
        if headers.get("x-auth-token") != TOKEN:
            return self.error(401)
        return self._route(method, path, query, body)

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        segments = path.strip("/").split("/")
        match method, segments:
            case "GET", ["v3", "checkouts", cart_id]:
                checkout = self.checkouts.get(cart_id)
                return self._v3(checkout) if checkout else self.error(404)
            case "GET", ["v3", "carts", cart_id]:
                checkout = self.checkouts.get(cart_id)
                return self._v3(checkout["cart"]) if checkout else self.error(404)
            case "POST", ["v3", "carts"]:
                created = load_fixture("cart_created.json")["data"]
                created.update(customer_id=body.get("customer_id", 0), channel_id=body.get("channel_id", 1))
                return Answer(201, {"data": created, "meta": {}})
            case "GET", ["v3", "customers"]:
                ids = {int(i) for i in query.get("id:in", "").split(",") if i}
                return self._v3([c for c in self.customers if c.get("id") in ids], paged=True)
            case "GET", ["v3", "customers", "subscribers"]:
                email = query.get("email")
                return self._v3([s for s in self.subscribers if s["email"] == email], paged=True)
            case "GET", ["v2", "orders", order_id]:
                order = self.orders.get(int(order_id))
                if order is None:
                    return Answer(404, [{"status": 404, "message": "The requested resource was not found."}])
                return Answer(200, order)
            case "GET", ["v3", "hooks"]:
                return self._hooks_page(int(query.get("page", 1)), int(query.get("limit", 50)))
            case "GET", ["v3", "hooks", "admin"]:
                return Answer(200, load_fixture("hooks_admin.json"))
            case "POST", ["v3", "hooks"]:
                if not body.get("destination"):
                    return self.error(422)
                new = {"id": 18048288 + len(self.hooks), "client_id": "c", "store_hash": STORE_HASH, **body}
                self.hooks.append(new)
                return self._v3(new)
            case "PUT", ["v3", "hooks", hook_id]:
                hook = self._hook(int(hook_id))
                if hook is None:
                    return self.error(404)
                hook.update(body)
                return self._v3(hook)
            case "DELETE", ["v3", "hooks", hook_id]:
                hook = self._hook(int(hook_id))
                if hook is None:
                    return self.error(404)
                self.hooks.remove(hook)
                return self._v3(hook)
        return self.error(404, "No such route in the fake")

    def _hook(self, hook_id: int) -> dict[str, Any] | None:
        return next((h for h in self.hooks if h["id"] == hook_id), None)

    def _v3(self, data: Any, *, paged: bool = False) -> Answer:
        meta: dict[str, Any] = {}
        if paged:
            meta = {
                "pagination": {"total": len(data), "count": len(data), "current_page": 1, "total_pages": 1}
            }
        return Answer(200, {"data": copy.deepcopy(data), "meta": meta})

    def _hooks_page(self, page: int, limit: int) -> Answer:
        pages = max(1, -(-len(self.hooks) // limit))
        batch = self.hooks[(page - 1) * limit : page * limit]
        pagination = {"total": len(self.hooks), "count": len(batch), "per_page": limit}
        return Answer(
            200,
            {
                "data": batch,
                "meta": {"pagination": pagination | {"current_page": page, "total_pages": pages}},
            },
        )

    def rate_headers(self) -> dict[str, str]:
        return {
            "X-Rate-Limit-Time-Window-Ms": "30000",
            "X-Rate-Limit-Time-Reset-Ms": str(self.reset_ms),
            "X-Rate-Limit-Requests-Quota": "150",
            "X-Rate-Limit-Requests-Left": str(self.quota_left),
        }


def _handler(fake: FakeBigCommerce) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes: without TCP_NODELAY every keep-alive
        # answer waits out the client's delayed ACK (~40 ms).
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            answer = fake.answer(self.command, self.path, headers, json.loads(raw) if raw else None)
            if answer.delay:
                time.sleep(answer.delay)
            payload = b"" if answer.body is None else json.dumps(answer.body).encode()
            self.send_response(answer.status)
            for name, value in (fake.rate_headers() | answer.headers).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out hangs up on a slow answer: expected in the timeout tests.
        pass


@dataclass
class Sleeps:
    """An injected ``sleep`` that records each wait instead of waiting."""

    waits: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def serve(fake: FakeBigCommerce) -> Generator[FakeBigCommerce]:
    """Run ``fake`` on an ephemeral loopback port until the generator is closed."""
    server = _QuietServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    # A short poll keeps shutdown (each test's teardown) quick.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-bigcommerce", daemon=True
    )
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
