"""A query flood cannot make a BigCommerce delivery get 429: `cartwatch local`'s gateway
throttles each route from the stack's plan, and the webhook route has a bucket of its own."""

from __future__ import annotations

import http.client
import random
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from cartwatch.resources import DEFAULT_THROTTLES
from cartwatch_tools.local.gateway import LocalGateway
from cartwatch_tools.local.moto_server import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY
from cartwatch_tools.local.sigv4 import SigV4Verifier

pytestmark = pytest.mark.integration


def answer(status: int) -> Any:
    return lambda event, context: {"statusCode": status}


@pytest.fixture
def gateway() -> Iterator[LocalGateway]:
    gateway = LocalGateway(
        answer(200),
        query_api=answer(200),
        verifier=SigV4Verifier(LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY, "us-east-1"),
        app_callbacks=answer(200),
    ).start()
    try:
        yield gateway
    finally:
        gateway.stop()


def request(gateway: LocalGateway, method: str, path: str) -> int:
    host, port = gateway.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request(method, path, body=b"{}" if method == "POST" else None)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_a_query_flood_gets_429s_while_every_delivery_gets_through(gateway: LocalGateway) -> None:
    flood = 4 * DEFAULT_THROTTLES.query.burst_limit
    deliveries = 300
    calls = [("GET", "/v1/stores/abc123/carts")] * flood
    calls += [("POST", "/webhooks/bigcommerce/abc123")] * deliveries
    random.Random(3).shuffle(calls)  # interleaved, on many connections at once
    with ThreadPoolExecutor(max_workers=32) as pool:
        statuses = list(pool.map(lambda call: (call[0], request(gateway, *call)), calls))

    queries = Counter(status for method, status in statuses if method == "GET")
    webhooks = Counter(status for method, status in statuses if method == "POST")
    assert webhooks == {200: deliveries}
    # Over its bucket the query route is throttled before its signature is even checked;
    # under it, unsigned requests are refused as they are in AWS.
    query = DEFAULT_THROTTLES.query
    assert queries[429] >= flood - query.burst_limit - query.rate_limit * 5  # the flood takes < 5 s
    assert set(queries) <= {403, 429}
