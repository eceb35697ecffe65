"""``BigCommerceSandbox``: the composition root that wires stores, the HTTP server and delivery.

Three threads while running, all joined by ``stop()``: the HTTP server loop, the webhook worker
and the idle watch that fires ``store/cart/abandoned`` hints.  Everything BigCommerce does on a
clock (retry back-off, the abandonment idle time) runs at ``time_scale`` speed.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from cartwatch_tools.sandbox.apps import AppMarketplace
from cartwatch_tools.sandbox.delivery import DeliveryRecord, WebhookDispatcher
from cartwatch_tools.sandbox.rate_limit import FaultQueue, RateLimiter
from cartwatch_tools.sandbox.server import SandboxHTTPServer
from cartwatch_tools.sandbox.store import ApiAccount, Store

# BigCommerce marks a cart abandoned after an hour without changes.
ABANDONED_AFTER_S = 3600.0
_IDLE_POLL_S = 0.5


class BigCommerceSandbox:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limit: tuple[int, int] = (150, 30_000),
        time_scale: float = 1.0,
        allow_http_destinations: bool = False,
        seed: int | None = None,
        duplicate_rate: float = 0.0,
        reorder: bool = False,
        abandon_after: float | None = ABANDONED_AFTER_S,
        delivery_timeout: float = 5.0,
    ) -> None:
        """``rate_limit``: (requests, window ms) per store.  ``abandon_after``: idle seconds, in
        BigCommerce time (scaled by ``time_scale``) before the abandoned hint; None turns it off."""
        self._address = (host, port)
        self.rate_limit = rate_limit
        self.time_scale = time_scale
        self.allow_http_destinations = allow_http_destinations
        self.seed = seed
        self.abandon_after = abandon_after
        self.faults = FaultQueue()
        self.dispatcher = WebhookDispatcher(
            time_scale=time_scale,
            duplicate_rate=duplicate_rate,
            reorder=reorder,
            seed=seed,
            timeout=delivery_timeout,
        )
        self._stores: dict[str, Store] = {}
        # The developer portal, login service and control panel of single-click apps.
        self.apps = AppMarketplace(self._stores.get)
        self._server: SandboxHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._wake = threading.Event()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> BigCommerceSandbox:
        if self._server is not None:
            return self
        if self._stopping.is_set():
            raise RuntimeError("a stopped sandbox cannot be restarted: create a new one")
        self._server = SandboxHTTPServer(
            self._address, self._stores.get, self.faults, self.configure_delivery, self.apps
        )
        self.dispatcher.start()
        self._threads = [
            threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="bigcommerce-sandbox-http",
            ),
            threading.Thread(target=self._watch_idle_carts, name="bigcommerce-sandbox-idle"),
        ]
        for thread in self._threads:
            thread.daemon = True
            thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(10)
        self._threads = []
        self.dispatcher.stop()
        self._server = None

    def __enter__(self) -> BigCommerceSandbox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def configure_delivery(self, settings: dict[str, Any]) -> dict[str, Any]:
        """Switch duplicate / reordered deliveries at run time (``PUT /_sandbox/delivery``)."""
        rate = float(settings.get("duplicate_rate", self.dispatcher.duplicate_rate))
        if not 0.0 <= rate <= 1.0:
            raise ValueError("duplicate_rate must be within [0, 1]")
        self.dispatcher.duplicate_rate = rate
        self.dispatcher.reorder = bool(settings.get("reorder", self.dispatcher.reorder))
        return {"duplicate_rate": self.dispatcher.duplicate_rate, "reorder": self.dispatcher.reorder}

    @property
    def connections_opened(self) -> int:
        """How many connections clients opened to the sandbox (each serves many requests)."""
        return self._server.connections_opened if self._server is not None else 0

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``; a store's v3 API is at ``{url}/stores/{hash}/v3``."""
        if self._server is None:
            raise RuntimeError("the sandbox is not running: call start() first")
        return self._server.url

    def api_url(self, store_hash: str, version: str = "v3") -> str:
        return f"{self.url}/stores/{store_hash}/{version}"

    # -- stores ------------------------------------------------------------------------------

    def add_store(
        self,
        store_hash: str,
        access_token: str,
        client_secret: str,
        *,
        client_id: str | None = None,
        store_id: str | None = None,
    ) -> Store:
        if store_hash in self._stores:
            raise ValueError(f"store {store_hash} already exists")
        # A stable numeric id per hash, like BigCommerce's "store_id" (sent as a string).
        derived_id = str(1_000_000 + int(hashlib.sha256(store_hash.encode()).hexdigest(), 16) % 9_000_000)
        store = Store(
            store_hash,
            ApiAccount(client_id or f"sandbox-client-{store_hash}", access_token, client_secret),
            store_id=store_id or derived_id,
            dispatcher=self.dispatcher,
            rate_limiter=RateLimiter(*self.rate_limit),
            allow_http_destinations=self.allow_http_destinations,
            seed=self.seed,
            on_change=self._wake.set,
        )
        self._stores[store_hash] = store
        return store

    def store(self, store_hash: str) -> Store:
        return self._stores[store_hash]

    @property
    def stores(self) -> list[Store]:
        return list(self._stores.values())

    # -- test controls -------------------------------------------------------------------------

    def inject_faults(
        self, path_regex: str, statuses: Iterable[int], *, method: str | None = None, reset_ms: int = 100
    ) -> None:
        """The next requests whose path matches ``path_regex`` (``re.search``) answer ``statuses``
        in turn, e.g. ``inject_faults(r"/v3/carts/", [429, 503])``; a 429 carries rate headers."""
        self.faults.inject(path_regex, statuses, method, reset_ms)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until every webhook is delivered or given up; False if ``timeout`` came first."""
        return self.dispatcher.wait_idle(timeout)

    @property
    def deliveries(self) -> list[DeliveryRecord]:
        return self.dispatcher.deliveries

    # -- the abandonment clock -------------------------------------------------------------------

    def _watch_idle_carts(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            wait = _IDLE_POLL_S
            if self.abandon_after is not None:
                idle = self.abandon_after * self.time_scale
                for store in list(self._stores.values()):
                    next_due = store.send_due_abandon_hints(idle)
                    if next_due is not None:
                        wait = min(wait, next_due)
            # Woken early by any cart change, so short idle times are honoured promptly.
            self._wake.wait(max(wait, 0.001))
