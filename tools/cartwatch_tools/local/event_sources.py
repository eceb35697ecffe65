"""Lambda's event source mappings, re-enacted against moto for `cartwatch local` and tests.

The handlers run exactly as in AWS: they receive the same event shapes (SQS batches,
DynamoDB stream batches) and answer with the same partial-batch-failure responses, which
these pollers honour the way Lambda does — failed SQS messages become visible again (and
reach the DLQ after ``maxReceiveCount``); a failed stream batch is retried, bisected and
finally discarded to its on-failure destination by the mapping's settings.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cartwatch.resources import PUBLISHER_STREAM, PUBLISHER_STREAM_FILTER, StreamSourceDefinition

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], dict[str, Any] | None]
# Lambda's limit on a tumbling window's state, per shard.
_WINDOW_STATE_MAX_BYTES = 1024 * 1024


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
        done = [m for m in messages if m["MessageId"] not in failed]
        retried = [m for m in messages if m["MessageId"] in failed]
        # In batches of ten, as Lambda's poller does (one call per message would cost the
        # emulator more than the batch's own work).
        for start in range(0, len(done), 10):
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                    for n, m in enumerate(done[start : start + 10])
                ],
            )
        for start in range(0, len(retried), 10):
            self._sqs.change_message_visibility_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {
                        "Id": str(n),
                        "ReceiptHandle": m["ReceiptHandle"],
                        "VisibilityTimeout": self._retry_visibility,
                    }
                    for n, m in enumerate(retried[start : start + 10])
                ],
            )
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
    # Records that passed the filter and are not checkpointed yet, in stream order.
    pending: list[dict[str, Any]] = field(default_factory=list)
    # Sizes of the batches still to invoke before a fresh batch is read: a failed batch
    # is bisected into its halves here.  Empty: the next batch is a fresh one.
    batches: list[int] = field(default_factory=list)
    # Retries already spent on the head batch, and invocations of it so far.
    retries: int = 0
    invocations: int = 0
    # A tumbling window: when the open one started (None: none open) and its state.
    window_start: int | None = None
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Outcome:
    failed_from: int | None  # index of the first record to retry; None: all succeeded
    function_error: bool  # the invocation raised (or answered a malformed failure list)


class DynamoDBStreamEventSource:
    """Reads a table's stream and feeds the handler Lambda-shaped DynamoDB stream events.

    Applies the same filter as the stack's event source mapping (by default the publisher's:
    records whose new image carries a pending event), and the mapping's error handling as AWS
    Lambda documents it, from the settings the stack deploys (by default
    ``cartwatch.resources.PUBLISHER_STREAM``):

    * a shard is processed in order, one batch at a time; a failing batch blocks its shard;
    * partial batch responses (``ReportBatchItemFailures``): the records before the lowest
      reported sequence number are checkpointed and the rest is retried;
    * ``BisectBatchOnFunctionError``: a batch whose invocation *raised* is split in two and
      each half is retried on its own; splitting costs no retry;
    * ``MaximumRetryAttempts``: a batch that cannot be split any further (or no progress was
      made) is retried this many times, then discarded;
    * ``MaximumRecordAgeInSeconds``: records older than that are discarded unprocessed;
    * discarded records are skipped — the shard moves on — and the on-failure destination
      receives what Lambda sends: the batch's stream coordinates (shard, sequence number
      range, size, arrival times) and the request context, never the records themselves;
    * ``TumblingWindowInSeconds``: records are grouped in windows aligned on their arrival
      time; each invocation gets the window (``window``), the state the previous one
      answered (an answer without ``state`` is a failure), ``shardId`` and
      ``eventSourceARN``; once the window is over, one last invocation with no records and
      ``isFinalInvokeForWindow`` — retried like any batch — ends it.  A window is over when
      the clock passes its end, a later window's records are waiting, or
      :meth:`close_windows` says so (tests and ``drain`` in `cartwatch local`); a state
      over 1 MB ends it early (``isWindowTerminatedEarly``).

    One ``poll_once`` is one invocation per shard (retries happen on later polls), so tests
    and ``cartwatch local`` can watch every step.
    """

    def __init__(
        self,
        streams: Any,
        stream_arn: str,
        handler: Handler,
        *,
        settings: StreamSourceDefinition = PUBLISHER_STREAM,
        filter_pattern: dict[str, Any] = PUBLISHER_STREAM_FILTER,
        window_seconds: int | None = None,
        on_failure: Callable[[dict[str, Any]], None] | None = None,
        function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:cartwatch-local-publisher",
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``window_seconds``: the tumbling window's length, when shorter than the mapping's
        (`cartwatch local` shows its figures within seconds, not a quarter of an hour)."""
        self._streams = streams
        self._arn = stream_arn
        self._handler = handler
        self._settings = settings
        self._filter = filter_pattern
        self._window = window_seconds or settings.tumbling_window_seconds
        self._close_windows = False
        self._on_failure = on_failure
        self._function_arn = function_arn
        self._clock = clock
        self._shards: dict[str, _Shard] = {}
        self._lock = threading.Lock()
        self.invocations = 0

    def poll_once(self) -> int:
        """Read new records and invoke once per shard; returns how many records were checkpointed
        (a window's last invocation counts as one)."""
        with self._lock:
            self._discover_shards()
            poll = self._poll_window if self._window else self._poll_shard
            moved = sum(poll(shard) for shard in self._shards.values())
            if self._close_windows and all(shard.window_start is None for shard in self._shards.values()):
                self._close_windows = False  # every window asked to end has ended
            return moved

    def close_windows(self) -> None:
        """Let every open tumbling window end on the next polls, as if its time were up."""
        with self._lock:
            self._close_windows = True

    def drain(self, max_rounds: int = 50) -> int:
        handled = 0
        for _ in range(max_rounds):
            count = self.poll_once()
            if count == 0:
                return handled
            handled += count
        return handled

    @property
    def pending(self) -> int:
        """Records read and not yet checkpointed (being retried, or waiting behind those)."""
        with self._lock:
            return sum(len(shard.pending) for shard in self._shards.values())

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
        if shard.iterator and len(shard.pending) < self._settings.batch_size:
            response = self._streams.get_records(ShardIterator=shard.iterator, Limit=1000)
            shard.iterator = response.get("NextShardIterator")
            shard.pending += [r for r in response.get("Records", []) if matches(self._filter, r)]
        if not shard.pending:
            return 0
        if not shard.batches:
            shard.batches = [min(self._settings.batch_size, len(shard.pending))]
        expired = self._expired(shard.pending[: shard.batches[0]])
        if expired:
            self._discard(shard, expired, "RecordAgeExceeded", None)
            return expired
        batch = shard.pending[: shard.batches[0]]
        shard.invocations += 1
        self.invocations += 1
        outcome = self._invoke(batch)
        if outcome.failed_from is None:
            self._checkpoint(shard, len(batch))
            return len(batch)
        done = outcome.failed_from
        bisect = self._settings.bisect_batch_on_error
        if done and bisect:
            # "Bisected at the returned sequence number": the records before it are
            # checkpointed and the rest is retried as a batch of its own, at no retry cost.
            self._checkpoint(shard, done)
            return done
        remaining = len(batch) - done
        if outcome.function_error and bisect and remaining > 1:
            half = remaining // 2
            shard.batches[0:1] = [half, remaining - half]
            shard.retries, shard.invocations = 0, 0
            return 0
        # A retry of this batch (what succeeded of it is checkpointed all the same).
        retries, invocations = shard.retries, shard.invocations
        if done:
            self._checkpoint(shard, done)
            shard.retries, shard.invocations = retries, invocations
        if 0 <= self._settings.max_retry_attempts <= retries:
            self._discard(shard, remaining, "RetryAttemptsExhausted", outcome)
            return done + remaining
        shard.retries = retries + 1
        return done

    def _poll_window(self, shard: _Shard) -> int:
        """One invocation of a tumbling window: a batch of the open window's records, or its end."""
        window = self._window or 0
        if shard.iterator and len(shard.pending) < self._settings.batch_size:
            response = self._streams.get_records(ShardIterator=shard.iterator, Limit=1000)
            shard.iterator = response.get("NextShardIterator")
            shard.pending += [r for r in response.get("Records", []) if matches(self._filter, r)]
        if shard.window_start is None:
            if not shard.pending:
                return 0
            shard.window_start = int(_created_at(shard.pending[0])) // window * window
        end = shard.window_start + window
        head = shard.pending[: self._settings.batch_size]
        batch = head[: next((i for i, r in enumerate(head) if _created_at(r) >= end), len(head))]
        early = len(json.dumps(shard.state)) > _WINDOW_STATE_MAX_BYTES
        if batch and not early:
            return len(batch) if self._invoke_window(shard, batch, final=False) else 0
        over = early or self._close_windows or self._clock() >= end or bool(shard.pending)
        if not over:
            return 0
        if self._invoke_window(shard, [], final=True, early=early):
            shard.window_start, shard.state = None, {}
            return 1
        return 0

    def _invoke_window(
        self, shard: _Shard, batch: list[dict[str, Any]], *, final: bool, early: bool = False
    ) -> bool:
        start = shard.window_start or 0
        event = {
            "Records": [_lambda_record(r, self._arn) for r in batch],
            "window": {"start": _iso(start), "end": _iso(start + (self._window or 0))},
            "state": shard.state,
            "shardId": shard.shard_id,
            "eventSourceARN": self._arn,
            "isFinalInvokeForWindow": final,
            "isWindowTerminatedEarly": early,
        }
        shard.invocations += 1
        self.invocations += 1
        try:
            state = (self._handler(event) or {}).get("state")
        except Exception:
            logger.exception("stream window invocation failed")
            state = None
        if not isinstance(state, dict):
            # Raised, or answered without a state (Lambda's rule): the same invocation again.
            if 0 <= self._settings.max_retry_attempts <= shard.retries:
                # Given up: the batch's records (or the window's end, and its state) are dropped.
                if batch and self._on_failure is not None:
                    outcome = _Outcome(0, function_error=True)
                    self._on_failure(self._invocation_record(shard, batch, "RetryAttemptsExhausted", outcome))
                shard.pending = shard.pending[len(batch) :]
                if not batch:
                    shard.window_start, shard.state = None, {}
                shard.retries, shard.invocations = 0, 0
                return False
            shard.retries += 1
            return False
        shard.state = state
        if batch:
            shard.pending = shard.pending[len(batch) :]
        shard.retries, shard.invocations = 0, 0
        return True

    def _invoke(self, batch: list[dict[str, Any]]) -> _Outcome:
        event = {"Records": [_lambda_record(r, self._arn) for r in batch]}
        try:
            response = self._handler(event) or {}
        except Exception:
            logger.exception("stream batch failed")
            return _Outcome(0, function_error=True)
        if not self._settings.report_batch_item_failures:
            return _Outcome(None, function_error=False)
        positions = {r["dynamodb"]["SequenceNumber"]: i for i, r in enumerate(batch)}
        failures = response.get("batchItemFailures") or []
        try:
            failed = [positions[f["itemIdentifier"]] for f in failures]
        except (KeyError, TypeError):
            # An empty, null or unknown identifier fails the whole batch (Lambda's rule).
            return _Outcome(0, function_error=True)
        return _Outcome(min(failed), function_error=False) if failed else _Outcome(None, function_error=False)

    def _checkpoint(self, shard: _Shard, count: int) -> None:
        shard.pending = shard.pending[count:]
        head = shard.batches.pop(0) - count
        if head > 0:
            shard.batches.insert(0, head)
        shard.retries, shard.invocations = 0, 0

    def _expired(self, batch: list[dict[str, Any]]) -> int:
        """How many leading records of the batch are older than the mapping's maximum age."""
        limit = self._settings.max_record_age_seconds
        if limit is None:
            return 0
        now = self._clock()
        return next((i for i, r in enumerate(batch) if now - _created_at(r) <= limit), len(batch))

    def _discard(self, shard: _Shard, count: int, condition: str, outcome: _Outcome | None) -> None:
        records = shard.pending[:count]
        logger.warning(
            "stream records discarded (%s): %s..%s",
            condition,
            records[0]["dynamodb"]["SequenceNumber"],
            records[-1]["dynamodb"]["SequenceNumber"],
        )
        if self._on_failure is not None:
            self._on_failure(self._invocation_record(shard, records, condition, outcome))
        self._checkpoint(shard, count)

    def _invocation_record(
        self, shard: _Shard, records: list[dict[str, Any]], condition: str, outcome: _Outcome | None
    ) -> dict[str, Any]:
        """What Lambda sends an on-failure destination for a discarded stream batch."""
        response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if outcome is not None and outcome.function_error:
            response["functionError"] = "Unhandled"
        return {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self._function_arn,
                "condition": condition,
                "approximateInvokeCount": shard.invocations,
            },
            "responseContext": response,
            "version": "1.0",
            "timestamp": _iso(self._clock(), milliseconds=True),
            "DDBStreamBatchInfo": {
                "shardId": shard.shard_id,
                "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(_created_at(records[0])),
                "approximateArrivalOfLastRecord": _iso(_created_at(records[-1])),
                "batchSize": len(records),
                "streamArn": self._arn,
            },
        }


def _created_at(record: dict[str, Any]) -> float:
    created = record["dynamodb"].get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        return created.timestamp()
    return float(created) if created is not None else 0.0


def _iso(epoch: float, *, milliseconds: bool = False) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.isoformat(timespec="milliseconds" if milliseconds else "seconds").replace("+00:00", "Z")


def matches(pattern: Any, value: Any) -> bool:
    """Whether a stream record matches a Lambda filter pattern (the subset cartwatch uses: exact
    values and ``{"exists": bool}`` in lists, nested objects)."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        return all(
            _matches_values(expected, value.get(key), key in value)
            if isinstance(expected, list)
            else matches(expected, value.get(key))
            for key, expected in pattern.items()
        )
    return bool(pattern == value)


def _matches_values(expected: list[Any], value: Any, present: bool) -> bool:
    for option in expected:
        if isinstance(option, dict) and "exists" in option:
            if bool(option["exists"]) == present:
                return True
        elif present and option == value:
            return True
    return False


def _lambda_record(record: dict[str, Any], arn: str) -> dict[str, Any]:
    return {
        "eventID": record.get("eventID", ""),
        "eventName": record["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion", "us-east-1"),
        "dynamodb": {
            "ApproximateCreationDateTime": int(_created_at(record)),
            "Keys": record["dynamodb"].get("Keys", {}),
            **{
                name: record["dynamodb"][name]
                for name in ("NewImage", "OldImage")
                if name in record["dynamodb"]
            },
            "SequenceNumber": record["dynamodb"]["SequenceNumber"],
            "SizeBytes": record["dynamodb"].get("SizeBytes", 0),
            "StreamViewType": record["dynamodb"].get("StreamViewType", "NEW_AND_OLD_IMAGES"),
        },
        "eventSourceARN": arn,
    }
