"""Helpers shared by the test tiers (fixtures live in conftest.py)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from standardwebhooks.webhooks import Webhook

FIXTURES = Path(__file__).parent / "fixtures"


def webhook_fixture(name: str, **changes: Any) -> dict[str, Any]:
    """A documented BigCommerce webhook body, optionally with fields changed."""
    body: dict[str, Any] = json.loads((FIXTURES / "webhooks" / f"{name}.json").read_text())
    body.update(changes)
    return body


def unique_name(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def cart_webhook(store_hash: str, scope: str, cart_id: str, created_at: int, **data: Any) -> dict[str, Any]:
    """A cart webhook body shaped like BigCommerce's (store-wide scopes)."""
    if scope.startswith("store/cart/lineItem/"):
        payload = {"type": "cart_line_item", "id": data.pop("item_id", "item-1"), "cartId": cart_id}
    else:
        payload = {"type": "cart", "id": cart_id}
    payload.update(data)
    return {
        "scope": scope,
        "store_id": "1025646",
        "data": payload,
        "hash": uuid.uuid4().hex[:40],
        "created_at": created_at,
        "producer": f"stores/{store_hash}",
    }


def signed_headers(
    client_secret: str, body: bytes, *, msg_id: str | None = None, timestamp: float | None = None
) -> dict[str, str]:
    """Standard Webhooks headers as BigCommerce sends them (key = base64 of the client secret)."""
    key = base64.b64encode(client_secret.encode()).decode()
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    when = datetime.fromtimestamp(time.time() if timestamp is None else timestamp, tz=UTC)
    signature = Webhook(key).sign(msg_id, when, body.decode())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


def http_api_event(store_hash: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event for POST /webhooks/bigcommerce/{store_hash}.

    Like API Gateway, a body that is not UTF-8 text arrives base64-encoded.
    """
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    return {
        "version": "2.0",
        "routeKey": "POST /webhooks/bigcommerce/{store_hash}",
        "rawPath": f"/webhooks/bigcommerce/{store_hash}",
        "headers": headers,
        "pathParameters": {"store_hash": store_hash},
        "requestContext": {"http": {"method": "POST", "path": f"/webhooks/bigcommerce/{store_hash}"}},
        "body": text,
        "isBase64Encoded": encoded,
    }


def sqs_event(*bodies: str) -> dict[str, Any]:
    """An SQS event as Lambda's event source mapping hands a batch of intake messages over."""
    return {
        "Records": [
            {
                "messageId": f"m{i}",
                "receiptHandle": f"r{i}",
                "body": body,
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:intake",
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


class FakeLambdaContext:
    """The attributes Powertools reads from a Lambda context."""

    function_name = "cartwatch-test"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:cartwatch-test"
    aws_request_id = "req-1"

    def __init__(self, remaining_ms: int = 60_000) -> None:
        self._remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining_ms


def carts_per_shard(shards: int, per_shard: int, prefix: str = "c") -> list[str]:
    """Cart ids, ``per_shard`` of them in each of the due index's ``shards`` shards, in the
    order they were found (so each shard's carts interleave with the others')."""
    from cartwatch.domain.cart_record import due_shard

    found: list[str] = []
    counts: dict[str, int] = {}
    n = 0
    while len(found) < shards * per_shard:
        cart_id = f"{prefix}{n}"
        shard = due_shard(cart_id, shards)
        if counts.get(shard, 0) < per_shard:
            counts[shard] = counts.get(shard, 0) + 1
            found.append(cart_id)
        n += 1
    return found


def emf_metrics(stdout: str) -> list[dict[str, Any]]:
    """Every metric in the EMF lines the handler printed: name, value, dimensions."""
    found = []
    for line in stdout.splitlines():
        if not line.startswith("{") or "_aws" not in line:
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            dimensions = {d: blob[d] for group in directive["Dimensions"] for d in group}
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                # One data point is a number; several recorded together are a list.
                total = sum(value) if isinstance(value, list) else value
                found.append({"name": metric["Name"], "value": total, "dimensions": dimensions})
    return found


def subscribed_queue(sqs: Any, sns: Any, topic_arn: str, event_types: Sequence[str] = ()) -> str:
    """A consumer's SQS queue on the topic (raw delivery), filtered on ``type`` when given."""
    url = sqs.create_queue(QueueName=unique_name("consumer"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attributes = {"RawMessageDelivery": "true"}
    if event_types:
        attributes["FilterPolicy"] = json.dumps({"type": list(event_types)})
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes=attributes)
    return str(url)
