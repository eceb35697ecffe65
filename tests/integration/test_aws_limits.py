"""AWS's size limits hold in the test AWS (moto server and its limits layer), and cartwatch stays under them.

moto alone is laxer than AWS: SQS sizes in characters, no SNS batch total, message
attributes not counted.  ``cartwatch_tools.local.aws_limits`` closes those gaps; these
tests prove each limit is enforced at its boundary, so a change that crosses one fails.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from bench.counting import CallCounter
from botocore.exceptions import ClientError
from tests.integration.conftest import Aws
from tests.integration.pipeline_support import subscribed_queue

from cartwatch.adapters.event_publisher import OutgoingMessage, SnsEventPublisher, publish_batches
from cartwatch.resources import INTAKE_QUEUE, SNS_BATCH_MAX_BYTES, SNS_MESSAGE_MAX_BYTES

pytestmark = pytest.mark.integration

ATTRIBUTES = {
    "type": {"DataType": "String", "StringValue": "cartwatch.cart.abandoned"},
    "store_hash": {"DataType": "String", "StringValue": "abc123"},
    "platform": {"DataType": "String", "StringValue": "bigcommerce"},
}
ATTRIBUTE_BYTES = sum(len(k) + len(v["DataType"]) + len(v["StringValue"]) for k, v in ATTRIBUTES.items())


def consumer(aws: Aws) -> str:
    return subscribed_queue(aws.client("sqs"), aws.client("sns"), aws.resources.topic_arn)


def body_of(size: int, tag: str = "") -> str:
    """A JSON message body of exactly ``size`` bytes."""
    skeleton = json.dumps({"tag": tag, "pad": ""})
    return json.dumps({"tag": tag, "pad": "x" * (size - len(skeleton))})


def entry(n: int, body: str) -> dict[str, Any]:
    return {"Id": str(n), "Message": body, "MessageAttributes": ATTRIBUTES}


def error_code(call: Any) -> str:
    with pytest.raises(ClientError) as refused:
        call()
    return str(refused.value.response["Error"]["Code"])


# --- SNS ---------------------------------------------------------------------------------


def test_sns_publish_counts_message_attributes_toward_256_kib(aws: Aws) -> None:
    sns = aws.client("sns")
    fits = body_of(SNS_MESSAGE_MAX_BYTES - ATTRIBUTE_BYTES)
    sns.publish(TopicArn=aws.resources.topic_arn, Message=fits, MessageAttributes=ATTRIBUTES)
    over = body_of(SNS_MESSAGE_MAX_BYTES - ATTRIBUTE_BYTES + 1)
    assert len(over) < SNS_MESSAGE_MAX_BYTES  # moto alone would take it
    code = error_code(
        lambda: sns.publish(TopicArn=aws.resources.topic_arn, Message=over, MessageAttributes=ATTRIBUTES)
    )
    assert code == "InvalidParameter"


def test_sns_publish_batch_is_refused_over_256_kib_in_total(aws: Aws) -> None:
    sns = aws.client("sns")
    share = SNS_BATCH_MAX_BYTES // 4 - ATTRIBUTE_BYTES
    at_limit = [entry(n, body_of(share)) for n in range(4)]
    response = sns.publish_batch(TopicArn=aws.resources.topic_arn, PublishBatchRequestEntries=at_limit)  # type: ignore[arg-type]
    assert len(response["Successful"]) == 4
    over = [*at_limit[:3], entry(3, body_of(share + 1))]
    code = error_code(
        lambda: sns.publish_batch(TopicArn=aws.resources.topic_arn, PublishBatchRequestEntries=over)  # type: ignore[arg-type]
    )
    assert code == "BatchRequestTooLong"


def test_sns_publish_batch_takes_at_most_ten_entries(aws: Aws) -> None:
    sns = aws.client("sns")
    eleven = [entry(n, body_of(100)) for n in range(11)]
    code = error_code(
        lambda: sns.publish_batch(TopicArn=aws.resources.topic_arn, PublishBatchRequestEntries=eleven)  # type: ignore[arg-type]
    )
    assert code == "TooManyEntriesInBatchRequest"


def test_the_publisher_batches_by_bytes_as_well_as_by_count(aws: Aws) -> None:
    queue = consumer(aws)
    counter = CallCounter()
    publisher = SnsEventPublisher(counter.attach(aws.client("sns")), aws.resources.topic_arn)
    # Ten 60 KB events: one PublishBatch by count, four by size.
    messages = [OutgoingMessage(body_of(60_000, f"m{n}"), ATTRIBUTES) for n in range(10)]
    assert [len(batch) for batch in publish_batches(messages)] == [4, 4, 2]

    with aws.acting_as("publisher"):
        assert publisher.publish(messages) == []
    assert counter.calls["sns.PublishBatch"] == 3
    received = sorted(json.loads(m["Body"])["tag"] for m in aws.queue_messages(queue))
    assert received == sorted(f"m{n}" for n in range(10))


def test_a_message_at_the_limit_goes_alone_and_one_over_fails_alone(aws: Aws) -> None:
    queue = consumer(aws)
    counter = CallCounter()
    publisher = SnsEventPublisher(counter.attach(aws.client("sns")), aws.resources.topic_arn)
    largest = OutgoingMessage(body_of(SNS_MESSAGE_MAX_BYTES - ATTRIBUTE_BYTES, "largest"), ATTRIBUTES)
    too_large = OutgoingMessage(body_of(SNS_MESSAGE_MAX_BYTES - ATTRIBUTE_BYTES + 1, "too-large"), ATTRIBUTES)
    small = [OutgoingMessage(body_of(500, f"s{n}"), ATTRIBUTES) for n in range(3)]

    with aws.acting_as("publisher"):
        failures = publisher.publish([small[0], largest, too_large, *small[1:]])

    assert [(f.index, f.code) for f in failures] == [(2, "MessageTooLong")]
    assert counter.calls["sns.PublishBatch"] == 3  # [s0], [largest], [s1, s2]
    received = sorted(json.loads(m["Body"])["tag"] for m in aws.queue_messages(queue))
    assert received == ["largest", "s0", "s1", "s2"]


# --- SQS ---------------------------------------------------------------------------------


def test_sqs_counts_bytes_not_characters(aws: Aws) -> None:
    sqs = aws.client("sqs")
    limit = INTAKE_QUEUE.max_message_bytes
    two_byte_chars = "é" * (limit // 2 + 1)  # under the limit in characters, over it in bytes
    code = error_code(
        lambda: sqs.send_message(QueueUrl=aws.resources.intake_queue_url, MessageBody=two_byte_chars)
    )
    assert code == "InvalidParameterValue"
    sqs.send_message(QueueUrl=aws.resources.intake_queue_url, MessageBody="é" * (limit // 2))


def test_sqs_counts_message_attributes(aws: Aws) -> None:
    sqs = aws.client("sqs")
    limit = INTAKE_QUEUE.max_message_bytes
    attributes = {"origin": {"DataType": "String", "StringValue": "bigcommerce"}}
    attribute_bytes = len("origin") + len("String") + len("bigcommerce")
    sqs.send_message(
        QueueUrl=aws.resources.intake_queue_url,
        MessageBody="x" * (limit - attribute_bytes),
        MessageAttributes=attributes,
    )
    code = error_code(
        lambda: sqs.send_message(
            QueueUrl=aws.resources.intake_queue_url,
            MessageBody="x" * (limit - attribute_bytes + 1),
            MessageAttributes=attributes,  # type: ignore[arg-type]
        )
    )
    assert code == "InvalidParameterValue"


# --- DynamoDB ----------------------------------------------------------------------------


def test_dynamodb_refuses_an_item_over_400_kb(aws: Aws) -> None:
    dynamodb = aws.client("dynamodb")
    key = {"pk": {"S": "CART#limits#c1"}, "sk": {"S": "STATE"}}
    table = aws.resources.table_name
    dynamodb.put_item(TableName=table, Item={**key, "snapshot": {"S": "x" * 390_000}})
    code = error_code(
        lambda: dynamodb.put_item(TableName=table, Item={**key, "snapshot": {"S": "x" * 410_000}})
    )
    assert code == "ValidationException"
    # An update that would grow the stored item past the limit is refused as well.
    code = error_code(
        lambda: dynamodb.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET history = :h",
            ExpressionAttributeValues={":h": {"S": "y" * 20_000}},
        )
    )
    assert code == "ValidationException"
