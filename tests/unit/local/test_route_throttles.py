"""`cartwatch local`'s gateway throttles as API Gateway does: one token bucket per route."""

from __future__ import annotations

from cartwatch.resources import QUERY_ROUTES, WEBHOOK_ROUTE, Throttle, ThrottlePlan
from cartwatch_tools.local.throttling import RouteThrottles

PLAN = ThrottlePlan(intake=Throttle(100, 200), query=Throttle(5, 10), app=Throttle(1, 2))
WEBHOOKS = f"{WEBHOOK_ROUTE[0]} {WEBHOOK_ROUTE[1]}"
LISTING = f"{QUERY_ROUTES[1][0]} {QUERY_ROUTES[1][1]}"
ONE_CART = f"{QUERY_ROUTES[2][0]} {QUERY_ROUTES[2][1]}"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def admitted(throttles: RouteThrottles, route: str, requests: int) -> int:
    return sum(throttles.admit(route) for _ in range(requests))


def test_a_route_admits_its_burst_then_its_rate() -> None:
    clock = Clock()
    throttles = RouteThrottles(PLAN, clock)
    assert admitted(throttles, LISTING, 50) == 10  # the bucket's size
    clock.now += 1.0
    assert admitted(throttles, LISTING, 50) == 5  # one second's refill
    clock.now += 100.0
    assert admitted(throttles, LISTING, 50) == 10  # never more than the bucket holds


def test_a_query_flood_leaves_the_webhook_route_untouched() -> None:
    clock = Clock()
    throttles = RouteThrottles(PLAN, clock)
    assert admitted(throttles, LISTING, 10_000) == 10
    assert admitted(throttles, ONE_CART, 10_000) == 10  # each query route has its own bucket
    assert admitted(throttles, WEBHOOKS, 200) == 200
