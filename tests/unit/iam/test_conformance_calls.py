"""What IAM evaluates for a botocore call (cartwatch_tools.iam.calls), and how calls are recorded."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from tests.iam_conformance import an_environment, recorded_calls

from cartwatch.service.intake import Rejection
from cartwatch_tools.iam.calls import UNKNOWN, IamRequest, UnmappedCall, Where, iam_requests
from cartwatch_tools.iam.recording import RecordedCall, acting_as, read_call_log

HERE = Where("us-east-1", "123456789012")
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/carts"
DEPLOYMENT = an_environment("eu-west-1", "/test")


def key(pk: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": pk}, "sk": {"S": "STATE"}}


def test_conformance_item_operations_carry_their_partition_key() -> None:
    [put] = iam_requests("dynamodb", "PutItem", {"TableName": "carts", "Item": key("CART#s#c")}, HERE)
    assert put == IamRequest("dynamodb:PutItem", TABLE, {"dynamodb:LeadingKeys": ("CART#s#c",)})
    [update] = iam_requests("dynamodb", "UpdateItem", {"TableName": TABLE, "Key": key("STORE")}, HERE)
    assert update.resource == TABLE and update.context == {"dynamodb:LeadingKeys": ("STORE",)}


def test_conformance_batches_are_one_request_per_table() -> None:
    reads = iam_requests(
        "dynamodb",
        "BatchGetItem",
        {
            "RequestItems": {
                "carts": {"Keys": [key("CART#a#1"), key("CART#a#2")]},
                "other": {"Keys": [key("X")]},
            }
        },
        HERE,
    )
    assert [(r.action, r.resource.rsplit("/", 1)[1], r.context["dynamodb:LeadingKeys"]) for r in reads] == [
        ("dynamodb:BatchGetItem", "carts", ("CART#a#1", "CART#a#2")),
        ("dynamodb:BatchGetItem", "other", ("X",)),
    ]
    [writes] = iam_requests(
        "dynamodb",
        "BatchWriteItem",
        {
            "RequestItems": {
                "carts": [{"DeleteRequest": {"Key": key("CART#a#1")}}, {"PutRequest": {"Item": key("S")}}]
            }
        },
        HERE,
    )
    assert writes.context == {"dynamodb:LeadingKeys": ("CART#a#1", "S")}
    transaction = iam_requests(
        "dynamodb",
        "TransactWriteItems",
        {
            "TransactItems": [
                {"ConditionCheck": {"TableName": "carts", "Key": key("A")}},
                {"Put": {"TableName": "carts", "Item": key("B")}},
            ]
        },
        HERE,
    )
    assert [r.action for r in transaction] == ["dynamodb:ConditionCheckItem", "dynamodb:PutItem"]


def test_conformance_queries_of_an_index_are_authorized_on_the_index() -> None:
    [table_query] = iam_requests(
        "dynamodb",
        "Query",
        {
            "TableName": "carts",
            "KeyConditionExpression": "#p = :p AND begins_with(sk, :s)",
            "ExpressionAttributeNames": {"#p": "pk"},
            "ExpressionAttributeValues": {":p": {"S": "STORE"}, ":s": {"S": "a"}},
        },
        HERE,
    )
    assert table_query == IamRequest("dynamodb:Query", TABLE, {"dynamodb:LeadingKeys": ("STORE",)})
    [index_query] = iam_requests(
        "dynamodb",
        "Query",
        {"TableName": "carts", "IndexName": "due", "KeyConditionExpression": "x = :x"},
        HERE,
    )
    assert index_query == IamRequest(
        "dynamodb:Query", f"{TABLE}/index/due", {"dynamodb:LeadingKeys": UNKNOWN}
    )
    [scan] = iam_requests("dynamodb", "Scan", {"TableName": "carts"}, HERE)
    assert scan == IamRequest("dynamodb:Scan", TABLE)  # a scan names no key


def test_conformance_batch_and_renamed_actions() -> None:
    queue = "http://127.0.0.1:5000/123456789012/intake"
    [delete] = iam_requests("sqs", "DeleteMessageBatch", {"QueueUrl": queue, "Entries": []}, HERE)
    assert delete == IamRequest("sqs:DeleteMessage", "arn:aws:sqs:us-east-1:123456789012:intake")
    topic = "arn:aws:sns:us-east-1:123456789012:events"
    assert iam_requests("sns", "PublishBatch", {"TopicArn": topic}, HERE) == [
        IamRequest("sns:Publish", topic)
    ]
    names = ["/cw/stores/a/api", "/cw/stores/a/webhook-auth"]
    assert [r.resource for r in iam_requests("ssm", "DeleteParameters", {"Names": names}, HERE)] == [
        "arn:aws:ssm:us-east-1:123456789012:parameter/cw/stores/a/api",
        "arn:aws:ssm:us-east-1:123456789012:parameter/cw/stores/a/webhook-auth",
    ]
    assert iam_requests("dynamodb-streams", "ListStreams", {}, HERE) == [
        IamRequest("dynamodb:ListStreams", "*")
    ]


def test_conformance_s3_objects_and_listings_are_authorized_as_iam_names_them() -> None:
    bucket = "arn:aws:s3:::archive"  # no region, no account: bucket names are global
    put = {"Bucket": "archive", "Key": "events/s1/2026/12/07/04/a.json.gz", "Body": b"x"}
    assert iam_requests("s3", "PutObject", put, HERE) == [
        IamRequest("s3:PutObject", f"{bucket}/events/s1/2026/12/07/04/a.json.gz")
    ]
    [head] = iam_requests("s3", "HeadObject", {"Bucket": "archive", "Key": "events/k"}, HERE)
    assert head == IamRequest("s3:GetObject", f"{bucket}/events/k")
    # A listing is s3:ListBucket on the bucket itself, with the prefix it lists under.
    listing = {"Bucket": "archive", "Prefix": "events/s1/"}
    assert iam_requests("s3", "ListObjectsV2", listing, HERE) == [
        IamRequest("s3:ListBucket", bucket, {"s3:prefix": ("events/s1/",)})
    ]
    delete = {"Bucket": "archive", "Delete": {"Objects": [{"Key": "a"}, {"Key": "b"}]}}
    assert [r.resource for r in iam_requests("s3", "DeleteObjects", delete, HERE)] == [
        f"{bucket}/a",
        f"{bucket}/b",
    ]


def test_conformance_what_cannot_be_translated_says_so() -> None:
    with pytest.raises(UnmappedCall, match="service 'lambda'"):
        iam_requests("lambda", "Invoke", {"FunctionName": "f"}, HERE)
    with pytest.raises(UnmappedCall, match=r"s3\.PutBucketPolicy"):
        iam_requests("s3", "PutBucketPolicy", {"Bucket": "b", "Policy": "{}"}, HERE)
    with pytest.raises(UnmappedCall, match="customer managed key"):
        iam_requests("ssm", "PutParameter", {"Name": "/x", "KeyId": "alias/mine"}, HERE)
    with pytest.raises(UnmappedCall, match="shard iterator"):
        iam_requests("dynamodb-streams", "GetRecords", {"ShardIterator": "never-seen"}, HERE)


def test_conformance_calls_are_recorded_for_the_function_named_and_without_data() -> None:
    client = boto3.client("dynamodb", region_name="eu-west-1")
    with recorded_calls(checked_at_teardown=False) as calls, Stubber(client) as stub:
        stub.add_response("get_item", {})
        stub.add_response("put_item", {})
        client.get_item(TableName="carts", Key=key("STORE"))  # not a function's call: not recorded
        with acting_as("publisher", DEPLOYMENT):
            client.put_item(TableName="carts", Item={**key("CART#s#c"), "email": {"S": "ada@example.com"}})
    [call] = calls
    assert (call.function, call.deployment, call.problem) == ("publisher", DEPLOYMENT, "")
    assert call.requests == (
        IamRequest(
            "dynamodb:PutItem",
            "arn:aws:dynamodb:eu-west-1:123456789012:table/carts",
            {"dynamodb:LeadingKeys": ("CART#s#c",)},
        ),
    )
    assert "ada@example.com" not in json.dumps(call.to_json())  # keys only, never item data


def test_conformance_stream_reads_are_followed_from_iterator_to_iterator() -> None:
    streams = boto3.client("dynamodbstreams", region_name="eu-west-1")
    with recorded_calls(checked_at_teardown=False) as calls, Stubber(streams) as stub:
        stub.add_response("get_shard_iterator", {"ShardIterator": "iterator-0000000001"})
        stub.add_client_error("get_records", "LimitExceededException")
        stub.add_response("get_records", {"Records": [], "NextShardIterator": "iterator-0000000002"})
        stub.add_response("get_records", {"Records": []})
        with acting_as("publisher", DEPLOYMENT):
            streams.get_shard_iterator(
                StreamArn=DEPLOYMENT.stream_arn,
                ShardId="shardId-00000001700000000000-0000abcd",
                ShardIteratorType="TRIM_HORIZON",
            )
            with pytest.raises(streams.exceptions.LimitExceededException):
                streams.get_records(ShardIterator="iterator-0000000001")
            streams.get_records(ShardIterator="iterator-0000000001")  # the poller tries it again
            streams.get_records(ShardIterator="iterator-0000000002")
    assert [(c.requests[0].action, c.requests[0].resource) for c in calls] == [
        ("dynamodb:GetShardIterator", DEPLOYMENT.stream_arn),
        ("dynamodb:GetRecords", DEPLOYMENT.stream_arn),
        ("dynamodb:GetRecords", DEPLOYMENT.stream_arn),
        ("dynamodb:GetRecords", DEPLOYMENT.stream_arn),
    ]


def test_conformance_call_logs_round_trip(tmp_path: Path) -> None:
    call = RecordedCall(
        "receiver",
        DEPLOYMENT,
        "sqs.SendMessage(QueueUrl='…')",
        (IamRequest("dynamodb:Query", TABLE, {"dynamodb:LeadingKeys": UNKNOWN}),),
    )
    unnamed = RecordedCall(None, None, "dynamodb.GetItem()", problem="outside any function")
    log = tmp_path / "calls.jsonl"
    log.write_text("".join(json.dumps(c.to_json()) + "\n" for c in (call, unnamed)))
    calls, offset = read_call_log(log)
    assert calls == [call, unnamed]
    assert read_call_log(tmp_path / "never-written.jsonl") == ([], 0)

    # A process still writing: a read takes the complete lines, the next one the rest.
    line = json.dumps(call.to_json()) + "\n"
    with log.open("a") as writing:
        writing.write(line[:20])
        writing.flush()
        assert read_call_log(log, offset) == ([], offset)
        writing.write(line[20:])
    assert read_call_log(log, offset) == ([call], offset + len(line.encode()))


def test_conformance_acting_as_lets_any_exception_through_and_then_names_nobody() -> None:
    # Rejection is a frozen dataclass, which contextlib's context managers trip over.
    with pytest.raises(Rejection), acting_as("receiver", DEPLOYMENT):
        raise Rejection(413, "too large")
    client = boto3.client("sqs", region_name="eu-west-1")
    with recorded_calls(checked_at_teardown=False) as calls, Stubber(client) as stub:
        stub.add_response("get_queue_url", {"QueueUrl": DEPLOYMENT.intake_queue_url})
        client.get_queue_url(QueueName="intake")
    assert calls == []  # the block is over: the call is nobody's
