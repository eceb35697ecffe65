"""Socket-free stand-ins for the sandbox's unit tests: a webhook sender that records instead of posting."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cartwatch_tools.sandbox.delivery import WebhookDispatcher
from cartwatch_tools.sandbox.rate_limit import RateLimiter
from cartwatch_tools.sandbox.store import ApiAccount, Store

CLIENT_ID = "unit-client"
SECRET = "unit-secret"


@dataclass(frozen=True)
class Sent:
    url: str
    body: str
    headers: Mapping[str, str]

    @property
    def payload(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


class FakeSender:
    """Answers ``status`` (or what ``answer`` returns for the n-th call) and remembers every call."""

    def __init__(self, status: int = 200, answer: Callable[[int], int] | None = None) -> None:
        self.status = status
        self.answer = answer
        self.sent: list[Sent] = []
        self._lock = threading.Lock()

    def __call__(self, url: str, body: str, headers: Mapping[str, str], timeout: float) -> int:
        with self._lock:
            self.sent.append(Sent(url, body, dict(headers)))
            return self.answer(len(self.sent)) if self.answer else self.status

    def scopes(self) -> list[str]:
        with self._lock:
            return [s.payload["scope"] for s in self.sent]


def make_store(
    dispatcher: WebhookDispatcher, *, seed: int | None = 3, clock: Callable[[], float] | None = None
) -> Store:
    options: dict[str, Any] = {"clock": clock} if clock else {}
    return Store(
        "unit42",
        ApiAccount(CLIENT_ID, "unit-token", SECRET),
        store_id="1025646",
        dispatcher=dispatcher,
        rate_limiter=RateLimiter(150, 30_000),
        allow_http_destinations=True,
        seed=seed,
        **options,
    )


def subscribe(store: Store, scope: str = "store/cart/*", **extra: Any) -> int:
    return store.hooks.create(
        CLIENT_ID, {"scope": scope, "destination": "https://hooks.example.com/bc", **extra}
    ).id
