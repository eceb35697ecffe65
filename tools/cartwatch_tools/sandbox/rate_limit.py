"""BigCommerce's per-store API quota, and injected faults for testing clients' retry paths.

The quota is a fixed window per store (docs/api-docs/getting-started/api-rate-limits.mdx):
``quota`` requests per ``window_ms``, shared by every API account of the store.  Every response
reports the window in ``X-Rate-Limit-*`` headers; past the quota the answer is 429 until the
window resets.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class RateState:
    allowed: bool
    quota: int
    window_ms: int
    left: int
    reset_ms: int

    def headers(self) -> dict[str, str]:
        headers = {
            "X-Rate-Limit-Time-Window-Ms": str(self.window_ms),
            "X-Rate-Limit-Time-Reset-Ms": str(self.reset_ms),
            "X-Rate-Limit-Requests-Quota": str(self.quota),
            "X-Rate-Limit-Requests-Left": str(self.left),
        }
        if not self.allowed:
            # Also listed in docs/start/about/index.mdx, in whole seconds.
            headers["X-Retry-After"] = str(max(1, -(-self.reset_ms // 1000)))
        return headers


class RateLimiter:
    def __init__(self, quota: int, window_ms: int, clock: Callable[[], float] = time.monotonic) -> None:
        if quota < 1 or window_ms < 1:
            raise ValueError("the rate limit needs a positive quota and window")
        self.quota = quota
        self.window_ms = window_ms
        self._clock = clock
        self._lock = threading.Lock()
        self._window_start: float | None = None
        self._used = 0

    def _roll(self) -> float:
        """Start a new window when the current one is over; return the ms left in it."""
        now = self._clock()
        if self._window_start is None or (now - self._window_start) * 1000 >= self.window_ms:
            self._window_start = now
            self._used = 0
        return self.window_ms - (now - self._window_start) * 1000

    def consume(self) -> RateState:
        with self._lock:
            reset_ms = int(self._roll())
            allowed = self._used < self.quota
            if allowed:
                self._used += 1
            return RateState(allowed, self.quota, self.window_ms, self.quota - self._used, reset_ms)

    def peek(self) -> RateState:
        """The headers for a response that does not count against the quota (e.g. a 401)."""
        with self._lock:
            reset_ms = int(self._roll())
            return RateState(True, self.quota, self.window_ms, self.quota - self._used, reset_ms)


@dataclass(frozen=True)
class Fault:
    status: int
    # For an injected 429: what X-Rate-Limit-Time-Reset-Ms says, kept short so clients that
    # honour it (as they should) do not stall a test for a whole 30-second window.
    reset_ms: int


@dataclass
class _Rule:
    pattern: re.Pattern[str]
    method: str | None
    statuses: deque[int]
    reset_ms: int


class FaultQueue:
    """ "The next N requests to a path answer these statuses": one status used up per matching request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []

    def inject(
        self, path_regex: str, statuses: Iterable[int], method: str | None = None, reset_ms: int = 100
    ) -> None:
        rule = _Rule(re.compile(path_regex), method.upper() if method else None, deque(statuses), reset_ms)
        with self._lock:
            self._rules.append(rule)

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for rule in self._rules:
                if (rule.method is None or rule.method == method) and rule.pattern.search(path):
                    status = rule.statuses.popleft()
                    if not rule.statuses:
                        self._rules.remove(rule)
                    return Fault(status, rule.reset_ms)
        return None

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
