"""The ack path: authenticate a delivery, bound it, store it durably, answer.

Nothing else happens here — no DynamoDB, no BigCommerce.  BigCommerce blocks a whole
destination domain when fewer than 90 % of its deliveries succeed, so this path must be
small, fast and boring.  Its imports are stdlib plus standardwebhooks on purpose.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cartwatch.domain.store import WebhookAuth, is_store_hash
from cartwatch.resources import INTAKE_QUEUE
from cartwatch.service.verification import Unauthenticated, verify_delivery


@dataclass(frozen=True)
class Rejection(Exception):
    """A delivery refused with an HTTP status; ``reason`` is safe to log and return."""

    status: int
    reason: str


@dataclass(frozen=True)
class Delivery:
    store_hash: str
    body: bytes
    headers: Mapping[str, str]  # lower-case names


@dataclass(frozen=True)
class Accepted:
    store_hash: str
    scope: str
    authenticated_by: str


@dataclass(frozen=True)
class WebhookIntake:
    """What the ack path talks to: the stores' webhook secrets and the intake queue.

    ``lookup_auth`` may answer from a cache; ``refresh_auth`` reads past it (and must bound
    how often it really reads), see :func:`accept_delivery`.
    """

    lookup_auth: Callable[[str], WebhookAuth | None]
    refresh_auth: Callable[[str], WebhookAuth | None] | None
    enqueue: Callable[[str], None]

    def accept(self, delivery: Delivery, clock: Callable[[], float] = time.time) -> Accepted:
        return accept_delivery(
            delivery,
            lookup_auth=self.lookup_auth,
            refresh_auth=self.refresh_auth,
            enqueue=self.enqueue,
            clock=clock,
        )


def intake_message(delivery: Delivery, scope: str, received_at: float) -> str:
    """The intake queue's message: the raw body (verbatim) plus what the processor needs.

    Pure ASCII (``json.dumps`` escapes every other character), so its length in characters
    is its size in bytes as SQS counts it.
    """
    return json.dumps(
        {
            "v": 1,
            "store_hash": delivery.store_hash,
            "webhook_id": delivery.headers.get("webhook-id"),
            "received_at": received_at,
            "scope": scope,
            "body": delivery.body.decode("utf-8"),
        },
        separators=(",", ":"),
    )


# The largest message the intake queue takes (its MaximumMessageSize, in bytes).
MAX_INTAKE_MESSAGE_BYTES = INTAKE_QUEUE.max_message_bytes
# What the envelope costs at the least, around an empty body.  A body's JSON escape is
# never shorter than its UTF-8 bytes, so a body longer than this bound can never fit and
# is refused before any other work.  A body under it still gets 413 when its actual
# envelope (escapes, the webhook-id header, the scope) comes out too large.
MAX_WEBHOOK_BODY_BYTES = MAX_INTAKE_MESSAGE_BYTES - len(intake_message(Delivery("", b"", {}), "", 0))
_TOO_LARGE = f"body too large: its intake message would exceed {MAX_INTAKE_MESSAGE_BYTES} bytes"


def accept_delivery(
    delivery: Delivery,
    *,
    lookup_auth: Callable[[str], WebhookAuth | None],
    enqueue: Callable[[str], None],
    refresh_auth: Callable[[str], WebhookAuth | None] | None = None,
    clock: Callable[[], float] = time.time,
) -> Accepted:
    """Check a delivery and enqueue it, or raise :class:`Rejection` having stored nothing.

    ``lookup_auth`` may answer from a cache.  When a delivery fails against the cached
    secrets, ``refresh_auth`` (which must bound how often it really reads) gets a fresh
    copy and the delivery is judged once more: a rotated token or a re-added store's new
    client secret then works at once instead of failing until the cache expires.
    """
    if len(delivery.body) > MAX_WEBHOOK_BODY_BYTES:
        raise Rejection(413, _TOO_LARGE)
    if not is_store_hash(delivery.store_hash):
        raise Rejection(404, "unknown store")
    auth = lookup_auth(delivery.store_hash)
    if auth is None:
        raise Rejection(404, "unknown store")
    authenticated_by = _authenticate(delivery, auth, refresh_auth, clock())
    scope, producer = _peek_envelope(delivery.body)
    if producer != f"stores/{delivery.store_hash}":
        raise Rejection(403, "producer does not match the store in the path")
    message = intake_message(delivery, scope, clock())
    if len(message) > MAX_INTAKE_MESSAGE_BYTES:
        raise Rejection(413, _TOO_LARGE)
    enqueue(message)
    return Accepted(store_hash=delivery.store_hash, scope=scope, authenticated_by=authenticated_by)


def _authenticate(
    delivery: Delivery,
    auth: WebhookAuth,
    refresh_auth: Callable[[str], WebhookAuth | None] | None,
    now: float,
) -> str:
    try:
        return verify_delivery(auth, delivery.body, delivery.headers, now)
    except Unauthenticated as error:
        fresh = refresh_auth(delivery.store_hash) if refresh_auth is not None else None
        if fresh is None or fresh == auth:
            raise Rejection(401, str(error)) from None
    try:
        return verify_delivery(fresh, delivery.body, delivery.headers, now)
    except Unauthenticated as error:
        raise Rejection(401, str(error)) from None


def _peek_envelope(body: bytes) -> tuple[str, str]:
    # Only what the ack path must know: it is a webhook envelope, and whose.  Full
    # validation happens in the processor, off the ack path.
    try:
        parsed: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Rejection(400, "body is not JSON") from None
    if not isinstance(parsed, dict):
        raise Rejection(400, "body is not a webhook object")
    scope, producer, data = parsed.get("scope"), parsed.get("producer"), parsed.get("data")
    if not isinstance(scope, str) or not scope or not isinstance(producer, str) or not isinstance(data, dict):
        raise Rejection(400, "body is not a BigCommerce webhook (scope, producer and data are required)")
    return scope, producer
