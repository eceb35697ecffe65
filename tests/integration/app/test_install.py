"""Install: the merchant clicks Install in the control panel; cartwatch connects the store.

The sandbox plays BigCommerce: it calls the auth callback with a fresh code, answers the token
exchange at its /oauth2/token, and delivers the store's webhooks signed with the app's secret.
"""

from __future__ import annotations

import json
import time

import pytest
import requests
from tests.integration.app.app_support import APP_SECRET, AppWorld, one_hook_per_scope
from tests.support import cart_webhook

from cartwatch.domain.store import StoreConnection, StoreStatus

pytestmark = pytest.mark.integration


def test_install_connects_the_store_and_its_events_flow(world: AppWorld) -> None:
    answer = world.install()
    assert answer.status == 200, answer.body
    assert "cartwatch is connected to your store" in answer.body

    row = world.row()
    assert row is not None
    assert row.settings.status is StoreStatus.ACTIVE
    assert row.settings.connection is StoreConnection.APP
    assert row.settings.require_signature  # app hooks are signed with the app's secret
    assert not row.own_stages  # the deployment's default stages
    assert row.app_owner_id == world.owner and row.app_users == {world.owner}
    assert one_hook_per_scope(world)
    auth = world.pipeline.writer().webhook_auth(world.store_hash)
    assert auth is not None and auth.client_secret == APP_SECRET

    # A shopper adds to cart: the deliveries are signed with the app's secret and accepted.
    cart_id = world.shop.storefront_add_to_cart(product_id=111, quantity=1)
    world.deliver()
    deliveries = [d for d in world.sandbox.deliveries if d.destination.endswith(f"/{world.store_hash}")]
    assert deliveries and all(d.status == 200 for d in deliveries)
    carts = world.carts()
    assert [c["pk"]["S"] for c in carts] == [f"CART#{world.store_hash}#{cart_id}"]

    # The hooks' X-Cartwatch-Token alone no longer gets a delivery in: app stores need the
    # signature, which only the app's secret makes.
    body = json.dumps(cart_webhook(world.store_hash, "store/cart/created", "forged", int(time.time())))
    forged = requests.post(
        f"{world.pipeline.gateway.url}/webhooks/bigcommerce/{world.store_hash}",
        data=body,
        headers={"X-Cartwatch-Token": auth.token or "", "Content-Type": "application/json"},
        timeout=10,
    )
    assert forged.status_code == 401


def test_reinstalling_keeps_one_hook_per_scope_and_a_fresh_token(world: AppWorld) -> None:
    assert world.install().status == 200
    first = {h.scope: h.id for h in world.app_hooks()}
    old_token = world.pipeline.secrets.api_credentials(world.store_hash)
    assert world.install().status == 200
    assert one_hook_per_scope(world)
    assert {h.scope: h.id for h in world.app_hooks()} == first  # reused, not duplicated
    world.pipeline.secrets.forget(world.store_hash)
    new_token = world.pipeline.secrets.api_credentials(world.store_hash)
    assert old_token is not None and new_token is not None and new_token != old_token


def test_the_same_code_twice_shows_the_first_result(world: AppWorld) -> None:
    query = world.sandbox.apps.install_query(world.store_hash, world.app.client_id)
    first, again = world.get("auth", **query), world.get("auth", **query)
    assert (first.status_code, again.status_code) == (200, 200)
    assert "connected" in again.text
    assert one_hook_per_scope(world)


def assert_nothing_connected(world: AppWorld) -> None:
    assert world.row() is None
    assert not [name for name in world.parameters() if world.store_hash in name]
    assert world.app_hooks() == []


def test_a_bad_code_is_an_error_page_and_connects_nothing(world: AppWorld) -> None:
    query = world.sandbox.apps.install_query(world.store_hash, world.app.client_id)
    response = world.get("auth", **{**query, "code": "not-the-code"})
    assert response.status_code == 400
    assert "did not accept this installation" in response.text
    assert_nothing_connected(world)


def test_a_code_used_elsewhere_is_an_error_page(world: AppWorld) -> None:
    query = world.sandbox.apps.install_query(world.store_hash, world.app.client_id)
    # Someone (an attacker who saw the URL, a second tab) exchanged it first.
    status, _ = world.sandbox.apps.exchange(
        {
            "client_id": world.app.client_id,
            "client_secret": world.app.client_secret,
            "code": query["code"],
            "scope": query["scope"],
            "context": query["context"],
            "grant_type": "authorization_code",
            "redirect_uri": world.app.auth_callback_url,
        }
    )
    assert status == 200
    response = world.get("auth", **query)
    assert response.status_code == 400
    assert_nothing_connected(world)


def test_token_endpoint_down_is_an_error_page_and_connects_nothing(world: AppWorld) -> None:
    world.sandbox.inject_faults(r"^/oauth2/token$", [503], method="POST")
    answer = world.install()
    assert answer.status == 502
    assert "BigCommerce did not answer" in answer.body
    assert_nothing_connected(world)


def test_too_few_scopes_connect_nothing(world: AppWorld) -> None:
    from dataclasses import replace

    world.sandbox.apps.register(replace(world.app, scopes="store_cart_read_only store_v2_default"))
    answer = world.install()
    assert answer.status == 403
    assert "needs read access to carts, checkouts, customers and orders" in answer.body
    assert_nothing_connected(world)


def test_hooks_refused_leave_no_half_connected_store(world: AppWorld) -> None:
    # The app already has BigCommerce's limit of hooks for one scope (elsewhere): nine hooks
    # are created, the tenth is refused, and the store is put back as it was.
    for n in range(10):
        world.shop.hooks.create(
            world.app.client_id,
            {"scope": "store/cart/lineItem/deleted", "destination": f"https://elsewhere.example/{n}"},
        )
    answer = world.install()
    assert answer.status == 502, answer.body
    assert "refused cartwatch" in answer.body
    assert world.row() is None
    assert not [name for name in world.parameters() if world.store_hash in name]
    assert [h.destination for h in world.app_hooks() if "elsewhere" not in h.destination] == []


def test_an_unconfigured_app_says_so(unconfigured: AppWorld) -> None:
    answer = unconfigured.install()
    assert answer.status == 503
    assert "not set up yet" in answer.body
    assert unconfigured.row() is None


def test_installing_over_a_store_added_by_api_account_retires_its_hooks(world: AppWorld) -> None:
    from cartwatch.adapters.bigcommerce import BigCommerceClient
    from cartwatch.domain.stages import StageSchedule
    from cartwatch.domain.store import StoreSettings
    from cartwatch.service.store_hooks import hook_destination, reconcile_hooks

    account = world.shop.account
    world.pipeline.writer().save(
        StoreSettings(world.store_hash, StageSchedule.parse("2h"), recovery_links=True),
        access_token=account.access_token,
        client_secret=account.client_secret,
        webhook_token="old-token",
        created_at=100,
    )
    destination = hook_destination(f"{world.pipeline.gateway.url}/webhooks/bigcommerce", world.store_hash)
    api = BigCommerceClient(world.store_hash, account.access_token, api_url=world.sandbox.url)
    reconcile_hooks(api, destination, "old-token")
    assert len(world.shop.hooks.find(account.client_id)) == 10

    assert world.install().status == 200
    row = world.row()
    assert row is not None and row.settings.connection is StoreConnection.APP
    # The merchant's settings and history survive; the old account's hooks are gone.
    assert str(row.settings.stages) == "2h" and row.settings.recovery_links and row.created_at == 100
    assert world.shop.hooks.find(account.client_id) == []
    assert one_hook_per_scope(world)


def test_a_redirect_uri_other_than_the_registered_one_fails(world: AppWorld) -> None:
    # The sandbox, like BigCommerce (APPS.md §5.4), refuses a redirect_uri that differs from the
    # registered auth callback URL: every connected store above proves cartwatch sends its own.
    from dataclasses import replace

    world.sandbox.apps.register(replace(world.app, auth_callback_url=world.app.auth_callback_url + "/"))
    query = world.sandbox.apps.install_query(world.store_hash, world.app.client_id)
    response = world.get("auth", **query)
    assert response.status_code == 400
    assert query["code"] not in response.text
    assert_nothing_connected(world)
