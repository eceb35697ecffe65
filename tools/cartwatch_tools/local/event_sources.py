"""Lambda's event source mappings, re-enacted against moto for `cartwatch local` and tests.

The handlers run exactly as in AWS: they receive the same event shapes (SQS batches,
DynamoDB stream batches) and answer with the same partial-batch-failure responses, which
these pollers honour the way Lambda does — failed SQS messages become visible again (and
reach the DLQ after ``maxReceiveCount``), a failed stream record is retried from its
sequence number with everything after it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cartwatch.resources import PENDING_EVENT_ATTRIBUTE

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], dict[str, Any] | None]


class SqsEventSource:
    """Polls a queue in batches and feeds the handler Lambda-shaped SQS events."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        handler: Handler,
        *,
        batch_size: int = 10,
        retry_visibility_seconds: int = 0,
        region: str = "us-east-1",
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._handler = handler
        self._batch_size = batch_size
        self._retry_visibility = retry_visibility_seconds
        self._arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self._region = region

    def poll_once(self, wait_seconds: int = 0) -> int:
        """One receive → invoke → delete cycle; returns how many messages were handled."""
        messages: list[dict[str, Any]] = []
        while len(messages) < self._batch_size:
            batch = self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=min(10, self._batch_size - len(messages)),
                WaitTimeSeconds=wait_seconds if not messages else 0,
                AttributeNames=["All"],
                VisibilityTimeout=30,
            ).get("Messages", [])
            if not batch:
                break
            messages += batch
        if not messages:
            return 0
        event = {"Records": [self._record(m) for m in messages]}
        try:
            response = self._handler(event) or {}
            failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        except Exception:
            # A raised error fails the whole batch, as in Lambda.
            logger.exception("SQS batch failed")
            failed = {m["MessageId"] for m in messages}
        for message in messages:
            if message["MessageId"] in failed:
                self._sqs.change_message_visibility(
                    QueueUrl=self._queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self._retry_visibility,
                )
            else:
                self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def drain(self, max_rounds: int = 100) -> int:
        handled = 0
        for _ in range(max_rounds):
            count = self.poll_once()
            if count == 0:
                return handled
            handled += count
        return handled

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self._arn,
            "awsRegion": self._region,
        }


@dataclass
class _Shard:
    shard_id: str
    iterator: str | None
    pending: list[dict[str, Any]] = field(default_factory=list)


class DynamoDBStreamEventSource:
    """Reads a table's stream and feeds the handler Lambda-shaped DynamoDB stream events.

    Applies the same filter as the stack's event source mapping (records whose new image
    carries a pending event), so the handler sees what it would see in AWS.
    """

    def __init__(self, streams: Any, stream_arn: str, handler: Handler, *, batch_size: int = 100) -> None:
        self._streams = streams
        self._arn = stream_arn
        self._handler = handler
        self._batch_size = batch_size
        self._shards: dict[str, _Shard] = {}
        self._lock = threading.Lock()

    def poll_once(self) -> int:
        with self._lock:
            self._discover_shards()
            handled = 0
            for shard in self._shards.values():
                handled += self._poll_shard(shard)
            return handled

    def drain(self, max_rounds: int = 50) -> int:
        handled = 0
        for _ in range(max_rounds):
            count = self.poll_once()
            if count == 0:
                return handled
            handled += count
        return handled

    def _discover_shards(self) -> None:
        description = self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            shard_id = shard["ShardId"]
            if shard_id not in self._shards:
                iterator = self._streams.get_shard_iterator(
                    StreamArn=self._arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
                self._shards[shard_id] = _Shard(shard_id, iterator)

    def _poll_shard(self, shard: _Shard) -> int:
        if shard.iterator and len(shard.pending) < self._batch_size:
            response = self._streams.get_records(ShardIterator=shard.iterator, Limit=1000)
            shard.iterator = response.get("NextShardIterator")
            shard.pending += [r for r in response.get("Records", []) if _matches_filter(r)]
        if not shard.pending:
            return 0
        batch = shard.pending[: self._batch_size]
        try:
            response = self._handler({"Records": [_lambda_record(r, self._arn) for r in batch]}) or {}
            failures = [f["itemIdentifier"] for f in response.get("batchItemFailures", [])]
        except Exception:
            logger.exception("stream batch failed")
            failures = [batch[0]["dynamodb"]["SequenceNumber"]]
        if failures:
            # Lambda checkpoints before the first failed record and retries from there.
            first = min(failures, key=int)
            index = next(i for i, r in enumerate(batch) if r["dynamodb"]["SequenceNumber"] == first)
            shard.pending = shard.pending[index:]
            return index
        shard.pending = shard.pending[len(batch) :]
        return len(batch)


def _matches_filter(record: dict[str, Any]) -> bool:
    image = record.get("dynamodb", {}).get("NewImage") or {}
    return record.get("eventName") in ("INSERT", "MODIFY") and PENDING_EVENT_ATTRIBUTE in image


def _lambda_record(record: dict[str, Any], arn: str) -> dict[str, Any]:
    return {
        "eventID": record.get("eventID", ""),
        "eventName": record["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion", "us-east-1"),
        "dynamodb": {
            "Keys": record["dynamodb"].get("Keys", {}),
            "NewImage": record["dynamodb"].get("NewImage", {}),
            "SequenceNumber": record["dynamodb"]["SequenceNumber"],
            "SizeBytes": record["dynamodb"].get("SizeBytes", 0),
            "StreamViewType": record["dynamodb"].get("StreamViewType", "NEW_IMAGE"),
        },
        "eventSourceARN": arn,
    }
