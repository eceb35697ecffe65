"""API Gateway's route-level throttling, for `cartwatch local`'s gateway.

One token bucket per route, from the same plan the stack deploys
(``cartwatch.resources.ThrottlePlan``): a request takes a token from its route's bucket or
is answered 429 before it reaches a handler, as API Gateway answers.  Routes never share a
bucket, so a flood of query requests leaves the webhook route's bucket untouched.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from cartwatch.resources import Throttle, ThrottlePlan


class TokenBucket:
    """``burst_limit`` tokens at most, refilled at ``rate_limit`` tokens per second."""

    def __init__(self, throttle: Throttle, clock: Callable[[], float]) -> None:
        self._rate = float(throttle.rate_limit)
        self._capacity = float(throttle.burst_limit)
        self._tokens = self._capacity
        self._clock = clock
        self._updated = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class RouteThrottles:
    """A bucket per route key of ``plan``; thread-safe (the gateway serves on many threads)."""

    def __init__(self, plan: ThrottlePlan, clock: Callable[[], float] = time.monotonic) -> None:
        self._buckets = {route: TokenBucket(throttle, clock) for route, throttle in plan.routes().items()}
        self._lock = threading.Lock()

    def admit(self, route_key: str) -> bool:
        """Whether a request of ``route_key`` (``METHOD /template``) may go on."""
        with self._lock:
            return self._buckets[route_key].take()
