"""The local DynamoDB stream poller keeps Lambda's rules for a failing batch.

Retries, bisection, partial batch responses, record age and the on-failure destination,
read from the settings the stack deploys (``cartwatch.resources.PUBLISHER_STREAM``).  The
records here are outbox items written straight into the table, the handler a scripted
stand-in for the publisher: what is under test is the event source mapping.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamLambdaOnFailureDestinationModel
from tests.integration.conftest import Aws

from cartwatch.adapters.cart_table import attributes as attr
from cartwatch.resources import FIGURE_TALLY_STREAM, FIGURE_TALLY_STREAM_FILTER, PUBLISHER_STREAM
from cartwatch_tools.local.event_sources import DynamoDBStreamEventSource

pytestmark = pytest.mark.integration

FUNCTION_ARN = "arn:aws:lambda:us-east-1:000000000000:function:cartwatch-local-publisher"


class Recorder:
    """A publisher stand-in: records every batch it is given and fails the carts it is told to."""

    def __init__(
        self, *, poison: set[str] = frozenset(), partial: bool = False, fail_times: int = 10**6
    ) -> None:
        self.batches: list[list[str]] = []
        self._poison = poison
        self._partial = partial
        self._fail_times = fail_times

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        carts = [r["dynamodb"]["NewImage"]["cart_id"]["S"] for r in event["Records"]]
        self.batches.append(carts)
        failing = [r for r, cart in zip(event["Records"], carts, strict=True) if cart in self._poison]
        if not failing or self._fail_times <= 0:
            return {"batchItemFailures": []}
        self._fail_times -= 1
        if not self._partial:
            raise RuntimeError("SNS refused the batch")
        return {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in failing]}


def write_outbox(aws: Aws, carts: list[str]) -> None:
    dynamodb = aws.client("dynamodb")
    for cart in carts:
        dynamodb.put_item(
            TableName=aws.resources.table_name,
            Item={
                "pk": {"S": f"CART#s1#{cart}"},
                "sk": {"S": "STATE"},
                "cart_id": {"S": cart},
                attr.PENDING_EVENT: {"S": json.dumps({"type": "cartwatch.cart.abandoned", "stage": 1})},
            },
        )


def source(
    aws: Aws, handler: Recorder, failures: list[dict[str, Any]], **settings: Any
) -> DynamoDBStreamEventSource:
    return DynamoDBStreamEventSource(
        aws.client("dynamodbstreams"),
        aws.resources.stream_arn,
        handler,
        settings=replace(PUBLISHER_STREAM, **settings),
        on_failure=failures.append,
        function_arn=FUNCTION_ARN,
    )


def poll_until_quiet(events: DynamoDBStreamEventSource, rounds: int = 200) -> None:
    events.poll_once()
    for _ in range(rounds):
        if not events.pending:
            return
        events.poll_once()
    raise AssertionError("the stream poller never finished")


def stream_records(aws: Aws) -> dict[str, dict[str, Any]]:
    """cart id -> its stream record, as DynamoDB Streams holds it."""
    streams = aws.client("dynamodbstreams")
    shard = streams.describe_stream(StreamArn=aws.resources.stream_arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(
        StreamArn=aws.resources.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    return {r["dynamodb"]["NewImage"]["cart_id"]["S"]: {**r, "shard": shard["ShardId"]} for r in records}


CARTS = [f"c{n}" for n in range(1, 9)]


def test_a_raised_error_bisects_the_batch_until_the_poison_record_is_alone_then_retries_it(aws: Aws) -> None:
    write_outbox(aws, CARTS)
    handler, failures = Recorder(poison={"c3"}), []
    poll_until_quiet(source(aws, handler, failures))

    single_c3 = 1 + PUBLISHER_STREAM.max_retry_attempts  # first attempt + every retry
    assert handler.batches == [
        CARTS,  # raises: split in two, at no retry cost
        ["c1", "c2", "c3", "c4"],  # raises: split again
        ["c1", "c2"],
        ["c3", "c4"],  # raises: split again
        *[["c3"]] * single_c3,  # alone, and still failing: retried, then given up
        ["c4"],
        ["c5", "c6", "c7", "c8"],
    ]
    [discarded] = failures
    record = stream_records(aws)["c3"]
    info = discarded["DDBStreamBatchInfo"]
    assert info["shardId"] == record["shard"]
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == record["dynamodb"]["SequenceNumber"]
    assert info["batchSize"] == 1
    assert info["streamArn"] == aws.resources.stream_arn
    assert discarded["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert discarded["requestContext"]["approximateInvokeCount"] == single_c3
    assert discarded["requestContext"]["functionArn"] == FUNCTION_ARN
    assert discarded["responseContext"]["functionError"] == "Unhandled"


def test_the_on_failure_record_has_lambdas_shape_and_never_the_record_itself(aws: Aws) -> None:
    write_outbox(aws, ["c1"])
    failures: list[dict[str, Any]] = []
    poll_until_quiet(source(aws, Recorder(poison={"c1"}), failures))
    [discarded] = failures
    parsed = DynamoDBStreamLambdaOnFailureDestinationModel.model_validate(discarded)
    assert parsed.ddb_stream_batch_info.batch_size == 1
    assert parsed.version == "1.0"
    text = json.dumps(discarded)
    assert "NewImage" not in text and "Records" not in text and attr.PENDING_EVENT not in text


def test_a_partial_batch_response_checkpoints_before_the_first_failure_and_retries_the_rest(aws: Aws) -> None:
    write_outbox(aws, CARTS[:5])
    handler, failures = Recorder(poison={"c3"}, partial=True, fail_times=2), []
    poll_until_quiet(source(aws, handler, failures))
    assert handler.batches == [CARTS[:5], ["c3", "c4", "c5"], ["c3", "c4", "c5"]]
    assert failures == []


def test_a_partial_failure_that_never_clears_discards_the_rest_of_the_batch_with_it(aws: Aws) -> None:
    # What AWS does too: records after the failing one in its batch share its fate.
    write_outbox(aws, CARTS[:5])
    handler, failures = Recorder(poison={"c3"}, partial=True), []
    poll_until_quiet(source(aws, handler, failures))
    # c1 and c2 are checkpointed ("bisected at the returned sequence number"), then the
    # rest is a batch of its own: a first attempt and every retry.
    assert handler.batches == [CARTS[:5], *[["c3", "c4", "c5"]] * (1 + PUBLISHER_STREAM.max_retry_attempts)]
    [discarded] = failures
    records = stream_records(aws)
    info = discarded["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        records["c3"]["dynamodb"]["SequenceNumber"],
        records["c5"]["dynamodb"]["SequenceNumber"],
        3,
    )
    assert "functionError" not in discarded["responseContext"]  # the function answered normally


def test_without_bisection_a_partial_failure_is_a_retry_like_any_other(aws: Aws) -> None:
    write_outbox(aws, CARTS[:5])
    handler, failures = Recorder(poison={"c3"}, partial=True), []
    poll_until_quiet(source(aws, handler, failures, bisect_batch_on_error=False, max_retry_attempts=2))
    assert handler.batches == [CARTS[:5], ["c3", "c4", "c5"], ["c3", "c4", "c5"]]
    assert [f["DDBStreamBatchInfo"]["batchSize"] for f in failures] == [3]
    assert failures[0]["requestContext"]["approximateInvokeCount"] == 3


def test_without_bisection_a_raised_error_retries_the_whole_batch(aws: Aws) -> None:
    write_outbox(aws, CARTS[:4])
    handler, failures = Recorder(poison={"c2"}), []
    poll_until_quiet(source(aws, handler, failures, bisect_batch_on_error=False, max_retry_attempts=2))
    assert handler.batches == [CARTS[:4]] * 3
    assert [f["DDBStreamBatchInfo"]["batchSize"] for f in failures] == [4]


@pytest.mark.parametrize("age", [30, 61])
def test_records_older_than_the_maximum_age_are_discarded_without_an_invocation(aws: Aws, age: int) -> None:
    write_outbox(aws, CARTS[:3])
    created = stream_records(aws)["c1"]["dynamodb"]["ApproximateCreationDateTime"].timestamp()
    handler, failures = Recorder(), []
    events = DynamoDBStreamEventSource(
        aws.client("dynamodbstreams"),
        aws.resources.stream_arn,
        handler,
        settings=replace(PUBLISHER_STREAM, max_record_age_seconds=60),
        on_failure=failures.append,
        clock=lambda: created + age,
    )
    poll_until_quiet(events)
    if age <= 60:
        assert handler.batches == [CARTS[:3]] and failures == []
        return
    assert handler.batches == []
    [discarded] = failures
    assert discarded["requestContext"]["condition"] == "RecordAgeExceeded"
    assert discarded["DDBStreamBatchInfo"]["batchSize"] == 3


class WindowRecorder:
    """A tally stand-in: counts the records of a window in its state; fails its first ends."""

    def __init__(self, *, failing_ends: int = 0) -> None:
        self.invocations: list[dict[str, Any]] = []
        self.ended: list[int] = []
        self._failing_ends = failing_ends

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        self.invocations.append(event)
        seen = int(event["state"].get("seen", 0)) + len(event["Records"])
        if not event["isFinalInvokeForWindow"]:
            return {"state": {"seen": seen}}
        if self._failing_ends > 0:
            self._failing_ends -= 1
            raise RuntimeError("DynamoDB throttled the window's end")
        self.ended.append(seen)
        return {"state": {}}


def windowed(aws: Aws, handler: WindowRecorder, clock: Any = None) -> DynamoDBStreamEventSource:
    return DynamoDBStreamEventSource(
        aws.client("dynamodbstreams"),
        aws.resources.stream_arn,
        handler,
        settings=FIGURE_TALLY_STREAM,
        filter_pattern=FIGURE_TALLY_STREAM_FILTER,
        window_seconds=3600,
        **({"clock": clock} if clock else {}),
    )


def test_a_tumbling_window_passes_its_state_along_and_ends_with_a_final_invocation(aws: Aws) -> None:
    write_outbox(aws, [f"c{n}" for n in range(5)])
    aws.client("dynamodb").put_item(  # not a cart: the tally's filter leaves it out
        TableName=aws.resources.table_name, Item={"pk": {"S": "STATS#s1"}, "sk": {"S": "DAY#2027-01-15"}}
    )
    recorder = WindowRecorder()
    events = windowed(aws, recorder)
    events.drain()
    # The window is not over yet (an hour long): its records are handed over, its end waits.
    assert recorder.ended == []
    assert sum(len(e["Records"]) for e in recorder.invocations) == 5
    first = recorder.invocations[0]
    assert first["shardId"] and first["eventSourceARN"] == aws.resources.stream_arn
    assert first["window"]["start"] < first["window"]["end"]
    assert all(
        r["dynamodb"]["Keys"]["sk"]["S"] == "STATE" for e in recorder.invocations for r in e["Records"]
    )
    events.close_windows()
    events.drain()
    assert recorder.ended == [5]
    final = recorder.invocations[-1]
    assert final["isFinalInvokeForWindow"] and final["Records"] == [] and final["state"] == {"seen": 5}
    # The next window starts afresh.
    write_outbox(aws, ["c9"])
    events.close_windows()
    events.drain()
    assert recorder.ended == [5, 1]


def test_a_failing_window_end_is_retried_with_the_same_state_until_it_succeeds(aws: Aws) -> None:
    write_outbox(aws, ["a", "b"])
    recorder = WindowRecorder(failing_ends=3)
    events = windowed(aws, recorder)
    events.close_windows()
    for _ in range(6):  # as the mapping keeps invoking (a failed end moves nothing on)
        events.poll_once()
    ends = [e for e in recorder.invocations if e["isFinalInvokeForWindow"]]
    assert len(ends) == 4 and all(e["state"] == {"seen": 2} for e in ends)
    assert recorder.ended == [2]


def test_a_window_ends_when_its_time_is_up(aws: Aws) -> None:
    write_outbox(aws, ["a"])
    now = [0.0]
    recorder = WindowRecorder()
    events = windowed(aws, recorder, clock=lambda: now[0])
    events.drain()
    assert recorder.ended == []
    now[0] = 4e9  # long after the window's end
    events.drain()
    assert recorder.ended == [1]
