"""The per-store quota window and the injected-fault queue."""

from __future__ import annotations

from cartwatch_tools.sandbox.rate_limit import Fault, FaultQueue, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_quota_runs_out_and_the_window_resets() -> None:
    clock = Clock()
    limiter = RateLimiter(2, 30_000, clock)
    first = limiter.consume()
    assert (first.allowed, first.left, first.reset_ms) == (True, 1, 30_000)
    clock.now += 10
    assert limiter.consume().left == 0
    refused = limiter.consume()
    assert not refused.allowed
    assert refused.reset_ms == 20_000
    assert refused.headers() == {
        "X-Rate-Limit-Time-Window-Ms": "30000",
        "X-Rate-Limit-Time-Reset-Ms": "20000",
        "X-Rate-Limit-Requests-Quota": "2",
        "X-Rate-Limit-Requests-Left": "0",
        "X-Retry-After": "20",
    }
    assert limiter.peek().left == 0
    clock.now += 20
    assert limiter.consume().left == 1


def test_faults_are_used_up_in_order_per_matching_path() -> None:
    faults = FaultQueue()
    faults.inject(r"/v3/carts/", [429, 503], reset_ms=5)
    faults.inject(r"/v3/hooks$", [500], method="post")
    assert faults.take("GET", "/stores/a/v3/hooks") is None
    assert faults.take("POST", "/stores/a/v3/hooks") == Fault(500, 100)
    assert faults.take("POST", "/stores/a/v3/hooks") is None
    assert faults.take("GET", "/stores/a/v3/carts/x") == Fault(429, 5)
    assert faults.take("PUT", "/stores/a/v3/carts/x/items/y") == Fault(503, 5)
    assert faults.take("GET", "/stores/a/v3/carts/x") is None
