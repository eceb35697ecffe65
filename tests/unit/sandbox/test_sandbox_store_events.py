"""What each shopper action fires, in order, and the shape of the bodies (socket-free)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.unit.sandbox.sandbox_fakes import CLIENT_ID, FakeSender, make_store, subscribe

from cartwatch_tools.sandbox.delivery import WebhookDispatcher
from cartwatch_tools.sandbox.errors import ApiError
from cartwatch_tools.sandbox.store import Store


@pytest.fixture
def sender() -> FakeSender:
    return FakeSender()


@pytest.fixture
def dispatcher(sender: FakeSender) -> Iterator[WebhookDispatcher]:
    worker = WebhookDispatcher(send=sender, time_scale=0.0)
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def store(dispatcher: WebhookDispatcher) -> Store:
    store = make_store(dispatcher)
    subscribe(store)
    return store


def _drain(dispatcher: WebhookDispatcher, sender: FakeSender) -> list[str]:
    assert dispatcher.wait_idle(5)
    scopes = sender.scopes()
    sender.sent.clear()
    return scopes


def _item_ids(store: Store, cart_id: str) -> list[str]:
    cart = store.get_cart(cart_id)
    assert cart is not None
    return [item["id"] for item in cart["line_items"]["physical_items"]]


def test_a_shopping_session(store: Store, sender: FakeSender, dispatcher: WebhookDispatcher) -> None:
    cart_id = store.storefront_add_to_cart(111)
    assert _drain(dispatcher, sender) == [
        "store/cart/created",
        "store/cart/updated",
        "store/cart/lineItem/created",
    ]

    store.storefront_add_to_cart(88, 2, cart_id=cart_id)
    assert _drain(dispatcher, sender) == ["store/cart/updated", "store/cart/lineItem/created"]

    store.storefront_add_to_cart(88, 1, cart_id=cart_id)  # the same product again merges into its line
    assert _drain(dispatcher, sender) == ["store/cart/updated", "store/cart/lineItem/updated"]
    journal, chemex = _item_ids(store, cart_id)

    store.storefront_update_quantity(cart_id, chemex, 1)
    assert _drain(dispatcher, sender) == ["store/cart/updated", "store/cart/lineItem/updated"]

    store.storefront_apply_coupon(cart_id, "SAVE10")
    assert _drain(dispatcher, sender) == ["store/cart/couponApplied", "store/cart/updated"]
    store.storefront_apply_coupon(cart_id, "SAVE10")
    assert _drain(dispatcher, sender) == []

    store.storefront_set_guest_email(cart_id, "a@example.com")
    assert _drain(dispatcher, sender) == ["store/cart/updated"]
    store.storefront_set_guest_email(cart_id, "a@example.com")
    assert _drain(dispatcher, sender) == []

    store.storefront_remove_item(cart_id, journal)
    assert _drain(dispatcher, sender) == ["store/cart/updated", "store/cart/lineItem/deleted"]
    store.storefront_update_quantity(cart_id, chemex, 0)
    assert _drain(dispatcher, sender) == [
        "store/cart/updated",
        "store/cart/lineItem/deleted",
        "store/cart/deleted",
    ]
    assert store.get_cart(cart_id) is None


def test_conversion_and_its_order(store: Store, sender: FakeSender, dispatcher: WebhookDispatcher) -> None:
    subscribe(store, "store/order/*")
    customer = store.add_customer("jo@example.com", "Jo", "Ray", phone="+15557654321")
    cart_id = store.storefront_add_to_cart(111, 2, customer_id=customer)
    _drain(dispatcher, sender)
    order_id = store.storefront_convert(cart_id)
    scopes = _drain(dispatcher, sender)
    # The signed-in shopper's account fills the billing address; the email is unchanged: no update.
    assert scopes == ["store/order/created", "store/order/statusUpdated", "store/cart/converted"]
    order = store.order(order_id)
    assert (order.cart_id, order.customer_id, order.status_id, str(order.total)) == (
        cart_id,
        customer,
        11,
        "50.00",
    )
    assert order.billing.email == "jo@example.com"
    with pytest.raises(ApiError) as error:
        store.cart(cart_id)
    assert (error.value.status, error.value.title) == (404, "Cart not found")


def test_sign_in_brings_the_account_email(
    store: Store, sender: FakeSender, dispatcher: WebhookDispatcher
) -> None:
    customer = store.add_customer("kay@example.com")
    cart_id = store.storefront_add_to_cart(111)
    _drain(dispatcher, sender)
    store.storefront_sign_in(cart_id, customer)
    assert _drain(dispatcher, sender) == ["store/cart/updated"]
    cart = store.get_cart(cart_id)
    assert cart is not None
    assert (cart["customer_id"], cart["email"]) == (customer, "kay@example.com")


def test_abandoned_hints_once_per_idle_period(sender: FakeSender) -> None:
    now = [1_700_000_000.0]
    dispatcher = WebhookDispatcher(send=sender, time_scale=0.0)
    dispatcher.start()
    try:
        store = make_store(dispatcher, clock=lambda: now[0])
        subscribe(store, "store/cart/abandoned")
        cart_id = store.storefront_add_to_cart(111)
        assert store.send_due_abandon_hints(3600) == 3600
        now[0] += 3600
        assert store.send_due_abandon_hints(3600) is None
        assert store.send_due_abandon_hints(3600) is None
        assert dispatcher.wait_idle(5)
        token = sender.sent[0].payload["data"]["token"]
        assert _drain(dispatcher, sender) == ["store/cart/abandoned"]
        assert store.cart_for_token(token) == cart_id
        store.storefront_add_to_cart(88, cart_id=cart_id)  # activity re-arms the hint
        now[0] += 3600
        store.send_due_abandon_hints(3600)
        assert _drain(dispatcher, sender) == ["store/cart/abandoned"]
    finally:
        dispatcher.stop()


def _shape(body: Any) -> Any:
    if isinstance(body, dict):
        return {key: _shape(value) for key, value in body.items()}
    return type(body).__name__


@pytest.mark.parametrize(
    ("example", "action"),
    [
        ("store_cart_created", "create"),
        ("store_cart_lineItem_created", "create"),
        ("store_cart_couponApplied", "coupon"),
        ("store_cart_abandoned", "abandon"),
        ("store_cart_converted", "convert"),
        ("store_cart_deleted", "delete"),
        ("store_channel_cart_created", "create"),
    ],
)
def test_bodies_have_the_documented_shape(
    store: Store,
    sender: FakeSender,
    dispatcher: WebhookDispatcher,
    webhook_bodies: dict[str, dict[str, Any]],
    example: str,
    action: str,
) -> None:
    documented = webhook_bodies[example]
    subscribe(store, "store/channel/1/cart/*")
    cart_id = store.storefront_add_to_cart(111)
    if action == "coupon":
        store.storefront_apply_coupon(cart_id, "FIVEOFF")
    elif action == "abandon":
        store.storefront_abandon_hint(cart_id)
    elif action == "convert":
        store.storefront_convert(cart_id)
    elif action == "delete":
        store.delete_cart(cart_id)
    assert dispatcher.wait_idle(5)
    sent = next(s.payload for s in sender.sent if s.payload["scope"] == documented["scope"])
    assert list(sent) == ["scope", "store_id", "data", "hash", "created_at", "producer"]
    assert _shape(sent) == _shape(documented)
    assert len(sent["hash"]) == 40 and int(sent["hash"], 16) >= 0
    assert sent["producer"] == "stores/unit42"


def test_seeded_stores_hand_out_the_same_ids(sender: FakeSender) -> None:
    dispatcher = WebhookDispatcher(send=sender, time_scale=0.0)
    first, second = make_store(dispatcher, seed=5), make_store(dispatcher, seed=5)
    assert first.storefront_add_to_cart(111) == second.storefront_add_to_cart(111)
    assert make_store(dispatcher, seed=6).storefront_add_to_cart(111) != first.cart_ids()[0]
    dispatcher.stop()


def test_api_errors_leave_the_cart_untouched(store: Store) -> None:
    from cartwatch_tools.sandbox.carts import LineRequest

    cart_id = store.storefront_add_to_cart(111)
    with pytest.raises(ApiError):
        store.add_items(cart_id, [LineRequest(88), LineRequest(999)])
    assert len(_item_ids(store, cart_id)) == 1
    with pytest.raises(ApiError) as conflict:
        store.update_item(cart_id, _item_ids(store, cart_id)[0], 2, version=99)
    assert conflict.value.status == 409
    with pytest.raises(ApiError):
        store.create_order(cart_id)  # no billing address yet
    assert store.hooks.find(CLIENT_ID)
