"""signed_payload_jwt verification: what BigCommerce signs passes, nothing else does."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest

from cartwatch.domain.app_install import AppCredentials
from cartwatch.service.signed_payload import InvalidSignedPayload, SignedPayloadVerifier

APP = AppCredentials("app-client-id", "app-client-secret-0123456789abcdef0123")
NOW = 1_800_000_000


def claims(**changes: Any) -> dict[str, Any]:
    """The claims of BigCommerce's documented example (APPS.md §6), at NOW."""
    body: dict[str, Any] = {
        "aud": APP.client_id,
        "iss": "bc",
        "iat": NOW,
        "nbf": NOW - 5,
        "exp": NOW + 86400,
        "jti": "9b8a7c6d-0000-4000-8000-123456789abc",
        "sub": "stores/ab12cd",
        "user": {"id": 501, "email": "ops@shop.test", "locale": "en-US"},
        "owner": {"id": 500, "email": "boss@shop.test"},
        "url": "/",
        "channel_id": None,
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def signed(body: dict[str, Any], key: str = APP.client_secret, algorithm: str = "HS256") -> str:
    return jwt.encode(body, key, algorithm=algorithm)


class Seen:
    def __init__(self) -> None:
        self.kept: dict[str, int] = {}

    def __call__(self, jti: str, keep_until: int) -> bool:
        if jti in self.kept:
            return False
        self.kept[jti] = keep_until
        return True


def verifier(now: int = NOW, seen: Seen | None = None) -> SignedPayloadVerifier:
    return SignedPayloadVerifier(lambda: APP, seen or Seen(), clock=lambda: now)


def test_a_payload_as_bigcommerce_signs_it_names_store_user_and_owner() -> None:
    seen = Seen()
    payload = verifier(seen=seen).verify(signed(claims()))
    assert (payload.store_hash, payload.user_id, payload.owner_id) == ("ab12cd", 501, 500)
    assert payload.locale == "en-US" and payload.channel_id is None and not payload.by_owner
    # The id is remembered until the token could no longer pass anyway.
    assert seen.kept == {payload.jti: NOW + 86400 + 60}


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (signed(claims(aud="another-app")), "another app"),
        (signed(claims(iss="evil")), "not issued by BigCommerce"),
        (signed(claims(), key="someone-elses-secret-0123456789abcdef"), "signature"),
        (signed(claims(exp=NOW - 61)), "expired"),
        (signed(claims(nbf=NOW + 61)), "not valid yet"),
        (signed(claims(iat=NOW + 61)), "not valid yet"),
        (signed(claims(), key=APP.client_secret * 2, algorithm="HS512"), "algorithm"),
        (signed(claims(sub="stores/AB-12")), "sub"),
        (signed(claims(sub="users/ab12cd")), "sub"),
        (signed(claims(jti=...)), "jti"),
        (signed(claims(exp=...)), "exp"),
        (signed(claims(user={"email": "x@y"})), "user or owner id"),
        (signed(claims(owner=...)), "user or owner id"),
        ("", "no signed_payload_jwt"),
        ("not.a.jwt", "refused"),
        ("x" * 9000, "too long"),
    ],
)
def test_anything_else_is_refused_with_a_reason_safe_to_log(token: str, reason: str) -> None:
    seen = Seen()
    with pytest.raises(InvalidSignedPayload, match=reason) as refused:
        verifier(seen=seen).verify(token)
    assert token[:20] not in str(refused.value) or not token  # the token is never echoed
    assert seen.kept == {}  # a refused payload burns no id


def test_alg_none_is_refused() -> None:
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(claims()).encode()).rstrip(b"=")
    with pytest.raises(InvalidSignedPayload, match="algorithm"):
        verifier().verify(f"{header.decode()}.{body.decode()}.")


def test_clocks_a_minute_apart_still_agree() -> None:
    # BigCommerce's own example has nbf before iat; a clock 60 s behind or ahead is tolerated.
    token = signed(claims(exp=NOW + 30))
    assert verifier(now=NOW + 89).verify(token).store_hash == "ab12cd"
    assert verifier(now=NOW - 55).verify(signed(claims(jti="other"))).store_hash == "ab12cd"


def test_a_payload_is_accepted_once() -> None:
    seen = Seen()
    token = signed(claims())
    verifier(seen=seen).verify(token)
    with pytest.raises(InvalidSignedPayload, match="already used"):
        verifier(seen=seen).verify(token)
