"""One botocore call -> the IAM requests AWS authorizes it by.

An IAM request is an action, a resource ARN and the request's condition keys.  Most calls
are one request (``dynamodb:GetItem`` on the table); some are several (``BatchGetItem`` is one
per table, ``DeleteParameters`` one per parameter); some are named differently from the
operation (``PublishBatch`` is ``sns:Publish``, ``DeleteMessageBatch`` is
``sqs:DeleteMessage``, ``ListObjectsV2`` is ``s3:ListBucket`` on the bucket, ``HeadObject`` is
``s3:GetObject``); a query of an index is authorized on the index's ARN.  Requests AWS
adds on its own behalf (KMS for an encrypted topic or bucket) depend on the resource's configuration
and are added from the template (``template.implicit_requests``).

Only what IAM looks at is kept: no message bodies, no item attributes besides the key
values ``dynamodb:LeadingKeys`` needs, no parameter values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from cartwatch.resources import TABLE

# A condition key whose value AWS would supply but this translation cannot tell (a query of
# an index: which keys count as "leading" is the index's business).  A statement that
# conditions on it cannot be evaluated and says so, instead of guessing.
UNKNOWN = None
ContextValue = tuple[str, ...] | None
LEADING_KEYS = "dynamodb:LeadingKeys"


class UnmappedCall(ValueError):
    """No translation for this operation: teach ``calls.py`` rather than let it pass unchecked."""


@dataclass(frozen=True)
class IamRequest:
    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "resource": self.resource,
            "context": {k: (list(v) if v is not None else None) for k, v in self.context.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> IamRequest:
        context = {k: (tuple(v) if v is not None else None) for k, v in data.get("context", {}).items()}
        return cls(data["action"], data["resource"], context)


@dataclass(frozen=True)
class Where:
    """Where a call went: the client's region and the account the environment runs as."""

    region: str
    account: str

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"


def iam_requests(
    service: str,
    operation: str,
    params: Mapping[str, Any],
    where: Where,
    *,
    stream_of: Callable[[str], str | None] = lambda iterator: None,
    partition_key: str = TABLE.partition_key.name,
) -> list[IamRequest]:
    """The requests for ``service`` (botocore's hyphenated service id) ``operation``.

    ``stream_of`` names the stream a shard iterator reads (``GetRecords`` carries only the
    iterator); ``partition_key`` is the table's partition key attribute.
    """
    translate = _SERVICES.get(service)
    if translate is None:
        raise UnmappedCall(f"no IAM translation for service {service!r} ({operation})")
    return translate(_Call(operation, params, where, stream_of, partition_key))


@dataclass(frozen=True)
class _Call:
    operation: str
    params: Mapping[str, Any]
    where: Where
    stream_of: Callable[[str], str | None]
    partition_key: str


def describe(
    service: str, operation: str, params: Mapping[str, Any], partition_key: str = TABLE.partition_key.name
) -> str:
    """The call as a reader wants it in a violation: operation and the identifying parameters."""
    shown = []
    for name in (
        "TableName",
        "IndexName",
        "QueueUrl",
        "TopicArn",
        "StreamArn",
        "Name",
        "Names",
        "KeyId",
        "Bucket",
        "Key",
        "Prefix",
    ):
        if name == "Key" and not isinstance(params.get(name), str):
            continue  # a DynamoDB key: shown by its partition key below
        if name in params:
            shown.append(f"{name}={params[name]!r}")
    for name in ("Key", "Item"):
        value = params.get(name)
        if isinstance(value, Mapping) and partition_key in value:
            shown.append(f"{name}.{partition_key}={_scalar(value[partition_key])!r}")
    if isinstance(params.get("RequestItems"), Mapping):
        shown.append(f"RequestItems={sorted(params['RequestItems'])!r}")
    return f"{service}.{operation}({', '.join(shown)})"


# --- DynamoDB -----------------------------------------------------------------------------

_ITEM_ACTIONS = {"GetItem", "PutItem", "UpdateItem", "DeleteItem"}
_TRANSACT_ACTIONS = {"ConditionCheck": "ConditionCheckItem", "Put": "PutItem", "Update": "UpdateItem"}
_TRANSACT_ACTIONS |= {"Delete": "DeleteItem", "Get": "GetItem"}


def _table_arn(table: str, where: Where) -> str:
    # DynamoDB accepts a table's ARN wherever it takes its name.
    return table if table.startswith("arn:") else where.arn("dynamodb", f"table/{table}")


def _dynamodb(call: _Call) -> list[IamRequest]:
    operation, params, where = call.operation, call.params, call.where

    def leading(items: Iterable[Mapping[str, Any]]) -> dict[str, ContextValue]:
        values = [_scalar(item[call.partition_key]) for item in items if call.partition_key in item]
        return {LEADING_KEYS: tuple(dict.fromkeys(values))}

    if operation in _ITEM_ACTIONS:
        key = params.get("Key") or params.get("Item") or {}
        return [IamRequest(f"dynamodb:{operation}", _table_arn(params["TableName"], where), leading([key]))]
    if operation in {"BatchGetItem", "BatchWriteItem"}:
        requests = []
        for table, entry in params["RequestItems"].items():
            if operation == "BatchGetItem":
                keys = list(entry.get("Keys", []))
            else:
                keys = [
                    write.get("PutRequest", {}).get("Item") or write.get("DeleteRequest", {}).get("Key") or {}
                    for write in entry
                ]
            requests.append(IamRequest(f"dynamodb:{operation}", _table_arn(table, where), leading(keys)))
        return requests
    if operation in {"TransactWriteItems", "TransactGetItems"}:
        requests = []
        for entry in params["TransactItems"]:
            (kind, body), *_ = entry.items()
            key = body.get("Key") or body.get("Item") or {}
            requests.append(
                IamRequest(
                    f"dynamodb:{_TRANSACT_ACTIONS[kind]}",
                    _table_arn(body["TableName"], where),
                    leading([key]),
                )
            )
        return requests
    if operation in {"Query", "Scan"}:
        resource = _table_arn(params["TableName"], where)
        context: dict[str, ContextValue] = {}
        if params.get("IndexName"):
            resource += f"/index/{params['IndexName']}"
            if operation == "Query":
                context[LEADING_KEYS] = UNKNOWN
        elif operation == "Query":
            value = _queried_partition(params, call.partition_key)
            context[LEADING_KEYS] = (value,) if value is not None else UNKNOWN
        # A scan names no key at all: AWS evaluates it with dynamodb:LeadingKeys absent.
        return [IamRequest(f"dynamodb:{operation}", resource, context)]
    if "TableName" in params:
        return [IamRequest(f"dynamodb:{operation}", _table_arn(params["TableName"], where))]
    if operation == "ListTables":
        return [IamRequest("dynamodb:ListTables", "*")]
    raise UnmappedCall(f"no IAM translation for dynamodb.{operation}")


_EQUALITY = re.compile(r"^\(?\s*([#\w.]+)\s*=\s*(:\w+)\s*\)?$")


def _queried_partition(params: Mapping[str, Any], partition_key: str) -> str | None:
    names = params.get("ExpressionAttributeNames", {})
    values = params.get("ExpressionAttributeValues", {})
    for part in re.split(r"\s+AND\s+", params.get("KeyConditionExpression", ""), flags=re.IGNORECASE):
        match = _EQUALITY.match(part.strip())
        if match and names.get(match[1], match[1]) == partition_key and match[2] in values:
            return _scalar(values[match[2]])
    legacy = params.get("KeyConditions", {}).get(partition_key)
    if legacy and legacy.get("ComparisonOperator") == "EQ":
        return _scalar(legacy["AttributeValueList"][0])
    return None


def _scalar(value: Mapping[str, Any]) -> str:
    for kind in ("S", "N", "B"):
        if kind in value:
            return str(value[kind])
    raise UnmappedCall(f"a key attribute of type {sorted(value)} cannot be a partition key")


# --- DynamoDB Streams (IAM prefix: dynamodb) ----------------------------------------------


def _dynamodb_streams(call: _Call) -> list[IamRequest]:
    operation, params = call.operation, call.params
    if operation == "ListStreams":
        return [IamRequest("dynamodb:ListStreams", "*")]
    if operation in {"DescribeStream", "GetShardIterator"}:
        return [IamRequest(f"dynamodb:{operation}", params["StreamArn"])]
    if operation == "GetRecords":
        stream = call.stream_of(params["ShardIterator"])
        if stream is None:
            raise UnmappedCall("GetRecords with a shard iterator no recorded GetShardIterator returned")
        return [IamRequest("dynamodb:GetRecords", stream)]
    raise UnmappedCall(f"no IAM translation for dynamodbstreams.{operation}")


# --- SQS ----------------------------------------------------------------------------------

# Batch operations are authorized as their single-message action.
_SQS_ACTIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


def queue_arn(queue_url: str, where: Where) -> str:
    """``https://sqs.../<account>/<name>`` (moto: ``http://127.0.0.1:port/<account>/<name>``)."""
    account, name = urlparse(queue_url).path.strip("/").split("/")[-2:]
    return f"arn:aws:sqs:{where.region}:{account}:{name}"


def _sqs(call: _Call) -> list[IamRequest]:
    operation, params, where = call.operation, call.params, call.where
    action = f"sqs:{_SQS_ACTIONS.get(operation, operation)}"
    if "QueueUrl" in params:
        return [IamRequest(action, queue_arn(params["QueueUrl"], where))]
    if operation in {"GetQueueUrl", "CreateQueue"}:
        account = params.get("QueueOwnerAWSAccountId", where.account)
        return [IamRequest(action, f"arn:aws:sqs:{where.region}:{account}:{params['QueueName']}")]
    if operation == "ListQueues":
        return [IamRequest(action, "*")]
    raise UnmappedCall(f"no IAM translation for sqs.{operation}")


# --- SNS ----------------------------------------------------------------------------------


def _sns(call: _Call) -> list[IamRequest]:
    operation, params = call.operation, call.params
    action = "sns:Publish" if operation == "PublishBatch" else f"sns:{operation}"
    target = params.get("TopicArn") or params.get("TargetArn")
    if target:
        return [IamRequest(action, target)]
    raise UnmappedCall(f"no IAM translation for sns.{operation} without a topic")


# --- SSM ----------------------------------------------------------------------------------


def parameter_arn(name: str, where: Where) -> str:
    return name if name.startswith("arn:") else where.arn("ssm", f"parameter/{name.lstrip('/')}")


def _ssm(call: _Call) -> list[IamRequest]:
    operation, params, where = call.operation, call.params, call.where
    # SecureStrings under the AWS managed key (aws/ssm) need no KMS grant of the caller:
    # SSM uses the key on the caller's behalf.  cartwatch never names another key.
    if "KeyId" in params:
        raise UnmappedCall("a SecureString under a customer managed key needs kms:Decrypt: not modelled")
    if "Name" in params:
        return [IamRequest(f"ssm:{operation}", parameter_arn(params["Name"], where))]
    if "Names" in params:
        return [IamRequest(f"ssm:{operation}", parameter_arn(name, where)) for name in params["Names"]]
    if "Path" in params:
        return [IamRequest(f"ssm:{operation}", parameter_arn(params["Path"], where))]
    raise UnmappedCall(f"no IAM translation for ssm.{operation}")


# --- S3 -----------------------------------------------------------------------------------

# Operations authorized on the object (``arn:aws:s3:::bucket/key``) under another action's name.
_S3_OBJECT_ACTIONS = {
    "PutObject": "s3:PutObject",
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "DeleteObject": "s3:DeleteObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
}
# Operations authorized on the bucket (``arn:aws:s3:::bucket``).
_S3_BUCKET_ACTIONS = {
    "ListObjectsV2": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "GetBucketLocation": "s3:GetBucketLocation",
}


def bucket_arn(bucket: str) -> str:
    """S3 ARNs name neither region nor account: a bucket's name is global."""
    return f"arn:aws:s3:::{bucket}"


def _s3(call: _Call) -> list[IamRequest]:
    operation, params = call.operation, call.params
    if operation in _S3_OBJECT_ACTIONS:
        resource = f"{bucket_arn(params['Bucket'])}/{params['Key']}"
        return [IamRequest(_S3_OBJECT_ACTIONS[operation], resource)]
    if operation in _S3_BUCKET_ACTIONS:
        # ListBucket's s3:prefix condition key is what the request lists under ("" for all).
        context: dict[str, ContextValue] = {}
        if _S3_BUCKET_ACTIONS[operation] == "s3:ListBucket" and operation != "HeadBucket":
            context["s3:prefix"] = (str(params.get("Prefix", "")),)
        return [IamRequest(_S3_BUCKET_ACTIONS[operation], bucket_arn(params["Bucket"]), context)]
    if operation == "DeleteObjects":
        bucket = bucket_arn(params["Bucket"])
        objects = params.get("Delete", {}).get("Objects", [])
        return [IamRequest("s3:DeleteObject", f"{bucket}/{o['Key']}") for o in objects]
    if operation == "ListBuckets":
        return [IamRequest("s3:ListAllMyBuckets", "*")]
    raise UnmappedCall(f"no IAM translation for s3.{operation}")


_SERVICES: dict[str, Callable[[_Call], list[IamRequest]]] = {
    "dynamodb": _dynamodb,
    "dynamodb-streams": _dynamodb_streams,
    "sqs": _sqs,
    "sns": _sns,
    "ssm": _ssm,
    "s3": _s3,
}
