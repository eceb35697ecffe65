"""BigCommerce's OAuth token endpoint: an install's one-time code, exchanged for the store's token.

``POST {login_url}/oauth2/token`` with a JSON body, as BigCommerce documents it (APPS.md §1):
``client_id``, ``client_secret``, ``code``, ``scope`` and ``context`` copied unchanged from
the auth callback, ``grant_type=authorization_code`` and ``redirect_uri`` equal to the
registered auth callback URL.  The base URL is configurable so that the sandbox can play
``login.bigcommerce.com`` in ``cartwatch local`` and the tests.

A code works once: the request is sent once, and repeated only when the connection was never
made (nothing reached BigCommerce).  No secret, code or token appears in a message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import certifi
import urllib3
from urllib3.exceptions import ConnectTimeoutError, HTTPError

from cartwatch.domain.app_install import AppCredentials, store_hash_of

DEFAULT_LOGIN_URL = "https://login.bigcommerce.com"


class CodeRefused(Exception):
    """BigCommerce refused the code (expired, used, or not for this app).  Safe to log."""


class LoginUnavailable(Exception):
    """The token endpoint did not answer, or answered with a server error.  Safe to log."""


@dataclass(frozen=True)
class TokenGrant:
    store_hash: str
    access_token: str = field(repr=False)
    scope: str
    user_id: int
    owner_id: int


class BigCommerceLogin:
    def __init__(
        self,
        login_url: str = DEFAULT_LOGIN_URL,
        *,
        pool: urllib3.PoolManager | None = None,
        timeout: tuple[float, float] = (3.05, 10),
    ) -> None:
        self._url = f"{login_url.rstrip('/')}/oauth2/token"
        self._pool = pool if pool is not None else urllib3.PoolManager(ca_certs=certifi.where())
        self._timeout = urllib3.Timeout(connect=timeout[0], read=timeout[1])

    def exchange(
        self, app: AppCredentials, *, code: str, scope: str, context: str, redirect_uri: str
    ) -> TokenGrant:
        body = {
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "code": code,
            "scope": scope,
            "context": context,
            "grant_type": "authorization_code",
            "redirect_uri": redirect_uri,
        }
        for attempt in (1, 2):
            try:
                response = self._pool.request(
                    "POST",
                    self._url,
                    json=body,
                    headers={"Accept": "application/json"},
                    timeout=self._timeout,
                    retries=False,
                    redirect=False,
                )
                break
            except ConnectTimeoutError:
                if attempt == 2:
                    raise LoginUnavailable("the token endpoint could not be reached") from None
            except HTTPError as error:
                # The request may have reached BigCommerce: the code may be spent, so no retry.
                raise LoginUnavailable(f"the token endpoint failed ({type(error).__name__})") from None
        if response.status >= 500 or response.status == 429:
            raise LoginUnavailable(f"the token endpoint answered {response.status}")
        if response.status >= 400:
            raise CodeRefused(f"the token endpoint refused the code ({response.status})")
        return _grant(_json(response), context)


def _json(response: urllib3.BaseHTTPResponse) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise LoginUnavailable("the token endpoint's answer is not JSON") from None
    if not isinstance(body, dict):
        raise LoginUnavailable("the token endpoint's answer is not an object")
    return body


def _grant(body: dict[str, Any], context: str) -> TokenGrant:
    token, scope, answered = body.get("access_token"), body.get("scope"), body.get("context")
    store_hash = store_hash_of(answered) if isinstance(answered, str) else None
    if not isinstance(token, str) or not token or not isinstance(scope, str):
        raise LoginUnavailable("the token endpoint's answer has no access_token or scope")
    if store_hash is None or answered != context:
        raise CodeRefused("the token endpoint answered for another store than the install's")
    return TokenGrant(
        store_hash=store_hash,
        access_token=token,
        scope=scope,
        user_id=_id(body.get("user")),
        owner_id=_id(body.get("owner")),
    )


def _id(party: Any) -> int:
    value = party.get("id") if isinstance(party, dict) else None
    if isinstance(value, bool) or not isinstance(value, int):
        raise LoginUnavailable("the token endpoint's answer has no user or owner id")
    return value
