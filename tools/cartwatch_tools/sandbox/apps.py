"""BigCommerce's side of a single-click app: developer portal, login service, control panel.

What the sandbox plays (facts in ``shared/bigcommerce/APPS.md``):

* **the developer portal**: an app is registered with its client id and secret and its
  callback URLs (:meth:`AppMarketplace.register`);
* **the merchant clicking Install**: a one-time code is minted and the auth callback is
  called with ``code``, ``scope``, ``context`` and ``account_uuid`` — as the merchant's
  browser would, following the control panel's redirect (:meth:`AppMarketplace.install`);
* **login.bigcommerce.com**: ``POST /oauth2/token`` exchanges the code once, checks the
  client, the ``redirect_uri`` and the context, and answers the store's token (a new one on
  every install, which voids the previous one — the old docs' rule, the safe reading);
  hooks created with that token are signed with the app's client secret;
* **the control panel**: the app's iframe with a fresh ``signed_payload_jwt`` (HS256 under
  the client secret, the claims of APPS.md §2) on every open; uninstall (the app's hooks
  deleted, its token revoked, then the uninstall callback) and remove-user callbacks.

A store's owner is user ``owner_id`` (derived from the store id); other users are any ids.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import urlencode

import jwt
import requests

from cartwatch_tools.sandbox.store import Store

# What cartwatch asks for, plus the extra every grant carries (APPS.md §4).
DEFAULT_SCOPES = (
    "store_cart_read_only store_checkout_read_only store_v2_customers_read_only "
    "store_v2_orders_read_only store_v2_default"
)
# How long a code may wait to be exchanged (BigCommerce does not say; APPS.md §7.1).
CODE_LIFETIME_S = 600.0
JWT_LIFETIME_S = 24 * 3600
ACCOUNT_UUID = "0f1e2d3c-4b5a-6978-8a9b-acbdcedf0011"


class AppError(ValueError):
    """A sandbox app operation that cannot be done (unknown app, store or user)."""


@dataclass(frozen=True)
class RegisteredApp:
    client_id: str
    client_secret: str = field(repr=False)
    auth_callback_url: str
    load_callback_url: str
    uninstall_callback_url: str
    remove_user_callback_url: str | None = None
    scopes: str = DEFAULT_SCOPES

    @classmethod
    def calling(cls, client_id: str, client_secret: str, callback_url: Callable[[str], str]) -> RegisteredApp:
        """An app whose callbacks are ``callback_url(name)`` for auth, load, uninstall, remove_user."""
        return cls(
            client_id,
            client_secret,
            auth_callback_url=callback_url("auth"),
            load_callback_url=callback_url("load"),
            uninstall_callback_url=callback_url("uninstall"),
            remove_user_callback_url=callback_url("remove_user"),
        )


@dataclass
class _Grant:
    client_id: str
    store_hash: str
    scope: str
    user_id: int
    issued_at: float
    used: bool = False


@dataclass(frozen=True)
class CallbackAnswer:
    """What cartwatch answered a callback: its status and page."""

    status: int
    body: str


def owner_id(store: Store) -> int:
    return int(store.store_id) % 100_000 + 1


def _user(store: Store, user_id: int) -> dict[str, Any]:
    return {"id": user_id, "email": f"user{user_id}@{store.hash}.example", "locale": "en-US"}


class AppMarketplace:
    def __init__(
        self,
        stores: Callable[[str], Store | None],
        *,
        clock: Callable[[], float] = time.time,
        http: requests.Session | None = None,
    ) -> None:
        self._stores = stores
        self._clock = clock
        self._http = http or requests.Session()
        self._apps: dict[str, RegisteredApp] = {}
        self._grants: dict[str, _Grant] = {}
        self._lock = threading.Lock()

    # -- the developer portal --------------------------------------------------------------------

    def register(self, app: RegisteredApp) -> RegisteredApp:
        with self._lock:
            self._apps[app.client_id] = app
        return app

    @property
    def client_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._apps)

    def app(self, client_id: str) -> RegisteredApp:
        with self._lock:
            found = self._apps.get(client_id)
        if found is None:
            raise AppError(f"no app {client_id!r} is registered in the sandbox")
        return found

    # -- the merchant's browser ------------------------------------------------------------------

    def install(self, store_hash: str, client_id: str, user_id: int | None = None) -> CallbackAnswer:
        """The merchant clicks Install: the browser calls the auth callback with a fresh code."""
        query = self.install_query(store_hash, client_id, user_id)
        return self._get(self.app(client_id).auth_callback_url, query)

    def install_query(self, store_hash: str, client_id: str, user_id: int | None = None) -> dict[str, str]:
        """A fresh auth callback query (tests send it themselves: twice, altered, late)."""
        store, app = self._store(store_hash), self.app(client_id)
        user = owner_id(store) if user_id is None else user_id
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._grants[code] = _Grant(client_id, store_hash, app.scopes, user, self._clock())
        return {
            "account_uuid": ACCOUNT_UUID,
            "code": code,
            "context": f"stores/{store_hash}",
            "scope": app.scopes,
        }

    def load_url(self, store_hash: str, client_id: str, user_id: int | None = None) -> str:
        """What the control panel puts in the app's iframe: the load callback with a new JWT."""
        app = self.app(client_id)
        token = self.signed_payload(store_hash, client_id, user_id)
        return f"{app.load_callback_url}?{urlencode({'signed_payload_jwt': token})}"

    def control_panel(self, store_hash: str, client_id: str, user_id: int | None = None) -> str:
        """The control panel's app page: BigCommerce's frame around the app's iframe."""
        src = self.load_url(store_hash, client_id, user_id)
        return (
            "<!doctype html><html lang=en><head><meta charset=utf-8>"
            f"<title>Apps - {escape(client_id)} - BigCommerce sandbox</title>"
            "<style>body{margin:0;font:14px system-ui,sans-serif;background:#e9ecf3}"
            "nav{background:#1e2a44;color:#fff;padding:12px 20px}"
            "iframe{display:block;width:100%;height:1100px;border:0;background:#fff}</style></head>"
            f"<body><nav>BigCommerce control panel (sandbox) &middot; store {escape(store_hash)} "
            f"&middot; Apps &rsaquo; {escape(client_id)}</nav>"
            f'<iframe id=app title="{escape(client_id)}" src="{escape(src)}"></iframe></body></html>'
        )

    # -- BigCommerce's server-to-server callbacks --------------------------------------------------

    def uninstall(self, store_hash: str, client_id: str, user_id: int | None = None) -> CallbackAnswer:
        """The merchant uninstalls: the app's hooks and token go, then the uninstall callback."""
        store, app = self._store(store_hash), self.app(client_id)
        token = self.signed_payload(store_hash, client_id, user_id)
        store.hooks.delete_all(client_id)
        store.remove_api_account(client_id)
        return self._get(app.uninstall_callback_url, {"signed_payload_jwt": token})

    def remove_user(self, store_hash: str, client_id: str, user_id: int) -> CallbackAnswer:
        app = self.app(client_id)
        if app.remove_user_callback_url is None:
            raise AppError(f"app {client_id!r} has no remove-user callback")
        token = self.signed_payload(store_hash, client_id, user_id)
        return self._get(app.remove_user_callback_url, {"signed_payload_jwt": token})

    def signed_payload(
        self,
        store_hash: str,
        client_id: str,
        user_id: int | None = None,
        *,
        issued_at: float | None = None,
        lifetime: float = JWT_LIFETIME_S,
    ) -> str:
        """A ``signed_payload_jwt`` as BigCommerce makes one (APPS.md §2, §6)."""
        store, app = self._store(store_hash), self.app(client_id)
        now = int(self._clock() if issued_at is None else issued_at)
        owner = _user(store, owner_id(store))
        claims = {
            "aud": app.client_id,
            "iss": "bc",
            "iat": now,
            "nbf": now - 5,  # as in BigCommerce's own example
            "exp": now + int(lifetime),
            "jti": str(uuid.uuid4()),
            "sub": f"stores/{store_hash}",
            "user": owner if user_id is None else _user(store, user_id),
            "owner": {"id": owner["id"], "email": owner["email"]},
            "url": "/",
            "channel_id": None,
        }
        return jwt.encode(claims, app.client_secret, algorithm="HS256")

    # -- login.bigcommerce.com -------------------------------------------------------------------

    def exchange(self, body: Any) -> tuple[int, dict[str, Any]]:
        """``POST /oauth2/token``: (status, JSON answer)."""
        if not isinstance(body, dict):
            return 400, {"error": "invalid_request"}
        client_id, secret = str(body.get("client_id", "")), str(body.get("client_secret", ""))
        with self._lock:
            app = self._apps.get(client_id)
        if app is None or not hmac.compare_digest(app.client_secret.encode(), secret.encode()):
            return 401, {"error": "invalid_client"}
        if body.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        with self._lock:
            grant = self._grants.get(str(body.get("code", "")))
            valid = (
                grant is not None
                and not grant.used
                and grant.client_id == client_id
                and self._clock() - grant.issued_at <= CODE_LIFETIME_S
                and body.get("context") == f"stores/{grant.store_hash}"
                and body.get("scope") == grant.scope
                and body.get("redirect_uri") == app.auth_callback_url
            )
            if grant is not None:
                grant.used = True  # a code is spent by any attempt, right or wrong
        if not valid or grant is None:
            return 400, {"error": "invalid_grant"}
        store = self._store(grant.store_hash)
        token = secrets.token_hex(16)
        # A new token per install replaces (and so voids) the app's previous one on the store.
        store.add_api_account(client_id, token, app.client_secret)
        user, owner = _user(store, grant.user_id), _user(store, owner_id(store))
        return 200, {
            "access_token": token,
            "scope": grant.scope,
            "user": {"id": user["id"], "username": user["email"], "email": user["email"]},
            "owner": {"id": owner["id"], "username": owner["email"], "email": owner["email"]},
            "context": f"stores/{store.hash}",
            "account_uuid": ACCOUNT_UUID,
        }

    # -- internals --------------------------------------------------------------------------------

    def _store(self, store_hash: str) -> Store:
        store = self._stores(store_hash)
        if store is None:
            raise AppError(f"no store {store_hash!r} in the sandbox")
        return store

    def _get(self, url: str, query: dict[str, str]) -> CallbackAnswer:
        try:
            response = self._http.get(url, params=query, timeout=30, allow_redirects=False)
        except requests.RequestException as error:
            raise AppError(f"the app's callback {url} did not answer ({type(error).__name__})") from None
        return CallbackAnswer(response.status_code, response.text)
