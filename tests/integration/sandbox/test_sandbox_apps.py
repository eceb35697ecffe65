"""The sandbox as BigCommerce's login service and control panel for a single-click app."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import jwt
import pytest
import requests
from tests.integration.sandbox.sandbox_support import Receiver

from cartwatch_tools.sandbox import BigCommerceSandbox, Store
from cartwatch_tools.sandbox.apps import RegisteredApp, owner_id

pytestmark = pytest.mark.integration

SECRET = "app-secret-0123456789abcdef0123456789"


@pytest.fixture
def app(sandbox: BigCommerceSandbox, store: Store, receiver: Receiver) -> RegisteredApp:
    return sandbox.apps.register(
        RegisteredApp(
            "testapp",
            SECRET,
            auth_callback_url=f"{receiver.url}/auth",
            load_callback_url=f"{receiver.url}/load",
            uninstall_callback_url=f"{receiver.url}/uninstall",
        )
    )


def exchange(sandbox: BigCommerceSandbox, query: dict[str, str], **changes: Any) -> requests.Response:
    body = {
        "client_id": "testapp",
        "client_secret": SECRET,
        "code": query["code"],
        "scope": query["scope"],
        "context": query["context"],
        "grant_type": "authorization_code",
        "redirect_uri": "",
        **changes,
    }
    return requests.post(f"{sandbox.url}/oauth2/token", json=body, timeout=10)


def test_a_code_is_exchanged_once_for_a_token_that_works(
    sandbox: BigCommerceSandbox, store: Store, app: RegisteredApp
) -> None:
    query = sandbox.apps.install_query(store.hash, app.client_id)
    answer = exchange(sandbox, query, redirect_uri=app.auth_callback_url)
    assert answer.status_code == 200
    grant = answer.json()
    assert grant["context"] == f"stores/{store.hash}" and grant["scope"] == app.scopes
    assert grant["owner"]["id"] == owner_id(store) == grant["user"]["id"]
    hooks = requests.get(
        f"{sandbox.url}/stores/{store.hash}/v3/hooks",
        headers={"X-Auth-Token": grant["access_token"]},
        timeout=10,
    )
    assert hooks.status_code == 200
    again = exchange(sandbox, query, redirect_uri=app.auth_callback_url)
    assert (again.status_code, again.json()) == (400, {"error": "invalid_grant"})


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"client_secret": "wrong"}, 401),
        ({"redirect_uri": "https://elsewhere.example/auth"}, 400),
        ({"context": "stores/other"}, 400),
        ({"scope": "store_cart"}, 400),
        ({"grant_type": "client_credentials"}, 400),
    ],
)
def test_anything_but_the_registered_app_s_exact_request_is_refused(
    sandbox: BigCommerceSandbox, store: Store, app: RegisteredApp, changes: dict[str, str], status: int
) -> None:
    query = sandbox.apps.install_query(store.hash, app.client_id)
    assert (
        exchange(sandbox, query, **{"redirect_uri": app.auth_callback_url, **changes}).status_code == status
    )


def test_the_older_form_encoding_is_accepted_too(
    sandbox: BigCommerceSandbox, store: Store, app: RegisteredApp
) -> None:
    query = sandbox.apps.install_query(store.hash, app.client_id)
    form = {
        "client_id": "testapp",
        "client_secret": SECRET,
        "grant_type": "authorization_code",
        "redirect_uri": app.auth_callback_url,
        **{k: query[k] for k in ("code", "scope", "context")},
    }
    assert requests.post(f"{sandbox.url}/oauth2/token", data=form, timeout=10).status_code == 200


def test_the_control_panel_frames_the_load_callback_with_a_fresh_signed_payload(
    sandbox: BigCommerceSandbox, store: Store, app: RegisteredApp
) -> None:
    page = requests.get(f"{sandbox.url}/_sandbox/stores/{store.hash}/apps/testapp/control-panel", timeout=10)
    src = unescape(re.search(r'<iframe id=app[^>]* src="([^"]+)"', page.text).group(1))  # type: ignore[union-attr]
    assert src.startswith(app.load_callback_url + "?signed_payload_jwt=")
    claims = jwt.decode(src.split("=", 1)[1], SECRET, algorithms=["HS256"], audience="testapp", issuer="bc")
    assert claims["sub"] == f"stores/{store.hash}" and claims["user"]["id"] == owner_id(store)
    assert claims["exp"] - claims["iat"] == 86400 and claims["nbf"] <= claims["iat"]
    assert set(claims) == {
        "aud",
        "iss",
        "iat",
        "nbf",
        "exp",
        "jti",
        "sub",
        "user",
        "owner",
        "url",
        "channel_id",
    }


def test_uninstall_deletes_the_app_s_hooks_revokes_its_token_and_calls_back(
    sandbox: BigCommerceSandbox, store: Store, app: RegisteredApp, receiver: Receiver
) -> None:
    query = sandbox.apps.install_query(store.hash, app.client_id)
    token = exchange(sandbox, query, redirect_uri=app.auth_callback_url).json()["access_token"]
    headers = {"X-Auth-Token": token}
    hooks = f"{sandbox.url}/stores/{store.hash}/v3/hooks"
    body = {"scope": "store/cart/created", "destination": f"{receiver.url}/hook", "is_active": True}
    assert requests.post(hooks, json=body, headers=headers, timeout=10).status_code == 200

    answer = requests.post(f"{sandbox.url}/_sandbox/stores/{store.hash}/apps/testapp/uninstall", timeout=10)
    assert answer.status_code == 200
    assert store.hooks.find("testapp") == []
    assert requests.get(hooks, headers=headers, timeout=10).status_code == 401
    (callback,) = [path for path in receiver.gets if "/uninstall?" in path]
    claims = jwt.decode(
        callback.split("signed_payload_jwt=", 1)[1], SECRET, algorithms=["HS256"], audience="testapp"
    )
    assert claims["sub"] == f"stores/{store.hash}"
