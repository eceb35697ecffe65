"""The sandbox's REST answers, checked against BigCommerce's OpenAPI files."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.integration.sandbox.sandbox_support import Api, OpenApiContract, Receiver

from cartwatch_tools.sandbox import BigCommerceSandbox, Store

pytestmark = [pytest.mark.integration, pytest.mark.enable_socket]

RATE_HEADERS = (
    "X-Rate-Limit-Time-Window-Ms",
    "X-Rate-Limit-Time-Reset-Ms",
    "X-Rate-Limit-Requests-Quota",
    "X-Rate-Limit-Requests-Left",
)


def _hook(api: Api, receiver: Receiver, scope: str = "store/cart/*", **extra: object) -> dict[str, object]:
    response = api.call("POST", "/v3/hooks", json={"scope": scope, "destination": receiver.url, **extra})
    assert response.status_code == 200, response.text
    hook: dict[str, object] = response.json()["data"]
    return hook


def test_hooks_create_list_get_update_delete(api: Api, receiver: Receiver, contract: OpenApiContract) -> None:
    created = api.call("POST", "/v3/hooks", json={"scope": "store/cart/*", "destination": receiver.url})
    contract.check("webhooks.v3.yml", "/hooks", "post", 200, created.json())
    hook_id = created.json()["data"]["id"]
    _hook(api, receiver, "store/cart/converted", is_active=False)

    listed = api.call("GET", "/v3/hooks")
    contract.check("webhooks.v3.yml", "/hooks", "get", 200, listed.json())
    assert listed.json()["meta"]["pagination"]["total"] == 2

    only_active = api.call("GET", "/v3/hooks", params={"is_active": "true", "scope": "store/cart/*"}).json()
    assert [h["id"] for h in only_active["data"]] == [hook_id]
    paged = api.call("GET", "/v3/hooks", params={"limit": 1, "page": 2}).json()
    assert paged["meta"]["pagination"]["total_pages"] == 2
    assert "previous" in paged["meta"]["pagination"]["links"]

    got = api.call("GET", f"/v3/hooks/{hook_id}")
    contract.check("webhooks.v3.yml", "/hooks/{webhook_id}", "get", 200, got.json())

    updated = api.call("PUT", f"/v3/hooks/{hook_id}", json={"headers": {"X-Cartwatch-Token": "t"}})
    contract.check("webhooks.v3.yml", "/hooks/{webhook_id}", "put", 200, updated.json())
    assert updated.json()["data"]["headers"] == {"X-Cartwatch-Token": "t"}

    deleted = api.call("DELETE", f"/v3/hooks/{hook_id}")
    contract.check("webhooks.v3.yml", "/hooks/{webhook_id}", "delete", 200, deleted.json())
    assert deleted.json()["data"]["id"] == hook_id
    missing = api.call("GET", f"/v3/hooks/{hook_id}")
    assert missing.status_code == 404
    contract.check("webhooks.v3.yml", "/hooks/{webhook_id}", "get", 404, missing.json())


def test_hook_rules_answer_422(
    make_sandbox: Callable[..., BigCommerceSandbox], api: Api, receiver: Receiver, contract: OpenApiContract
) -> None:
    _hook(api, receiver, "store/cart/created")
    duplicate = api.call(
        "POST", "/v3/hooks", json={"scope": "store/cart/created", "destination": receiver.url}
    )
    assert duplicate.status_code == 422
    contract.check("webhooks.v3.yml", "/hooks", "post", 422, duplicate.json())
    for n in range(9):
        _hook(api, receiver, "store/cart/created", destination=f"{receiver.url}/{n}")
    eleventh = api.call(
        "POST", "/v3/hooks", json={"scope": "store/cart/created", "destination": f"{receiver.url}/x"}
    )
    assert eleventh.status_code == 422

    strict = make_sandbox(allow_http_destinations=False)
    strict.add_store("strict1", "tok", "secret")
    plain = Api(f"{strict.url}/stores/strict1", token="tok")
    refused = plain.call(
        "POST", "/v3/hooks", json={"scope": "store/cart/created", "destination": "http://example.com/h"}
    )
    assert refused.status_code == 422
    assert "destination" in refused.json()["errors"]
    accepted = plain.call(
        "POST", "/v3/hooks", json={"scope": "store/cart/created", "destination": "https://example.com/h"}
    )
    assert accepted.status_code == 200


def test_hooks_admin_reports_status(
    store: Store, api: Api, receiver: Receiver, contract: OpenApiContract
) -> None:
    hook = _hook(api, receiver)
    paused = _hook(api, receiver, "store/cart/converted", is_active=False)
    store.deactivate_hook(int(str(hook["id"])))
    assert api.call("PUT", "/v3/hooks/admin", json={"emails": ["ops@example.com"]}).status_code == 204

    admin = api.call("GET", "/v3/hooks/admin")
    contract.check("webhooks.v3.yml", "/hooks/admin", "get", 200, admin.json())
    data = admin.json()["data"]
    assert data["emails"] == ["ops@example.com"]
    assert {h["id"]: h["status"] for h in data["hooks_list"]} == {
        hook["id"]: "deactivated",
        paused["id"]: "inactive",
    }

    api.call("PUT", f"/v3/hooks/{hook['id']}", json={"is_active": True})
    statuses = {h["id"]: h["status"] for h in api.call("GET", "/v3/hooks/admin").json()["data"]["hooks_list"]}
    assert statuses[hook["id"]] == "active"


def test_hooks_are_private_to_their_api_account(store: Store, api: Api, receiver: Receiver) -> None:
    hook = _hook(api, receiver)
    store.add_api_account("other-app", "other-token", "other-secret")
    other = Api(api.root, token="other-token")
    assert other.call("GET", "/v3/hooks").json()["data"] == []
    assert other.call("GET", f"/v3/hooks/{hook['id']}").status_code == 404


def test_cart_lifecycle_over_the_management_api(api: Api, contract: OpenApiContract) -> None:
    created = api.call(
        "POST",
        "/v3/carts",
        params={"include": "redirect_urls"},
        json={
            "line_items": [
                {
                    "product_id": 118,
                    "quantity": 2,
                    "option_selections": [
                        {"option_id": 125, "option_value": 128},
                        {"option_id": 133, "option_value": 150},
                    ],
                },
                {"product_id": 126, "quantity": 1},
            ],
            "channel_id": 1,
        },
    )
    assert created.status_code == 201, created.text
    contract.check("carts.v3.yml", "/carts", "post", 201, created.json())
    cart = created.json()["data"]
    assert cart["redirect_urls"]["checkout_url"].startswith("https://store-abc123.mybigcommerce.com/cart.php")
    assert cart["base_amount"] == 2 * 27 + 9.99
    assert "options" not in cart["line_items"]["physical_items"][0]

    include = "line_items.physical_items.options,line_items.digital_items.options"
    got = api.call("GET", f"/v3/carts/{cart['id']}", params={"include": include})
    contract.check("carts.v3.yml", "/carts/{cartId}", "get", 200, got.json())
    tee = got.json()["data"]["line_items"]["physical_items"][0]
    assert tee["sku"] == "OCT-L-BLUE"
    assert tee["options"] == [
        {"name": "Size", "nameId": 125, "value": "Large", "valueId": 128},
        {"name": "Color", "nameId": 133, "value": "Blue", "valueId": 150},
    ]
    assert got.json()["data"]["line_items"]["digital_items"][0]["options"] == []

    added = api.call(
        "POST", f"/v3/carts/{cart['id']}/items", json={"line_items": [{"product_id": 111, "quantity": 1}]}
    )
    contract.check("carts.v3.yml", "/carts/{cartId}/items", "post", 201, added.json())
    journal = next(i for i in added.json()["data"]["line_items"]["physical_items"] if i["product_id"] == 111)

    changed = api.call(
        "PUT",
        f"/v3/carts/{cart['id']}/items/{journal['id']}",
        json={"line_item": {"product_id": 111, "quantity": 3}},
    )
    contract.check("carts.v3.yml", "/carts/{cartId}/items/{itemId}", "put", 200, changed.json())
    assert changed.json()["data"]["cart_amount"] == 2 * 27 + 9.99 + 3 * 25

    stale = api.call(
        "PUT",
        f"/v3/carts/{cart['id']}/items/{journal['id']}",
        json={"line_item": {"quantity": 1}, "version": 1},
    )
    assert stale.status_code == 409

    urls = api.call("POST", f"/v3/carts/{cart['id']}/redirect_urls")
    contract.check("carts.v3.yml", "/carts/{cartId}/redirect_urls", "post", 201, urls.json())

    removed = api.call("DELETE", f"/v3/carts/{cart['id']}/items/{journal['id']}")
    contract.check("carts.v3.yml", "/carts/{cartId}/items/{itemId}", "delete", 200, removed.json())
    assert api.call("DELETE", f"/v3/carts/{cart['id']}").status_code == 204
    gone = api.call("GET", f"/v3/carts/{cart['id']}")
    assert gone.status_code == 404
    assert gone.json()["title"] == "Cart not found"


def test_storefront_carts_refuse_redirect_urls(store: Store, api: Api) -> None:
    cart_id = store.storefront_add_to_cart(111)
    refused = api.call("POST", f"/v3/carts/{cart_id}/redirect_urls")
    assert refused.status_code == 422
    assert refused.json()["title"].startswith(
        "Redirect URLs can only be generated from carts that were created"
    )


def test_checkout_billing_address_order_and_v2_order(
    store: Store, api: Api, contract: OpenApiContract
) -> None:
    cart_id = store.storefront_add_to_cart(86, 2)
    store.storefront_apply_coupon(cart_id, "FIVEOFF")
    address = {
        "email": "ana@example.com",
        "first_name": "Ana",
        "last_name": "Lee",
        "phone": "+15551234567",
        "country_code": "US",
        "postal_code": "78701",
    }
    billed = api.call("POST", f"/v3/checkouts/{cart_id}/billing-address", json=address)
    contract.check("checkouts.v3.yml", "/checkouts/{checkoutId}/billing-address", "post", 200, billed.json())

    checkout = api.call(
        "GET", f"/v3/checkouts/{cart_id}", params={"include": "cart.line_items.physical_items.options"}
    )
    contract.check("checkouts.v3.yml", "/checkouts/{checkoutId}", "get", 200, checkout.json())
    data = checkout.json()["data"]
    assert data["billing_address"]["email"] == "ana@example.com"
    assert data["billing_address"]["phone"] == "+15551234567"
    assert data["cart"]["email"] == "ana@example.com"
    assert data["grand_total"] == 2 * 199 - 5
    assert data["order_id"] is None

    ordered = api.call("POST", f"/v3/checkouts/{cart_id}/orders")
    contract.check("checkouts.v3.yml", "/checkouts/{checkoutId}/orders", "post", 200, ordered.json())
    order_id = ordered.json()["data"]["id"]
    assert api.call("GET", f"/v3/carts/{cart_id}").status_code == 404

    order = api.call("GET", f"/v2/orders/{order_id}")
    contract.check("orders.v2.oas2.yml", "/orders/{order_id}", "get", 200, order.json())
    body = order.json()
    assert "data" not in body
    assert (body["cart_id"], body["status_id"], body["total_inc_tax"], body["coupon_discount"]) == (
        cart_id,
        11,
        "393.0000",
        "5.0000",
    )
    assert body["billing_address"]["email"] == "ana@example.com"

    by_cart = api.call("GET", "/v2/orders", params={"cart_id": cart_id})
    contract.check("orders.v2.oas2.yml", "/orders", "get", 200, by_cart.json())
    assert [o["id"] for o in by_cart.json()] == [order_id]
    assert api.call("GET", "/v2/orders", params={"cart_id": "nope"}).status_code == 204
    missing = api.call("GET", "/v2/orders/999999")
    assert missing.status_code == 404
    assert missing.json() == [{"status": 404, "message": "The requested resource was not found."}]


def test_customers_and_subscribers(store: Store, api: Api, contract: OpenApiContract) -> None:
    jane = store.add_customer("jane@example.com", "Jane", "Doe", accepts_abandoned_cart_emails=True)
    store.add_customer("sam@example.com", "Sam", "Roe")
    created = api.call(
        "POST",
        "/v3/customers",
        json=[
            {
                "email": "kim@example.com",
                "first_name": "Kim",
                "last_name": "Ng",
                "addresses": [
                    {"address1": "1 Main St", "city": "Austin", "postal_code": "78701", "country_code": "US"}
                ],
            }
        ],
    )
    contract.check("customers.v3.yml", "/customers", "post", 200, created.json())

    listed = api.call("GET", "/v3/customers", params={"id:in": f"{jane},3", "include": "addresses"})
    contract.check("customers.v3.yml", "/customers", "get", 200, listed.json())
    customers = listed.json()["data"]
    assert [c["email"] for c in customers] == ["jane@example.com", "kim@example.com"]
    assert customers[0]["accepts_product_review_abandoned_cart_emails"] is True
    assert customers[1]["addresses"][0]["city"] == "Austin"
    by_email = api.call("GET", "/v3/customers", params={"email:in": "SAM@example.com"}).json()["data"]
    assert [c["first_name"] for c in by_email] == ["Sam"]
    assert (
        api.call(
            "POST", "/v3/customers", json=[{"email": "jane@example.com", "first_name": "J", "last_name": "D"}]
        ).status_code
        == 422
    )

    store.add_subscriber("jane@example.com", consents=["abandoned_cart"])
    made = api.call("POST", "/v3/customers/subscribers", json={"email": "news@example.com", "consents": []})
    contract.check("subscribers.v3.yml", "/customers/subscribers", "post", 200, made.json())
    assert (
        api.call("POST", "/v3/customers/subscribers", json={"email": "news@example.com"}).status_code == 409
    )

    subscribers = api.call("GET", "/v3/customers/subscribers", params={"email": "jane@example.com"})
    contract.check("subscribers.v3.yml", "/customers/subscribers", "get", 200, subscribers.json())
    assert [s["consents"] for s in subscribers.json()["data"]] == [["abandoned_cart"]]
    both = api.call(
        "GET", "/v3/customers/subscribers", params={"email:in": "jane@example.com,news@example.com"}
    )
    assert [s["consents"] for s in both.json()["data"]] == [["abandoned_cart"], []]


def test_abandoned_cart_token_lookup(
    store: Store, api: Api, receiver: Receiver, sandbox: BigCommerceSandbox
) -> None:
    _hook(api, receiver, "store/cart/abandoned")
    cart_id = store.storefront_add_to_cart(88)
    store.storefront_abandon_hint(cart_id)
    assert sandbox.wait_idle(5)
    token = receiver.received[0].payload["data"]["token"]
    found = api.call("GET", f"/v3/abandoned-carts/{token}")
    assert found.json() == {"data": {"cart_id": cart_id}, "meta": {}}
    assert api.call("GET", "/v3/abandoned-carts/0123456789abcdef0123456789abcdef").status_code == 404


def test_auth_and_unknown_store(sandbox: BigCommerceSandbox, api: Api, contract: OpenApiContract) -> None:
    for token in ("", "wrong-token"):
        denied = Api(api.root, token=token).call("GET", "/v3/hooks")
        assert denied.status_code == 401
        contract.check("webhooks.v3.yml", "/hooks", "get", 401, denied.json())
        assert all(name in denied.headers for name in RATE_HEADERS)
    unknown = Api(f"{sandbox.url}/stores/nosuchstore").call("GET", "/v3/hooks")
    assert unknown.status_code == 404
    contract.check("webhooks.v3.yml", "/hooks/{webhook_id}", "get", 404, unknown.json())
    assert api.call("GET", "/v3/nothing-here").status_code == 404


def test_rate_limit_headers_and_429(
    make_sandbox: Callable[..., BigCommerceSandbox], contract: OpenApiContract
) -> None:
    limited = make_sandbox(rate_limit=(3, 60_000))
    limited.add_store("tight1", "tok", "secret")
    client = Api(f"{limited.url}/stores/tight1", token="tok")
    lefts = []
    for _ in range(3):
        response = client.call("GET", "/v3/hooks")
        assert response.status_code == 200
        assert response.headers["X-Rate-Limit-Requests-Quota"] == "3"
        assert response.headers["X-Rate-Limit-Time-Window-Ms"] == "60000"
        assert 0 < int(response.headers["X-Rate-Limit-Time-Reset-Ms"]) <= 60_000
        lefts.append(int(response.headers["X-Rate-Limit-Requests-Left"]))
    assert lefts == [2, 1, 0]
    refused = client.call("GET", "/v3/hooks")
    assert refused.status_code == 429
    assert refused.headers["X-Rate-Limit-Requests-Left"] == "0"
    assert all(name in refused.headers for name in RATE_HEADERS)
    contract.check("webhooks.v3.yml", "/hooks", "get", 401, refused.json())  # the same error_Full shape


def test_injected_faults_play_in_order(sandbox: BigCommerceSandbox, store: Store, api: Api) -> None:
    cart_id = store.storefront_add_to_cart(111)
    sandbox.inject_faults(r"/v3/carts/", [429, 500, 503], reset_ms=50)
    first = api.call("GET", f"/v3/carts/{cart_id}")
    assert first.status_code == 429
    assert first.headers["X-Rate-Limit-Time-Reset-Ms"] == "50"
    assert first.headers["X-Rate-Limit-Requests-Left"] == "0"
    assert api.call("GET", "/v3/hooks").status_code == 200  # other paths are untouched
    assert [api.call("GET", f"/v3/carts/{cart_id}").status_code for _ in range(3)] == [500, 503, 200]
