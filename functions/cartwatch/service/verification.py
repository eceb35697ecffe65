"""WebhookVerifier: is this delivery really from BigCommerce, for this store?

Two mechanisms, as BigCommerce documents them: a Standard Webhooks signature keyed with
the base64 of the store's API client secret, or the custom ``X-Cartwatch-Token`` header
that cartwatch sets when it registers the hook.  A store can require the signature.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from cartwatch.domain.store import TOKEN_HEADER, WebhookAuth

SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


class Unauthenticated(Exception):
    """The delivery could not be authenticated.  The message is safe to log."""


def signing_key(client_secret: str) -> str:
    """BigCommerce signs with the client secret itself; the library wants it base64-encoded."""
    return base64.b64encode(client_secret.encode()).decode()


def verify_delivery(auth: WebhookAuth, body: bytes, headers: Mapping[str, str], now: float) -> str:
    """Return which mechanism authenticated the delivery, or raise :class:`Unauthenticated`.

    ``headers`` must have lower-case names.  A delivery that carries signature headers is
    judged by its signature alone: a bad signature is never rescued by a token.  The token
    a rotation replaced still counts until its grace period ends (``now``, epoch seconds).
    """
    if any(name in headers for name in SIGNATURE_HEADERS) and auth.client_secret:
        _verify_signature(auth.client_secret, body, headers)
        return "signature"
    if auth.require_signature:
        raise Unauthenticated("this store requires a Standard Webhooks signature")
    presented = headers.get(TOKEN_HEADER.lower())
    if presented:
        if _same(presented, auth.token):
            return "token"
        replaced = auth.replaced_token_at(now)
        if replaced is not None and _same(presented, replaced[0]):
            return "previous token"
    raise Unauthenticated("missing or invalid credentials")


def _same(presented: str, expected: str | None) -> bool:
    return expected is not None and hmac.compare_digest(presented.encode(), expected.encode())


def _verify_signature(client_secret: str, body: bytes, headers: Mapping[str, str]) -> None:
    try:
        # The library checks the 5-minute timestamp tolerance and compares in constant time.
        Webhook(signing_key(client_secret)).verify(body, dict(headers), json_parse=False)
    except WebhookVerificationError as error:
        raise Unauthenticated(f"signature rejected: {error}") from None
    except (ValueError, binascii.Error, UnicodeDecodeError):
        # Malformed signature headers or a body that is not UTF-8: not a valid signature.
        raise Unauthenticated("signature rejected: malformed signature headers or body") from None
