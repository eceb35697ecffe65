"""load, the settings form, remove-user and uninstall, as BigCommerce and a merchant call them."""

from __future__ import annotations

import re
import time

import pytest
import requests
from tests.integration.app.app_support import AppWorld

from cartwatch.domain.store import StoreStatus

pytestmark = pytest.mark.integration

OTHER_USER = 777


def form_token(page: str) -> str:
    found = re.search(r'name=form_token value="([^"]+)"', page)
    assert found, "the page has no settings form"
    return found.group(1)


def load(world: AppWorld, user_id: int | None = None) -> requests.Response:
    return world.get("load", signed_payload_jwt=world.signed_payload(user_id))


def test_load_shows_the_page_with_hooks_figures_and_settings(world: AppWorld) -> None:
    assert world.install().status == 200
    response = load(world)
    assert response.status_code == 200
    page = response.text
    assert "10 of 10 active" in page and "Last 30 days" in page
    assert 'id="figure-abandoned"' in page and "Reminder stages" in page
    assert (
        "frame-ancestors https://*.mybigcommerce.com " + world.sandbox.url
        in (response.headers["content-security-policy"])
    )
    assert "x-frame-options" not in {h.lower() for h in response.headers}


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"aud": "someone-elses-app"}, "wrong audience"),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "expired"),
        ({"key": "not-the-app-secret-0123456789abcdef0123"}, "wrong key"),
    ],
)
def test_a_payload_not_from_bigcommerce_for_this_app_gets_a_401_page(
    world: AppWorld, claims: dict[str, object], why: str
) -> None:
    assert world.install().status == 200
    response = world.get("load", signed_payload_jwt=world.signed_payload(**claims))
    assert response.status_code == 401, why
    assert "This link is not valid" in response.text
    assert "form_token" not in response.text


def test_alg_none_gets_a_401_page(world: AppWorld) -> None:
    import base64
    import json

    assert world.install().status == 200
    valid = world.signed_payload()
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=")
    unsigned = f"{header.decode()}.{valid.split('.')[1]}."
    assert world.get("load", signed_payload_jwt=unsigned).status_code == 401


def test_a_replayed_payload_gets_a_401_page(world: AppWorld) -> None:
    assert world.install().status == 200
    token = world.signed_payload()
    assert world.get("load", signed_payload_jwt=token).status_code == 200
    assert world.get("load", signed_payload_jwt=token).status_code == 401


def test_settings_saved_from_the_page_are_the_store_s_settings(world: AppWorld) -> None:
    assert world.install().status == 200
    token = form_token(load(world).text)
    saved = world.post_settings({"form_token": token, "stages": "2h,1d", "recovery_links": "on"})
    assert saved.status_code == 200 and "Saved." in saved.text
    assert 'value="2h,1d"' in saved.text
    row = world.row()
    assert row is not None and str(row.settings.stages) == "2h,1d" and row.settings.recovery_links
    # Empty stages: back to the deployment's default.
    saved = world.post_settings({"form_token": form_token(saved.text), "stages": ""})
    assert saved.status_code == 200
    row = world.row()
    assert row is not None and not row.own_stages and not row.settings.recovery_links


def test_values_the_cli_refuses_change_nothing(world: AppWorld) -> None:
    assert world.install().status == 200
    token = form_token(load(world).text)
    refused = world.post_settings({"form_token": token, "stages": "2h,1h", "recovery_links": "on"})
    assert refused.status_code == 400
    assert "stage delays must increase" in refused.text
    assert 'value="2h,1h"' in refused.text  # what the merchant typed, to correct it
    row = world.row()
    assert row is not None and not row.own_stages and not row.settings.recovery_links


def test_a_forged_or_foreign_form_changes_nothing(world: AppWorld) -> None:
    assert world.install().status == 200
    token = form_token(load(world).text)
    forged = world.post_settings({"form_token": token[:-4] + "AAAA", "stages": "2h"})
    assert forged.status_code == 403
    foreign = world.post_settings({"form_token": token, "stages": "2h"}, Origin="https://evil.example")
    assert foreign.status_code == 403
    row = world.row()
    assert row is not None and not row.own_stages


def test_users_see_the_page_but_only_owner_and_installer_edit(world: AppWorld) -> None:
    assert world.install().status == 200
    page = load(world, OTHER_USER)
    assert page.status_code == 200
    assert "<fieldset disabled>" in page.text and "form_token" not in page.text
    row = world.row()
    assert row is not None and row.app_users == {world.owner, OTHER_USER}  # provisioned on load


def test_remove_user_unlinks_the_user_and_keeps_the_store(world: AppWorld) -> None:
    assert world.install(user_id=OTHER_USER).status == 200  # an authorized user installs
    token = form_token(load(world, OTHER_USER).text)
    answer = world.sandbox.apps.remove_user(world.store_hash, world.app.client_id, OTHER_USER)
    assert answer.status == 200
    row = world.row()
    assert row is not None and row.settings.status is StoreStatus.ACTIVE
    assert row.app_users == {world.owner}
    # The removed user's open page can no longer save.
    refused = world.post_settings({"form_token": token, "stages": "2h"})
    assert refused.status_code == 403
    # The owner is never unlinked.
    world.sandbox.apps.remove_user(world.store_hash, world.app.client_id, world.owner)
    row = world.row()
    assert row is not None and world.owner in row.app_users


def test_uninstall_purges_the_store_and_deletes_its_secrets(world: AppWorld) -> None:
    assert world.install().status == 200
    for product in (111, 112, 111):  # three shoppers, three carts
        world.shop.storefront_add_to_cart(product_id=product, quantity=1)
    world.deliver()
    assert len(world.carts()) == 3

    answer = world.uninstall()
    assert answer.status == 200
    row = world.row()
    assert row is not None and row.settings.status is StoreStatus.UNINSTALLED
    # At once: the secrets are gone, so the receiver refuses the store's deliveries.
    assert not [name for name in world.parameters() if world.store_hash in name]
    world.purge()
    assert world.carts() == []
    row = world.row()
    assert row is not None and not row.purging  # the purge finished; the row is a tombstone
    # The page is gone too.
    assert load(world).status_code == 404


def test_reinstall_after_uninstall_recreates_the_hooks(world: AppWorld) -> None:
    assert world.install().status == 200
    assert world.uninstall().status == 200
    assert world.app_hooks() == []  # BigCommerce deleted them
    world.purge()
    assert world.install().status == 200
    row = world.row()
    assert row is not None and row.settings.status is StoreStatus.ACTIVE
    assert len(world.app_hooks()) == 10
    assert load(world).status_code == 200
