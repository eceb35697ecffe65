"""Webhooks from the sandbox to a loopback receiver: signed, complete, retried, given up."""

from __future__ import annotations

import base64
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import pytest
import requests
from standardwebhooks import Webhook
from tests.integration.sandbox.sandbox_support import SECRET, Api, Receiver

from cartwatch_tools.sandbox import RETRY_SCHEDULE_S, BigCommerceSandbox, Store

pytestmark = [pytest.mark.integration, pytest.mark.enable_socket]


def _register(api: Api, receiver: Receiver, scope: str = "store/cart/*", **extra: object) -> int:
    response = api.call("POST", "/v3/hooks", json={"scope": scope, "destination": receiver.url, **extra})
    assert response.status_code == 200, response.text
    hook_id: int = response.json()["data"]["id"]
    return hook_id


def test_deliveries_are_signed_and_carry_the_custom_header(
    sandbox: BigCommerceSandbox, store: Store, api: Api, receiver: Receiver
) -> None:
    _register(api, receiver, headers={"X-Cartwatch-Token": "let-me-in"})
    cart_id = store.storefront_add_to_cart(111, 2)
    assert sandbox.wait_idle(5)

    verifier = Webhook(base64.b64encode(SECRET.encode()).decode())
    assert receiver.scopes() == ["store/cart/created", "store/cart/updated", "store/cart/lineItem/created"]
    for delivery in receiver.received:
        assert verifier.verify(delivery.body, delivery.headers) == delivery.payload
        assert delivery.headers["X-Cartwatch-Token"] == "let-me-in"
        assert delivery.headers["Content-Type"] == "application/json"
    created, _, line = (r.payload for r in receiver.received)
    assert created["data"] == {"type": "cart", "id": cart_id}
    assert created["producer"] == f"stores/{store.hash}"
    assert created["store_id"] == store.store_id
    assert line["data"]["type"] == "cart_line_item"
    assert line["data"]["cartId"] == cart_id
    assert len({r.payload["hash"] for r in receiver.received}) == 3

    with pytest.raises(Exception, match="signature"):
        Webhook(base64.b64encode(b"another-secret").decode()).verify(
            receiver.received[0].body, receiver.received[0].headers
        )


def test_conversion_fires_converted_with_the_order_and_the_cart_is_gone(
    sandbox: BigCommerceSandbox, store: Store, api: Api, receiver: Receiver
) -> None:
    _register(api, receiver)
    _register(api, receiver, "store/order/created")
    cart_id = store.storefront_add_to_cart(88)
    store.storefront_set_guest_email(cart_id, "guest@example.com", first_name="Gil", phone="+15550001111")
    order_id = store.storefront_convert(cart_id)
    assert sandbox.wait_idle(5)

    assert receiver.scopes()[-3:] == ["store/cart/updated", "store/order/created", "store/cart/converted"]
    converted = receiver.received[-1].payload
    assert converted["data"] == {"type": "cart", "id": cart_id, "orderId": order_id}
    assert api.call("GET", f"/v3/carts/{cart_id}").status_code == 404
    assert api.call("GET", f"/v3/checkouts/{cart_id}").status_code == 404
    assert api.call("GET", f"/v2/orders/{order_id}").json()["cart_id"] == cart_id


def test_management_api_changes_fire_the_same_hooks(
    sandbox: BigCommerceSandbox, api: Api, receiver: Receiver
) -> None:
    _register(api, receiver)
    cart = api.call("POST", "/v3/carts", json={"line_items": [{"product_id": 111, "quantity": 1}]}).json()[
        "data"
    ]
    item_id = cart["line_items"]["physical_items"][0]["id"]
    api.call("PUT", f"/v3/carts/{cart['id']}/items/{item_id}", json={"line_item": {"quantity": 4}})
    assert api.call("DELETE", f"/v3/carts/{cart['id']}/items/{item_id}").status_code == 204
    assert sandbox.wait_idle(5)
    assert receiver.scopes() == [
        "store/cart/created",
        "store/cart/updated",
        "store/cart/lineItem/created",
        "store/cart/updated",
        "store/cart/lineItem/updated",
        "store/cart/updated",
        "store/cart/lineItem/deleted",
        "store/cart/deleted",
    ]


def test_failing_receiver_is_retried_then_the_hook_is_deactivated(
    sandbox: BigCommerceSandbox, store: Store, api: Api, receiver: Receiver
) -> None:
    receiver.status = 500
    hook_id = _register(api, receiver, "store/cart/created")
    store.storefront_add_to_cart(111)
    assert sandbox.wait_idle(10)

    attempts = [d for d in sandbox.deliveries if d.hook_id == hook_id]
    assert [d.attempt for d in attempts] == list(range(1, len(RETRY_SCHEDULE_S) + 2))
    assert {d.status for d in attempts} == {500}
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1  # stable across retries
    hook = api.call("GET", f"/v3/hooks/{hook_id}").json()["data"]
    assert hook["is_active"] is False
    admin = api.call("GET", "/v3/hooks/admin").json()["data"]
    assert admin["hooks_list"][0]["status"] == "deactivated"

    # A deactivated hook receives nothing more, until it is switched back on.
    received = len(receiver.received)
    store.storefront_add_to_cart(111)
    assert sandbox.wait_idle(5)
    assert len(receiver.received) == received
    receiver.status = 200
    api.call("PUT", f"/v3/hooks/{hook_id}", json={"is_active": True})
    store.storefront_add_to_cart(111)
    assert sandbox.wait_idle(5)
    assert len(receiver.received) == received + 1


def test_a_receiver_that_recovers_gets_the_retry(
    sandbox: BigCommerceSandbox, store: Store, api: Api, receiver: Receiver
) -> None:
    receiver.status = 503
    _register(api, receiver, "store/cart/created")
    store.storefront_add_to_cart(111)
    deadline = time.monotonic() + 5
    while len(receiver.received) < 2 and time.monotonic() < deadline:
        time.sleep(0.001)
    receiver.status = 204
    assert sandbox.wait_idle(5)
    assert sandbox.deliveries[-1].ok
    assert store.hooks.is_active(sandbox.deliveries[-1].hook_id)


def _chaotic_run(
    make_sandbox: Callable[..., BigCommerceSandbox], receiver: Receiver
) -> tuple[list[tuple[str, bool]], dict[str, set[bytes]]]:
    receiver.received.clear()
    sandbox = make_sandbox(seed=42, duplicate_rate=0.3, reorder=True)
    store = sandbox.add_store("chaos1", "tok", "secret")
    Api(f"{sandbox.url}/stores/chaos1", token="tok").call(
        "POST", "/v3/hooks", json={"scope": "store/cart/*", "destination": receiver.url}
    )
    cart_id = store.storefront_add_to_cart(111)
    store.storefront_add_to_cart(88, cart_id=cart_id)
    store.storefront_apply_coupon(cart_id, "SAVE10")
    store.storefront_convert(cart_id)
    assert sandbox.wait_idle(5)
    sandbox.stop()
    bodies_by_id: dict[str, set[bytes]] = {}
    for delivery in receiver.received:
        bodies_by_id.setdefault(delivery.headers["webhook-id"], set()).add(delivery.body)
    return [(d.scope, d.duplicate) for d in sandbox.deliveries], bodies_by_id


def test_duplicates_and_reordering_are_reproducible_with_the_seed(
    make_sandbox: Callable[..., BigCommerceSandbox], receiver: Receiver
) -> None:
    first, bodies_by_id = _chaotic_run(make_sandbox, receiver)
    second, _ = _chaotic_run(make_sandbox, receiver)
    assert first == second
    assert any(duplicate for _, duplicate in first)
    in_order = [
        "store/cart/created",
        "store/cart/updated",
        "store/cart/lineItem/created",
        "store/cart/updated",
        "store/cart/lineItem/created",
        "store/cart/couponApplied",
        "store/cart/updated",
        "store/cart/updated",
        "store/cart/converted",
    ]
    originals = [scope for scope, duplicate in first if not duplicate]
    assert sorted(originals) == sorted(in_order)
    assert originals != in_order
    # A duplicate is the same webhook again: same webhook-id and the same body (same hash).
    assert len(bodies_by_id) == len(in_order)
    assert all(len(bodies) == 1 for bodies in bodies_by_id.values())


def test_channel_scoped_hooks_get_snake_case_ids(
    sandbox: BigCommerceSandbox, store: Store, api: Api, receiver: Receiver
) -> None:
    _register(api, receiver, "store/channel/1/cart/*")
    cart_id = store.storefront_add_to_cart(111)
    store.storefront_add_to_cart(111, channel_id=2)  # another channel: not delivered
    assert sandbox.wait_idle(5)
    assert receiver.scopes() == [
        "store/channel/1/cart/created",
        "store/channel/1/cart/updated",
        "store/channel/1/cart/lineItem/created",
    ]
    cart = store.get_cart(cart_id)
    assert cart is not None
    item_id = cart["line_items"]["physical_items"][0]["id"]
    assert receiver.received[0].payload["data"] == {"cart_id": cart_id}
    assert receiver.received[2].payload["data"] == {"cart_id": cart_id, "cart_item_id": item_id}


def test_idle_carts_get_one_abandoned_hint(
    make_sandbox: Callable[..., BigCommerceSandbox], receiver: Receiver
) -> None:
    sandbox = make_sandbox(time_scale=1e-4, abandon_after=3600.0)  # 0.36 s of idle time
    store = sandbox.add_store("idle1", "tok", "secret")
    Api(f"{sandbox.url}/stores/idle1", token="tok").call(
        "POST", "/v3/hooks", json={"scope": "store/cart/abandoned", "destination": receiver.url}
    )
    cart_id = store.storefront_add_to_cart(111)
    deadline = time.monotonic() + 5
    while not receiver.received and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.5)  # long enough for a second hint, were one (wrongly) sent
    assert receiver.scopes() == ["store/cart/abandoned"]
    data = receiver.received[0].payload["data"]
    assert data["id"] == cart_id
    assert len(data["token"]) == 32


def test_app_uninstalled_and_arbitrary_events(
    sandbox: BigCommerceSandbox, store: Store, api: Api, receiver: Receiver
) -> None:
    _register(api, receiver, "store/app/uninstalled")
    store.fire_app_uninstalled()
    assert sandbox.wait_idle(5)
    assert receiver.received[0].payload["data"] == {"type": "store"}


def test_stop_leaves_no_threads(make_sandbox: Callable[..., BigCommerceSandbox], receiver: Receiver) -> None:
    sandbox = make_sandbox()
    store = sandbox.add_store("stop1", "tok", "secret")
    client = Api(f"{sandbox.url}/stores/stop1", token="tok")
    client.call("POST", "/v3/hooks", json={"scope": "store/cart/*", "destination": receiver.url})
    store.storefront_add_to_cart(111)
    assert client.call("GET", "/v3/hooks").status_code == 200
    sandbox.stop()
    client.session.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("bigcommerce-sandbox")]
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{client.root}/v3/hooks", timeout=1)


def test_runs_standalone_from_the_command_line() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cartwatch_tools.sandbox",
            "--port",
            "0",
            "--store",
            "cli123:cli-token:cli-secret",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert banner.startswith("BigCommerce sandbox listening on http://127.0.0.1:")
        url = banner.rsplit(" ", 1)[1].strip()
        store_line = process.stdout.readline()
        assert "cli-token" not in store_line and "cli-secret" not in store_line
        response = requests.get(
            f"{url}/stores/cli123/v3/hooks", headers={"X-Auth-Token": "cli-token"}, timeout=5
        )
        assert response.status_code == 200
    finally:
        process.terminate()
        assert process.wait(10) == 0
