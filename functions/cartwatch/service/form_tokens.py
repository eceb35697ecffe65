"""The merchant page's form token: who may save settings, for which store, until when.

The page lives in the control panel's iframe, where cookies are third-party (APPS.md §4):
browsers drop or partition them, and a cookie would be sent with a forged cross-site POST
anyway.  So the page carries no cookie.  The verified ``signed_payload_jwt`` is exchanged
for a token sealed with a key derived from the app's client secret, bound to the store and
the user, valid for an hour, and placed in the form as a hidden field.  A POST counts only
with that token: another site can neither read it from our page nor make one — the
synchronizer-token defence against CSRF, with nothing ambient for a forger to ride on.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from cartwatch.service.sealed_tokens import BrokenSeal, seal, unseal

FORM_TOKEN_SECONDS = 3600
_PURPOSE = b"cartwatch merchant page form token v1"


class InvalidFormToken(Exception):
    """The form was not one of our pages', or is too old.  The message is safe to log."""


@dataclass(frozen=True)
class FormSession:
    store_hash: str
    user_id: int
    expires_at: int


def form_token_key(client_secret: str) -> bytes:
    """A key for form tokens only, derived from the app's client secret (which signs JWTs)."""
    return hmac.new(client_secret.encode(), _PURPOSE, hashlib.sha256).digest()


class FormTokens:
    def __init__(self, key: Callable[[], bytes], *, clock: Callable[[], float] = time.time) -> None:
        self._key = key
        self._clock = clock

    def issue(self, store_hash: str, user_id: int) -> str:
        expires_at = int(self._clock()) + FORM_TOKEN_SECONDS
        # The nonce makes every page's token distinct, so none can be predicted from another.
        return seal(self._key(), {"s": store_hash, "u": user_id, "e": expires_at, "n": secrets.token_hex(8)})

    def read(self, token: str | None) -> FormSession:
        if not token or len(token) > 1024:
            raise InvalidFormToken("no form token")
        try:
            payload = unseal(self._key(), token)
        except BrokenSeal:
            raise InvalidFormToken("form token was not issued by this app") from None
        store_hash, user_id, expires_at = payload.get("s"), payload.get("u"), payload.get("e")
        if not isinstance(store_hash, str) or not isinstance(user_id, int) or not isinstance(expires_at, int):
            raise InvalidFormToken("form token is malformed")
        if self._clock() >= expires_at:
            raise InvalidFormToken("form token expired")
        return FormSession(store_hash, user_id, expires_at)
