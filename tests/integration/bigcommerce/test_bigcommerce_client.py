"""The BigCommerce API client against a loopback BigCommerce: retries, pacing, errors, secrecy."""

from __future__ import annotations

import logging
import random
import socket

import pytest
import urllib3
from tests.integration.bigcommerce.fake_bigcommerce import STORE_HASH, TOKEN, Answer

from cartwatch.adapters.bigcommerce import (
    BigCommerceClient,
    BigCommerceRejected,
    BigCommerceUnauthorized,
    BigCommerceUnavailable,
)

pytestmark = pytest.mark.integration

REGISTERED_CART = "306d57d7-124e-4112-82cd-35e060c0d4d9"
CHECKOUT = f"/v3/checkouts/{REGISTERED_CART}"


def test_get_checkout_sends_the_documented_request(client, fake_bigcommerce):
    checkout = client.get_checkout(REGISTERED_CART)

    assert checkout is not None
    assert checkout["cart"]["customer_id"] == 11
    [request] = fake_bigcommerce.requests
    assert (request.method, request.path) == ("GET", CHECKOUT)
    assert request.query == {
        "include": "cart.line_items.physical_items.options,cart.line_items.digital_items.options"
    }
    assert request.headers["x-auth-token"] == TOKEN
    assert request.headers["accept"] == "application/json"
    assert request.headers["content-type"] == "application/json"
    assert client.calls == 1


def test_filters_use_bigcommerce_names(client, fake_bigcommerce):
    assert [c["id"] for c in client.get_customers([11])] == [11]
    assert [s["id"] for s in client.get_subscribers("janedoe@example.com")] == [3]
    assert client.get_customers([]) == []

    customers, subscribers = fake_bigcommerce.requests
    assert customers.query["id:in"] == "11"
    assert subscribers.path == "/v3/customers/subscribers"
    assert subscribers.query == {"email": "janedoe@example.com"}
    assert client.calls == 2


def test_get_cart_and_order(client, fake_bigcommerce):
    cart = client.get_cart(REGISTERED_CART)
    order = client.get_order(218)

    assert cart is not None
    assert cart["id"] == REGISTERED_CART
    assert fake_bigcommerce.requests[0].query["include"] == (
        "line_items.physical_items.options,line_items.digital_items.options"
    )
    assert order is not None
    assert order["total_inc_tax"] == "69.8400"
    assert fake_bigcommerce.requests[1].path == "/v2/orders/218"


@pytest.mark.parametrize(
    ("call", "path"),
    [
        (lambda c: c.get_checkout("gone"), "/v3/checkouts/gone"),
        (lambda c: c.get_cart("gone"), "/v3/carts/gone"),
        (lambda c: c.get_order(999), "/v2/orders/999"),
        (lambda c: c.delete_hook(999), "/v3/hooks/999"),
    ],
)
def test_404_is_none(client, fake_bigcommerce, call, path):
    assert call(client) is None
    assert fake_bigcommerce.requests[-1].path == path
    assert client.calls == 1


def test_ids_cannot_change_the_path(client, fake_bigcommerce):
    assert client.get_checkout("../carts/x?include=y") is None

    assert fake_bigcommerce.requests[0].path == "/v3/checkouts/..%2Fcarts%2Fx%3Finclude%3Dy"


def test_429_waits_for_the_reset_then_succeeds(client, fake_bigcommerce, sleeps):
    fake_bigcommerce.script(
        "GET",
        CHECKOUT,
        Answer(429, {"status": 429, "title": "Too many requests"}, {"X-Rate-Limit-Time-Reset-Ms": "1500"}),
    )

    assert client.get_checkout(REGISTERED_CART) is not None

    assert sleeps.waits == [1.5]
    assert client.calls == 2


def test_429_with_only_retry_after(client, fake_bigcommerce, sleeps, monkeypatch):
    monkeypatch.setattr(fake_bigcommerce, "rate_headers", dict)
    fake_bigcommerce.script("GET", CHECKOUT, Answer(429, None, {"X-Retry-After": "2"}))

    assert client.get_checkout(REGISTERED_CART) is not None
    assert sleeps.waits == [2.0]


def test_429_without_rate_limit_headers_backs_off(client, fake_bigcommerce, sleeps, monkeypatch):
    # BigCommerce: a 429 without the headers means platform overload, not this store's quota.
    monkeypatch.setattr(fake_bigcommerce, "rate_headers", dict)
    fake_bigcommerce.script("GET", CHECKOUT, Answer(429), Answer(429))

    assert client.get_checkout(REGISTERED_CART) is not None
    assert len(sleeps.waits) == 2
    assert 0 <= sleeps.waits[0] <= 0.5
    assert 0 <= sleeps.waits[1] <= 1.0


def test_a_reset_beyond_the_wait_bound_gives_up_at_once(fake_bigcommerce, sleeps):
    client = BigCommerceClient(
        STORE_HASH, TOKEN, api_url=fake_bigcommerce.url, sleep=sleeps, max_wait_seconds=5
    )
    fake_bigcommerce.script("GET", CHECKOUT, Answer(429, None, {"X-Rate-Limit-Time-Reset-Ms": "20000"}))

    with pytest.raises(BigCommerceUnavailable) as raised:
        client.get_checkout(REGISTERED_CART)

    assert raised.value.retry_after == 20.0
    assert sleeps.waits == []
    assert client.calls == 1


def test_spent_quota_is_waited_out_before_the_next_request(client, fake_bigcommerce, sleeps):
    fake_bigcommerce.quota_left = 0
    fake_bigcommerce.reset_ms = 4_000

    client.get_checkout(REGISTERED_CART)
    assert sleeps.waits == []  # nothing known yet before the first answer

    fake_bigcommerce.quota_left = 150
    client.get_order(218)

    assert len(sleeps.waits) == 1
    assert 3.5 < sleeps.waits[0] <= 4.0
    assert client.calls == 2  # waited instead of spending a request on a 429


def test_5xx_is_retried_with_jittered_backoff(client, fake_bigcommerce, sleeps):
    fake_bigcommerce.script(
        "GET", CHECKOUT, fake_bigcommerce.error(503), Answer(502, None), Answer(500, None)
    )

    assert client.get_checkout(REGISTERED_CART) is not None

    assert client.calls == 4
    assert len(sleeps.waits) == 3
    for attempt, wait in enumerate(sleeps.waits, start=1):
        assert 0 <= wait <= 0.5 * 2 ** (attempt - 1)


def test_persistent_5xx_is_unavailable(client, fake_bigcommerce, sleeps):
    fake_bigcommerce.script("GET", CHECKOUT, *[fake_bigcommerce.error(503)] * 4)

    with pytest.raises(BigCommerceUnavailable) as raised:
        client.get_checkout(REGISTERED_CART)

    assert raised.value.status == 503
    assert client.calls == 4
    assert len(sleeps.waits) == 3


def test_a_post_that_failed_with_500_is_not_repeated(client, fake_bigcommerce):
    fake_bigcommerce.script("POST", "/v3/carts", Answer(500, None))

    with pytest.raises(BigCommerceUnavailable):
        client.create_cart({"line_items": [{"quantity": 1, "product_id": 188}]})

    assert client.calls == 1


def test_401_is_unauthorized(fake_bigcommerce, sleeps):
    client = BigCommerceClient(STORE_HASH, "wrong-token", api_url=fake_bigcommerce.url, sleep=sleeps)

    with pytest.raises(BigCommerceUnauthorized) as raised:
        client.get_checkout(REGISTERED_CART)

    assert raised.value.status == 401
    assert "not a valid combination" in str(raised.value)
    assert client.calls == 1


def test_403_is_unauthorized(client, fake_bigcommerce):
    fake_bigcommerce.script("POST", "/v3/carts", fake_bigcommerce.error(403))

    with pytest.raises(BigCommerceUnauthorized):
        client.create_cart({"line_items": []})


def test_other_4xx_is_rejected_with_bigcommerces_title(client, fake_bigcommerce):
    with pytest.raises(BigCommerceRejected) as raised:
        client.create_hook("store/cart/created", "", {"X-Cartwatch-Token": "t"})

    assert raised.value.status == 422
    assert raised.value.title == "JSON data is missing or invalid"
    assert client.calls == 1


def test_timeouts_are_passed_on_every_request(fake_bigcommerce, sleeps):
    timeouts: list[tuple[object, object]] = []

    class RecordingPool(urllib3.PoolManager):
        def urlopen(self, *args, **kwargs):  # type: ignore[no-untyped-def, override]
            timeouts.append((kwargs["timeout"].connect_timeout, kwargs["timeout"].read_timeout))
            return super().urlopen(*args, **kwargs)

    client = BigCommerceClient(
        STORE_HASH, TOKEN, api_url=fake_bigcommerce.url, pool=RecordingPool(), sleep=sleeps
    )

    client.get_checkout(REGISTERED_CART)
    client.list_hooks()
    client.get_order(218)

    assert timeouts == [(3.05, 10), (3.05, 10), (3.05, 10)]


def test_a_slow_answer_times_out_and_is_retried(fake_bigcommerce, sleeps):
    client = BigCommerceClient(
        STORE_HASH, TOKEN, api_url=fake_bigcommerce.url, sleep=sleeps, timeout=(1, 0.2), max_attempts=2
    )
    fake_bigcommerce.script("GET", CHECKOUT, Answer(200, {"data": {}}, delay=0.6))

    assert client.get_checkout(REGISTERED_CART) is not None

    assert client.calls == 2
    assert len(sleeps.waits) == 1


def test_persistent_timeouts_are_unavailable(fake_bigcommerce, sleeps):
    client = BigCommerceClient(
        STORE_HASH, TOKEN, api_url=fake_bigcommerce.url, sleep=sleeps, timeout=(1, 0.2), max_attempts=2
    )
    fake_bigcommerce.script("GET", CHECKOUT, *[Answer(200, {"data": {}}, delay=0.6)] * 2)

    with pytest.raises(BigCommerceUnavailable, match="ReadTimeout"):
        client.get_checkout(REGISTERED_CART)


def closed_port_url() -> str:
    """A loopback address nothing listens on: connections to it are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def test_an_unreachable_host_is_unavailable(sleeps):
    client = BigCommerceClient(STORE_HASH, TOKEN, api_url=closed_port_url(), sleep=sleeps, max_attempts=3)

    with pytest.raises(BigCommerceUnavailable, match="unreachable after 3 attempt"):
        client.get_subscribers("janedoe@example.com")

    assert client.calls == 3


def test_a_create_is_retried_only_when_it_never_reached_bigcommerce(fake_bigcommerce, sleeps):
    never_connected = BigCommerceClient(
        STORE_HASH, TOKEN, api_url=closed_port_url(), sleep=sleeps, max_attempts=2
    )
    with pytest.raises(BigCommerceUnavailable, match="unreachable after 2 attempt"):
        never_connected.create_cart({"line_items": []})

    # Sent, then no answer in time: BigCommerce may have created the cart; never sent twice.
    slow = BigCommerceClient(
        STORE_HASH, TOKEN, api_url=fake_bigcommerce.url, sleep=sleeps, timeout=(1, 0.2), max_attempts=3
    )
    fake_bigcommerce.script("POST", "/v3/carts", Answer(201, {"data": {"id": "c"}}, delay=0.6))
    with pytest.raises(BigCommerceUnavailable, match="unreachable after 1 attempt"):
        slow.create_cart({"line_items": []})
    assert slow.calls == 1


def test_the_token_is_never_shown(fake_bigcommerce, sleeps, caplog):
    caplog.set_level(logging.DEBUG)
    client = BigCommerceClient(STORE_HASH, TOKEN, api_url=fake_bigcommerce.url, sleep=sleeps, max_attempts=2)
    fake_bigcommerce.script("GET", CHECKOUT, *[fake_bigcommerce.error(503)] * 2)
    fake_bigcommerce.script("POST", "/v3/carts", fake_bigcommerce.error(422, f"bad {TOKEN[:3]}"))
    refused = BigCommerceClient(STORE_HASH, TOKEN + "x", api_url=fake_bigcommerce.url, sleep=sleeps)
    unreachable = BigCommerceClient(
        STORE_HASH, TOKEN, api_url="http://127.0.0.1:9", sleep=sleeps, max_attempts=1
    )

    errors = []
    for call in (
        lambda: client.get_checkout(REGISTERED_CART),
        lambda: client.create_cart({"line_items": []}),
        lambda: refused.get_order(218),
        lambda: unreachable.get_subscribers("janedoe@example.com"),
    ):
        with pytest.raises(Exception) as raised:  # noqa: PT011 - each raises its own type
            call()
        errors.append(raised.value)

    shown = [repr(client), str(client), repr(vars(client))]
    shown += [text for e in errors for text in (str(e), repr(e), str(e.__cause__), str(e.__context__))]
    shown += [record.getMessage() for record in caplog.records]
    assert all(TOKEN not in text for text in shown)
    # Query strings (a shopper's email) stay out of messages too.
    assert all("janedoe" not in str(e) for e in errors)
    assert (
        repr(client) == f"BigCommerceClient(store_hash='abc123', api='{fake_bigcommerce.url}/stores/abc123')"
    )


def test_list_hooks_reads_every_page(fake_bigcommerce, client):
    fake_bigcommerce.hooks = [
        {"id": i, "scope": "store/cart/created", "destination": "https://x"} for i in range(600)
    ]

    hooks = client.list_hooks()

    assert [h["id"] for h in hooks] == list(range(600))
    assert [r.query["page"] for r in fake_bigcommerce.requests] == ["1", "2", "3"]
    assert client.calls == 3


def test_hook_management(client, fake_bigcommerce):
    created = client.create_hook(
        "store/cart/created", "https://cw.example.com/webhooks", {"X-Cartwatch-Token": "t"}
    )
    assert fake_bigcommerce.requests[-1].body == {
        "scope": "store/cart/created",
        "destination": "https://cw.example.com/webhooks",
        "is_active": True,
        "headers": {"X-Cartwatch-Token": "t"},
    }

    updated = client.update_hook(created["id"], is_active=False)
    assert updated["is_active"] is False
    assert fake_bigcommerce.requests[-1].body == {"is_active": False}

    deleted = client.delete_hook(created["id"])
    assert deleted is not None
    assert deleted["id"] == created["id"]
    assert client.delete_hook(created["id"]) is None

    admin = client.get_hooks_admin()
    assert admin["hooks_list"][0]["status"] == "deactivated"

    with pytest.raises(ValueError, match="update_hook takes"):
        client.update_hook(1, colour="red")


def test_create_cart_asks_for_redirect_urls(client, fake_bigcommerce):
    created = client.create_cart({"customer_id": 11, "line_items": [{"quantity": 1, "product_id": 188}]})

    assert created["redirect_urls"]["checkout_url"].startswith("https://store.mybigcommerce.com/cart.php")
    assert fake_bigcommerce.requests[0].query == {"include": "redirect_urls"}


def test_jitter_uses_the_injected_random(fake_bigcommerce):
    def waits_with(seed: int) -> list[float]:
        waits: list[float] = []
        client = BigCommerceClient(
            STORE_HASH, TOKEN, api_url=fake_bigcommerce.url, sleep=waits.append, rng=random.Random(seed)
        )
        fake_bigcommerce.script("GET", CHECKOUT, Answer(500), Answer(500))
        client.get_checkout(REGISTERED_CART)
        return waits

    assert waits_with(1) == waits_with(1)


def test_a_pause_beyond_the_wait_bound_is_kept_for_the_next_call(fake_bigcommerce, sleeps):
    clock = [100.0]
    client = BigCommerceClient(
        STORE_HASH,
        TOKEN,
        api_url=fake_bigcommerce.url,
        sleep=sleeps,
        max_wait_seconds=5,
        clock=lambda: clock[0],
    )
    fake_bigcommerce.quota_left, fake_bigcommerce.reset_ms = 0, 20_000
    client.get_order(218)

    for _ in range(2):
        with pytest.raises(BigCommerceUnavailable, match="quota spent") as raised:
            client.get_order(218)
        assert raised.value.retry_after == 20.0

    clock[0] += 20
    assert client.get_order(218) is not None
    assert client.calls == 2
    assert sleeps.waits == []
