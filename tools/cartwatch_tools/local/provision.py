"""Create cartwatch's AWS resources in an emulator from the same definitions as the stack.

``cartwatch.resources`` is the one description of the table, its indexes, the intake
queue and the topic; the CDK stack and this module both read it, so a key or an index
cannot exist in one deployment and not the other.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from cartwatch.resources import (
    ARCHIVE_FILTER_POLICY,
    ARCHIVE_QUEUE,
    CREDENTIALS_KEY,
    INTAKE_QUEUE,
    KNOWN_STORES_INDEX,
    PURGE_QUEUE,
    TABLE,
    KeyAttribute,
    QueueDefinition,
)


@dataclass(frozen=True)
class ProvisionedResources:
    region: str
    endpoint_url: str
    table_name: str
    credentials_table_name: str
    intake_queue_url: str
    intake_dlq_url: str
    topic_arn: str
    stream_arn: str
    purge_queue_url: str
    purge_dlq_url: str
    # The publisher's on-failure destination: stream batches given up on (coordinates only).
    publisher_dlq_url: str
    # The event archive: its bucket, and the queue subscribed to the topic that feeds it.
    archive_bucket: str = ""
    archive_queue_url: str = ""
    archive_dlq_url: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def table_request(table_name: str) -> dict[str, Any]:
    """The CreateTable request for ``TABLE``."""
    attributes: dict[str, KeyAttribute] = {}
    for key in (TABLE.partition_key, TABLE.sort_key):
        attributes[key.name] = key
    for index in TABLE.indexes:
        attributes[index.partition_key.name] = index.partition_key
        attributes[index.sort_key.name] = index.sort_key
    indexes = []
    for index in TABLE.indexes:
        projection: dict[str, Any] = {"ProjectionType": index.projection}
        if index.projection == "INCLUDE":
            projection["NonKeyAttributes"] = list(index.non_key_attributes)
        indexes.append(
            {
                "IndexName": index.name,
                "KeySchema": [
                    {"AttributeName": index.partition_key.name, "KeyType": "HASH"},
                    {"AttributeName": index.sort_key.name, "KeyType": "RANGE"},
                ],
                "Projection": projection,
            }
        )
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": a.name, "AttributeType": a.type} for a in attributes.values()
        ],
        "KeySchema": [
            {"AttributeName": TABLE.partition_key.name, "KeyType": "HASH"},
            {"AttributeName": TABLE.sort_key.name, "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": indexes,
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": TABLE.stream_view},
        "SSESpecification": {"Enabled": True},
    }


def credentials_table_request(table_name: str) -> dict[str, Any]:
    """The CreateTable request for the stores' webhook credentials and their ``known`` index."""
    index = KNOWN_STORES_INDEX
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": CREDENTIALS_KEY.name, "AttributeType": CREDENTIALS_KEY.type},
            {"AttributeName": index.partition_key.name, "AttributeType": index.partition_key.type},
        ],
        "KeySchema": [{"AttributeName": CREDENTIALS_KEY.name, "KeyType": "HASH"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index.name,
                "KeySchema": [
                    {"AttributeName": index.partition_key.name, "KeyType": "HASH"},
                    {"AttributeName": index.sort_key.name, "KeyType": "RANGE"},
                ],
                "Projection": {
                    "ProjectionType": index.projection,
                    "NonKeyAttributes": list(index.non_key_attributes),
                },
            }
        ],
        "SSESpecification": {"Enabled": True},
    }


def provision(session: Any, endpoint_url: str, *, name: str = "cartwatch") -> ProvisionedResources:
    """Create (idempotently) the tables, intake and purge queues + DLQs, the publisher's
    on-failure queue and the topic; return their ids."""
    dynamodb = session.client("dynamodb", endpoint_url=endpoint_url)
    sqs = session.client("sqs", endpoint_url=endpoint_url)
    sns = session.client("sns", endpoint_url=endpoint_url)
    table_name = f"{name}-table"
    existing = dynamodb.list_tables().get("TableNames", [])
    if table_name not in existing:
        dynamodb.create_table(**table_request(table_name))
        dynamodb.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TABLE.ttl_attribute},
        )
    stream_arn = dynamodb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
    credentials_table = f"{name}-credentials"
    if credentials_table not in existing:
        dynamodb.create_table(**credentials_table_request(credentials_table))
    queue_url, dlq_url = _queue_with_dlq(sqs, f"{name}-intake", INTAKE_QUEUE)
    purge_url, purge_dlq_url = _queue_with_dlq(sqs, f"{name}-purge", PURGE_QUEUE)
    publisher_dlq_url = _dead_letter_queue(sqs, f"{name}-publisher-dlq", INTAKE_QUEUE.dlq_retention_seconds)
    topic_arn = sns.create_topic(Name=f"{name}-events")["TopicArn"]
    archive_bucket, archive_url, archive_dlq_url = _archive(session, endpoint_url, sqs, sns, name, topic_arn)
    return ProvisionedResources(
        region=session.region_name,
        endpoint_url=endpoint_url,
        table_name=table_name,
        credentials_table_name=credentials_table,
        intake_queue_url=queue_url,
        intake_dlq_url=dlq_url,
        publisher_dlq_url=publisher_dlq_url,
        topic_arn=topic_arn,
        stream_arn=stream_arn,
        purge_queue_url=purge_url,
        purge_dlq_url=purge_dlq_url,
        archive_bucket=archive_bucket,
        archive_queue_url=archive_url,
        archive_dlq_url=archive_dlq_url,
    )


def _archive(
    session: Any, endpoint_url: str, sqs: Any, sns: Any, name: str, topic_arn: str
) -> tuple[str, str, str]:
    """The archive's bucket and its queue, subscribed to the topic as the stack subscribes it."""
    s3 = session.client("s3", endpoint_url=endpoint_url)
    bucket = f"{name}-archive".lower()
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        s3.create_bucket(Bucket=bucket)
    queue_url, dlq_url = _queue_with_dlq(sqs, f"{name}-archive", ARCHIVE_QUEUE)
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true", "FilterPolicy": json.dumps(ARCHIVE_FILTER_POLICY)},
    )
    return bucket, queue_url, dlq_url


def _queue_with_dlq(sqs: Any, name: str, definition: QueueDefinition) -> tuple[str, str]:
    """A queue and its dead-letter queue, as the stack makes them; returns both URLs."""
    dlq_url = _dead_letter_queue(sqs, f"{name}-dlq", definition.dlq_retention_seconds)
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(definition.visibility_timeout_seconds),
            "MessageRetentionPeriod": str(definition.retention_seconds),
            "MaximumMessageSize": str(definition.max_message_bytes),
            "SqsManagedSseEnabled": "true",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(definition.max_receive_count)}
            ),
        },
    )["QueueUrl"]
    return queue_url, dlq_url


def _dead_letter_queue(sqs: Any, name: str, retention_seconds: int) -> str:
    created: str = sqs.create_queue(
        QueueName=name,
        Attributes={"MessageRetentionPeriod": str(retention_seconds), "SqsManagedSseEnabled": "true"},
    )["QueueUrl"]
    return created
