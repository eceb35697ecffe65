"""Tamper-proof tokens: a JSON payload and its HMAC-SHA256, base64url, joined by a dot.

Used for the query API's pagination cursors and the merchant page's form tokens.  The
payload is readable by whoever holds the token (never put a secret in it); what the seal
guarantees is that only the holder of the key could have written it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

MIN_KEY_BYTES = 16


class BrokenSeal(ValueError):
    """The token cannot be trusted."""


class MalformedToken(BrokenSeal):
    """Not a sealed token at all."""


class ForgedToken(BrokenSeal):
    """Well-formed, but not sealed with this key — or altered since."""


def seal(key: bytes, payload: dict[str, Any]) -> str:
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return f"{_b64(body)}.{_b64(_mac(key, body))}"


def unseal(key: bytes, token: str) -> dict[str, Any]:
    body_text, _, mac_text = token.partition(".")
    try:
        body, mac = _unb64(body_text), _unb64(mac_text)
    except (binascii.Error, ValueError):
        raise MalformedToken("malformed") from None
    if not hmac.compare_digest(mac, _mac(key, body)):
        raise ForgedToken("not sealed with this key, or altered")
    try:
        payload = json.loads(body)
    except ValueError:
        raise MalformedToken("malformed") from None
    if not isinstance(payload, dict):
        raise MalformedToken("malformed")
    return payload


def _mac(key: bytes, body: bytes) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise ValueError("a sealing key needs at least 128 bits")
    return hmac.new(key, body, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text:
        raise ValueError("empty")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
