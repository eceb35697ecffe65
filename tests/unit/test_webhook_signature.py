"""Standard Webhooks signatures, checked against values computed here by hand — not by the
``standardwebhooks`` library the receiver verifies with.

The scheme (standardwebhooks.com): ``v1,`` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))
where the key is the base64-decoded secret.  BigCommerce's secret is the base64 of the
store's API client secret, so the HMAC key is the client secret's own bytes.  The body is
signed byte for byte: the same JSON serialized differently is a different message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from tests.support import cart_webhook

from cartwatch.domain.store import WebhookAuth
from cartwatch.service.intake import Delivery, Rejection, accept_delivery
from cartwatch.service.verification import Unauthenticated, verify_delivery

CLIENT_SECRET = "bc-client-secret-0123456789abcdef"
AUTH = WebhookAuth(client_secret=CLIENT_SECRET, token="the-token")
MSG_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"


def sign_by_hand(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def bigcommerce_key(client_secret: str) -> bytes:
    """The Standard Webhooks secret is base64(client secret); its decoded bytes key the HMAC."""
    return base64.b64decode(base64.b64encode(client_secret.encode()))


def test_the_hand_computation_matches_the_standard_webhooks_published_vector() -> None:
    # The example of the Standard Webhooks specification (secret "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").
    key = base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    signature = sign_by_hand(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def delivery(body: bytes, signature: str, timestamp: int, msg_id: str = MSG_ID) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


def body_of(store_hash: str = "abc123") -> bytes:
    # Compact, the way BigCommerce sends it.
    payload = cart_webhook(
        store_hash, "store/cart/created", "09346904-4175-44fd-be53-f7e598531b6c", 1754408488
    )
    return json.dumps(payload, separators=(",", ":")).encode()


def test_a_delivery_signed_by_hand_is_accepted() -> None:
    now = int(time.time())
    body = body_of()
    signature = sign_by_hand(bigcommerce_key(CLIENT_SECRET), MSG_ID, now, body)
    assert verify_delivery(AUTH, body, delivery(body, signature, now), now) == "signature"


def test_one_of_several_signatures_is_enough() -> None:
    # Standard Webhooks sends space-separated signatures while secrets rotate.
    now = int(time.time())
    body = body_of()
    good = sign_by_hand(bigcommerce_key(CLIENT_SECRET), MSG_ID, now, body)
    stale = sign_by_hand(b"an older secret", MSG_ID, now, body)
    assert verify_delivery(AUTH, body, delivery(body, f"{stale} {good}", now), now) == "signature"


@pytest.mark.parametrize(
    "reserialize",
    [
        lambda b: json.dumps(json.loads(b)).encode(),  # ", " and ": " instead of compact separators
        lambda b: json.dumps(json.loads(b), separators=(",", ":"), sort_keys=True).encode(),  # keys reordered
        lambda b: json.dumps(json.loads(b), separators=(",", ":"), indent=1).encode(),  # pretty-printed
        lambda b: b + b"\n",  # a trailing newline
    ],
    ids=["spaces", "key-order", "indented", "trailing-newline"],
)
def test_the_same_json_serialized_differently_fails(reserialize: object) -> None:
    now = int(time.time())
    body = body_of()
    signature = sign_by_hand(bigcommerce_key(CLIENT_SECRET), MSG_ID, now, body)
    other = reserialize(body)  # type: ignore[operator]
    assert json.loads(other) == json.loads(body) and other != body
    with pytest.raises(Unauthenticated):
        verify_delivery(AUTH, other, delivery(other, signature, now), now)


def test_signing_with_the_base64_text_instead_of_its_bytes_fails() -> None:
    # The common mistake: keying the HMAC with the base64 string itself.
    now = int(time.time())
    body = body_of()
    wrong_key = base64.b64encode(CLIENT_SECRET.encode())
    with pytest.raises(Unauthenticated):
        verify_delivery(AUTH, body, delivery(body, sign_by_hand(wrong_key, MSG_ID, now, body), now), now)


@pytest.mark.parametrize("field", ["msg_id", "timestamp"])
def test_the_id_and_the_timestamp_are_signed_too(field: str) -> None:
    now = int(time.time())
    body = body_of()
    signature = sign_by_hand(bigcommerce_key(CLIENT_SECRET), MSG_ID, now, body)
    headers = delivery(body, signature, now)
    if field == "msg_id":
        headers["webhook-id"] = MSG_ID + "x"
    else:
        headers["webhook-timestamp"] = str(now - 1)
    with pytest.raises(Unauthenticated):
        verify_delivery(AUTH, body, headers, now)


def test_the_receiver_answers_401_for_a_reserialized_body_and_stores_nothing() -> None:
    now = int(time.time())
    body = body_of()
    signature = sign_by_hand(bigcommerce_key(CLIENT_SECRET), MSG_ID, now, body)
    stored: list[str] = []

    def deliver(raw: bytes) -> int:
        try:
            accept_delivery(
                Delivery("abc123", raw, delivery(raw, signature, now)),
                lookup_auth=lambda _: AUTH,
                enqueue=stored.append,
            )
        except Rejection as rejection:
            return rejection.status
        return 200

    assert deliver(json.dumps(json.loads(body)).encode()) == 401
    assert stored == []
    assert deliver(body) == 200
    assert json.loads(stored[0])["body"] == body.decode()  # the bytes that were signed, verbatim
