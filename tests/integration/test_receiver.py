"""The webhook receiver's contract (DESIGN.md §3) against moto server: the credentials table, SQS intake."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from tests.integration.conftest import Aws, Store
from tests.support import FakeLambdaContext, cart_webhook, http_api_event, signed_headers

from cartwatch.adapters.intake_queue import IntakeQueue
from cartwatch.adapters.webhook_credentials import CredentialsUnavailable
from cartwatch.domain.store import ROTATION_GRACE_SECONDS, WebhookAuth
from cartwatch.handlers import receiver
from cartwatch.service.intake import (
    MAX_INTAKE_MESSAGE_BYTES,
    MAX_WEBHOOK_BODY_BYTES,
    Delivery,
    Rejection,
    WebhookIntake,
    accept_delivery,
    intake_message,
)


def deliver(aws: Aws, store_hash: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    return receiver.handler(
        http_api_event(store_hash, body, headers),
        FakeLambdaContext(),
        intake=aws.function("receiver").webhook_intake,
    )


def created_body(store: Store, cart_id: str = "cart-1") -> bytes:
    return json.dumps(
        cart_webhook(store.store_hash, "store/cart/created", cart_id, int(time.time()))
    ).encode()


def assert_nothing_stored(aws: Aws) -> None:
    assert aws.queue_messages(aws.resources.intake_queue_url) == []
    assert [i for i in aws.table_items() if i["pk"]["S"] != "STORE"] == []


@pytest.mark.integration
def test_signed_delivery_is_acknowledged_and_enqueued_once(aws: Aws, store: Store) -> None:
    body = created_body(store)
    response = deliver(
        aws, store.store_hash, body, signed_headers(store.client_secret, body, msg_id="msg_42")
    )
    assert response["statusCode"] == 200
    messages = aws.queue_messages(aws.resources.intake_queue_url)
    assert len(messages) == 1
    envelope = json.loads(messages[0]["Body"])
    assert envelope["body"] == body.decode()  # verbatim, so it can be re-verified and re-parsed
    assert envelope["webhook_id"] == "msg_42"
    assert envelope["store_hash"] == store.store_hash


@pytest.mark.integration
def test_token_header_authenticates_without_a_signature(aws: Aws, store: Store) -> None:
    body = created_body(store)
    response = deliver(aws, store.store_hash, body, {"x-cartwatch-token": store.webhook_token})
    assert response["statusCode"] == 200
    assert len(aws.queue_messages(aws.resources.intake_queue_url)) == 1


@pytest.mark.integration
def test_base64_encoded_bodies_are_verified_on_their_raw_bytes(aws: Aws, store: Store) -> None:
    body = created_body(store)
    event = http_api_event(store.store_hash, body, signed_headers(store.client_secret, body))
    event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    response = receiver.handler(event, FakeLambdaContext(), intake=aws.function("receiver").webhook_intake)
    assert response["statusCode"] == 200


def _tampered(store: Store) -> tuple[bytes, dict[str, str]]:
    body = created_body(store)
    headers = signed_headers(store.client_secret, body)
    return body.replace(b"cart-1", b"cart-2"), headers


def _old(store: Store) -> tuple[bytes, dict[str, str]]:
    body = created_body(store)
    return body, signed_headers(store.client_secret, body, timestamp=time.time() - 301)


def _wrong_secret(store: Store) -> tuple[bytes, dict[str, str]]:
    body = created_body(store)
    return body, signed_headers("not-the-secret", body)


def _missing_headers(store: Store) -> tuple[bytes, dict[str, str]]:
    return created_body(store), {"content-type": "application/json"}


def _wrong_token(store: Store) -> tuple[bytes, dict[str, str]]:
    return created_body(store), {"x-cartwatch-token": store.webhook_token + "x"}


def _prefix_of_the_token(store: Store) -> tuple[bytes, dict[str, str]]:
    # A comparison that stopped at the shorter string would accept it.
    return created_body(store), {"x-cartwatch-token": store.webhook_token[:-1]}


def _first_character_of_the_token(store: Store) -> tuple[bytes, dict[str, str]]:
    return created_body(store), {"x-cartwatch-token": store.webhook_token[:1]}


def _empty_token(store: Store) -> tuple[bytes, dict[str, str]]:
    return created_body(store), {"x-cartwatch-token": ""}


def _garbled_signature(store: Store) -> tuple[bytes, dict[str, str]]:
    body = created_body(store)
    headers = signed_headers(store.client_secret, body)
    headers["webhook-signature"] = "v1;%%%not-base64"
    return body, headers


def _bad_signature_with_good_token(store: Store) -> tuple[bytes, dict[str, str]]:
    body, headers = _tampered(store)
    headers["x-cartwatch-token"] = store.webhook_token
    return body, headers


@pytest.mark.integration
@pytest.mark.parametrize(
    "make",
    [
        _tampered,
        _old,
        _wrong_secret,
        _missing_headers,
        _wrong_token,
        _prefix_of_the_token,
        _first_character_of_the_token,
        _empty_token,
        _garbled_signature,
        _bad_signature_with_good_token,
    ],
)
def test_unauthenticated_deliveries_get_401_and_store_nothing(
    aws: Aws, store: Store, make: Callable[[Store], tuple[bytes, dict[str, str]]]
) -> None:
    body, headers = make(store)
    response = deliver(aws, store.store_hash, body, headers)
    assert response["statusCode"] == 401
    assert_nothing_stored(aws)


@pytest.mark.integration
def test_store_requiring_signatures_refuses_the_token(aws: Aws, add_store: Callable[..., Store]) -> None:
    strict = add_store(require_signature=True)
    body = created_body(strict)
    assert (
        deliver(aws, strict.store_hash, body, {"x-cartwatch-token": strict.webhook_token})["statusCode"]
        == 401
    )
    assert (
        deliver(aws, strict.store_hash, body, signed_headers(strict.client_secret, body))["statusCode"] == 200
    )


@pytest.mark.integration
def test_producer_of_another_store_gets_403(aws: Aws, store: Store) -> None:
    body = json.dumps(cart_webhook("someoneelse", "store/cart/created", "cart-1", int(time.time()))).encode()
    response = deliver(aws, store.store_hash, body, signed_headers(store.client_secret, body))
    assert response["statusCode"] == 403
    assert_nothing_stored(aws)


@pytest.mark.integration
@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'{"scope": "store/cart/created"}', b"\xff\xfe"])
def test_bodies_that_are_not_webhooks_get_400(aws: Aws, store: Store, body: bytes) -> None:
    response = deliver(aws, store.store_hash, body, {"x-cartwatch-token": store.webhook_token})
    assert response["statusCode"] == 400
    assert_nothing_stored(aws)


@pytest.mark.integration
def test_oversized_body_gets_413(aws: Aws, store: Store) -> None:
    payload = cart_webhook(store.store_hash, "store/cart/created", "cart-1", int(time.time()))
    payload["padding"] = "x" * MAX_WEBHOOK_BODY_BYTES
    body = json.dumps(payload).encode()
    response = deliver(aws, store.store_hash, body, signed_headers(store.client_secret, body))
    assert response["statusCode"] == 413
    assert_nothing_stored(aws)


@pytest.mark.integration
@pytest.mark.parametrize("megabytes", [1, 6, 9])
def test_megabyte_bodies_get_413(aws: Aws, store: Store, megabytes: int) -> None:
    payload = cart_webhook(store.store_hash, "store/cart/created", "cart-1", int(time.time()))
    payload["padding"] = "x" * (megabytes * 1024 * 1024)
    body = json.dumps(payload).encode()
    response = deliver(aws, store.store_hash, body, signed_headers(store.client_secret, body))
    assert response["statusCode"] == 413
    assert_nothing_stored(aws)


RECEIVED_AT = 1_754_400_000.25
# Characters that grow when the body is embedded in the intake message: a quote or a
# newline is escaped twice, non-ASCII text becomes \\uXXXX.
TAILS = ["", '"', "\n", "é", "☃", "😀"]


def body_with_envelope(store: Store, envelope_bytes: int, tail: str = "") -> bytes:
    """A webhook body whose intake message (received at RECEIVED_AT) is exactly this long."""
    payload = cart_webhook(store.store_hash, "store/cart/created", "cart-1", int(time.time()))
    payload["padding"] = tail
    base = len(message_for(store, json.dumps(payload, ensure_ascii=False).encode()))
    payload["padding"] = "x" * (envelope_bytes - base) + tail  # each "x" is one byte more
    body = json.dumps(payload, ensure_ascii=False).encode()
    assert len(message_for(store, body)) == envelope_bytes
    return body


def message_for(store: Store, body: bytes) -> str:
    delivery = Delivery(store.store_hash, body, {"x-cartwatch-token": "t"})
    return intake_message(delivery, "store/cart/created", RECEIVED_AT)


def accept(aws: Aws, store: Store, body: bytes) -> int:
    sqs = aws.client("sqs")
    try:
        with aws.acting_as("receiver"):
            accept_delivery(
                Delivery(store.store_hash, body, {"x-cartwatch-token": store.webhook_token}),
                lookup_auth=aws.credentials().webhook_auth,
                enqueue=lambda m: sqs.send_message(QueueUrl=aws.resources.intake_queue_url, MessageBody=m),
                clock=lambda: RECEIVED_AT,
            )
    except Rejection as rejection:
        return rejection.status
    return 200


@pytest.mark.integration
@pytest.mark.parametrize("tail", TAILS)
def test_an_intake_message_of_exactly_the_queue_limit_is_accepted_and_stored_verbatim(
    aws: Aws, store: Store, tail: str
) -> None:
    body = body_with_envelope(store, MAX_INTAKE_MESSAGE_BYTES, tail)
    assert accept(aws, store, body) == 200
    [stored] = aws.queue_messages(aws.resources.intake_queue_url)
    assert len(stored["Body"].encode()) == MAX_INTAKE_MESSAGE_BYTES
    assert json.loads(stored["Body"])["body"] == body.decode()


@pytest.mark.integration
@pytest.mark.parametrize("tail", TAILS)
def test_an_intake_message_one_byte_over_the_queue_limit_gets_413(aws: Aws, store: Store, tail: str) -> None:
    body = body_with_envelope(store, MAX_INTAKE_MESSAGE_BYTES + 1, tail)
    # Under the body bound: only the envelope itself can tell it would not fit.
    assert len(body) < MAX_WEBHOOK_BODY_BYTES
    assert accept(aws, store, body) == 413
    assert_nothing_stored(aws)


@pytest.mark.integration
def test_the_test_aws_refuses_a_message_over_the_queue_limit_as_sqs_would(aws: Aws, store: Store) -> None:
    # Were the receiver's check ever removed, this is what the delivery would meet: an SQS
    # error (and a 5xx) — the limit tests above would fail instead of passing on moto.
    from botocore.exceptions import ClientError

    message = message_for(store, body_with_envelope(store, MAX_INTAKE_MESSAGE_BYTES + 1))
    with pytest.raises(ClientError) as refused:
        aws.client("sqs").send_message(QueueUrl=aws.resources.intake_queue_url, MessageBody=message)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"


@pytest.mark.integration
@pytest.mark.parametrize("store_hash", ["unknownstore", "Bad-Hash!", ""])
def test_unknown_store_gets_404(aws: Aws, store: Store, store_hash: str) -> None:
    body = created_body(store)
    response = deliver(aws, store_hash, body, signed_headers(store.client_secret, body))
    assert response["statusCode"] == 404
    assert_nothing_stored(aws)


@pytest.mark.integration
def test_unknown_scope_is_acknowledged(aws: Aws, store: Store) -> None:
    body = json.dumps(
        {
            "scope": "store/product/updated",
            "store_id": "1",
            "producer": f"stores/{store.store_hash}",
            "created_at": int(time.time()),
            "data": {"type": "product", "id": 5},
        }
    ).encode()
    assert (
        deliver(aws, store.store_hash, body, signed_headers(store.client_secret, body))["statusCode"] == 200
    )


@pytest.mark.integration
def test_a_warm_receiver_follows_a_token_rotation_without_refusing_a_delivery(aws: Aws, store: Store) -> None:
    reads: list[str] = []
    # A receiver as deployed: the index read once a minute, credentials kept until their
    # version changes, read again on a failure.
    function = aws.function(
        "receiver",
        event_handlers=[("before-call.dynamodb.GetItem", lambda **_: reads.append("read"))],
        store_index_reread_on_miss=False,
    )

    def deliver_token(value: str) -> int:
        response = receiver.handler(
            http_api_event(store.store_hash, created_body(store), {"x-cartwatch-token": value}),
            FakeLambdaContext(),
            intake=function.webhook_intake,
        )
        return int(response["statusCode"])

    assert deliver_token(store.webhook_token) == 200  # warms the cache with the old token
    new_token = "rotated-" + store.webhook_token
    aws.rotate_token(store, new_token, int(time.time()) + ROTATION_GRACE_SECONDS)
    reads.clear()

    assert deliver_token(new_token) == 200  # the cache was stale: one re-read, then accepted
    assert deliver_token(store.webhook_token) == 200  # in flight before the hooks switched
    assert reads == ["read"]
    # Wrong tokens are refused without turning into reads (one re-read per 10 s at most).
    assert [deliver_token(f"guess-{i}") for i in range(5)] == [401] * 5
    assert reads == ["read"]
    assert len(aws.queue_messages(aws.resources.intake_queue_url)) == 3


@pytest.mark.integration
@pytest.mark.parametrize("failing", ["lookup", "refresh"])
def test_unreadable_secrets_defer_the_delivery_with_a_503(aws: Aws, store: Store, failing: str) -> None:
    def unavailable(store_hash: str) -> WebhookAuth | None:
        raise CredentialsUnavailable(f"could not read {store_hash}")

    stale = WebhookAuth(client_secret=store.client_secret, token="stale-token")
    queue = IntakeQueue(aws.client("sqs"), aws.resources.intake_queue_url)
    intake = WebhookIntake(unavailable if failing == "lookup" else (lambda _: stale), unavailable, queue.send)
    with aws.acting_as("receiver"):
        response = receiver.handler(
            http_api_event(store.store_hash, created_body(store), {"x-cartwatch-token": store.webhook_token}),
            FakeLambdaContext(),
            intake=intake,
        )

    assert response["statusCode"] == 503  # BigCommerce retries it; a 401 would drop it
    assert "retry" in json.loads(response["body"])["error"]
    assert_nothing_stored(aws)
