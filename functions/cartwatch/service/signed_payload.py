"""``signed_payload_jwt``: how BigCommerce's load, uninstall and remove-user callbacks prove
they are BigCommerce's, about which store and which user.

Verified in the order APPS.md §2 recommends: PyJWT checks the HMAC signature under the app's
client secret with the algorithm pinned to HS256 (so ``alg: none`` and any other algorithm
are refused), ``aud`` = the app's client id, ``iss`` = ``bc`` and that every claim is there;
then ``exp``/``nbf``/``iat`` against this module's clock (injectable, so the boundaries are
tested exactly) with a 60 s leeway — BigCommerce's own example has ``nbf`` 5 s before
``iat`` —, ``sub`` = ``stores/{hash}``, and last the ``jti`` against a replay cache kept until
the token expires.  The token itself (it sits in the query string) is never logged.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cartwatch.domain.app_install import AppCredentials

ALGORITHMS = ["HS256"]
ISSUER = "bc"
LEEWAY_SECONDS = 60
# A real signed payload is well under 2 KB; the bound keeps a hostile query cheap to refuse.
MAX_TOKEN_LENGTH = 8192
_SUBJECT = re.compile(r"^stores/(?P<hash>[a-z0-9]{1,32})$")
_JTI = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_REQUIRED = ["exp", "iat", "nbf", "aud", "iss", "sub", "jti"]


class InvalidSignedPayload(Exception):
    """The callback cannot be trusted.  The message says why and is safe to log."""


@dataclass(frozen=True)
class SignedPayload:
    """What a verified callback tells: the store, the acting user and the owner."""

    store_hash: str
    user_id: int
    owner_id: int
    jti: str
    expires_at: int
    locale: str | None = None
    channel_id: int | None = None

    @property
    def by_owner(self) -> bool:
        return self.user_id == self.owner_id


# (jti, keep until epoch seconds) -> True the first time a jti is seen, False after.
FirstUse = Callable[[str, int], bool]


class SignedPayloadVerifier:
    def __init__(
        self,
        credentials: Callable[[], AppCredentials],
        first_use: FirstUse,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._credentials = credentials
        self._first_use = first_use
        self._clock = clock

    def verify(self, token: str | None) -> SignedPayload:
        import jwt

        if not token:
            raise InvalidSignedPayload("no signed_payload_jwt")
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidSignedPayload("signed_payload_jwt is too long")
        app = self._credentials()
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=app.client_secret,
                algorithms=ALGORITHMS,
                audience=app.client_id,
                issuer=ISSUER,
                options={
                    "require": _REQUIRED,
                    "strict_aud": True,
                    # Checked below against our clock.
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidAudienceError:
            raise InvalidSignedPayload("signed payload is for another app") from None
        except jwt.InvalidIssuerError:
            raise InvalidSignedPayload("signed payload was not issued by BigCommerce") from None
        except jwt.InvalidAlgorithmError:
            raise InvalidSignedPayload("signed payload uses an algorithm other than HS256") from None
        except jwt.InvalidSignatureError:
            raise InvalidSignedPayload("signed payload signature does not verify") from None
        except jwt.MissingRequiredClaimError as missing:
            raise InvalidSignedPayload(f"signed payload has no {missing.claim} claim") from None
        except jwt.PyJWTError as error:
            # Library messages name claims, never values: safe to log.
            raise InvalidSignedPayload(f"signed payload refused: {type(error).__name__}") from None
        _check_times(claims, self._clock())
        payload = _payload(claims)
        if not self._first_use(payload.jti, payload.expires_at + LEEWAY_SECONDS):
            raise InvalidSignedPayload("signed payload was already used")
        return payload


def _check_times(claims: dict[str, Any], now: float) -> None:
    exp, nbf, iat = (_time(claims, name) for name in ("exp", "nbf", "iat"))
    if now > exp + LEEWAY_SECONDS:
        raise InvalidSignedPayload("signed payload expired")
    if now < max(nbf, iat) - LEEWAY_SECONDS:
        raise InvalidSignedPayload("signed payload not valid yet")


def _time(claims: dict[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidSignedPayload(f"signed payload's {name} is not a time")
    return float(value)


def _payload(claims: dict[str, Any]) -> SignedPayload:
    subject = claims.get("sub")
    match = _SUBJECT.match(subject) if isinstance(subject, str) else None
    if match is None:
        raise InvalidSignedPayload("signed payload's sub is not stores/{store_hash}")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not _JTI.match(jti):
        raise InvalidSignedPayload("signed payload's jti is malformed")
    user, owner = claims.get("user"), claims.get("owner")
    user_id = _id(user)
    owner_id = _id(owner)
    if user_id is None or owner_id is None:
        raise InvalidSignedPayload("signed payload has no user or owner id")
    channel = claims.get("channel_id")
    locale = user.get("locale") if isinstance(user, dict) else None
    return SignedPayload(
        store_hash=match.group("hash"),
        user_id=user_id,
        owner_id=owner_id,
        jti=jti,
        expires_at=int(claims["exp"]),
        locale=locale if isinstance(locale, str) and len(locale) <= 35 else None,
        channel_id=channel if isinstance(channel, int) and not isinstance(channel, bool) else None,
    )


def _id(party: Any) -> int | None:
    value = party.get("id") if isinstance(party, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value
