"""The emulator's HTTP server keeps a client's connection open between its requests.

Every AWS call of `cartwatch local` and of the tests goes to the emulator.  A server that
closes each connection after one answer (werkzeug's development server does) makes every
call open a new TCP connection and start a server thread: a third of the local runner's
work under load, a cost AWS's endpoints never charge a warm client.
"""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest
from tests.integration.conftest import Aws

pytestmark = pytest.mark.integration


def test_one_connection_carries_a_client_s_requests_one_after_another(aws: Aws) -> None:
    endpoint = urlsplit(aws.resources.endpoint_url)
    connection = http.client.HTTPConnection(endpoint.hostname, endpoint.port, timeout=10)
    target = {"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0"}
    try:
        answers = []
        for _ in range(3):
            connection.request("POST", "/", body=b"{}", headers={**target, **signed_for("dynamodb")})
            response = connection.getresponse()
            answers.append((response.status, response.getheader("Connection"), json.loads(response.read())))
    finally:
        connection.close()

    assert [status for status, _, _ in answers] == [200, 200, 200]
    assert all(header != "close" for _, header, _ in answers)
    assert all("TableNames" in body for _, _, body in answers)


def signed_for(service: str) -> dict[str, str]:
    """The credential scope moto reads the service and region from (it checks no signature)."""
    return {
        "Authorization": (
            f"AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, "
            "SignedHeaders=host;x-amz-target, Signature=test"
        )
    }


def test_an_index_answers_with_every_write_before_it(aws: Aws) -> None:
    """The emulator files an index's partitions once and keeps them until a write: each
    kind of write must show in the next query, as it does in DynamoDB."""
    dynamodb = aws.client("dynamodb")
    table = f"{aws.resources.table_name}-index-writes"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "g", "AttributeType": "S"},
            {"AttributeName": "r", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "KeySchema": [
                    {"AttributeName": "g", "KeyType": "HASH"},
                    {"AttributeName": "r", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["n"]},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )

    def partition(name: str) -> list[tuple[str, str]]:
        items = dynamodb.query(
            TableName=table,
            IndexName="by-g",
            KeyConditionExpression="g = :g",
            ExpressionAttributeValues={":g": {"S": name}},
        )["Items"]
        return [(item["pk"]["S"], item.get("n", {}).get("S", "")) for item in items]

    for n in range(3):
        dynamodb.put_item(TableName=table, Item=item(f"i{n}", "A", n))
    assert partition("A") == [("i0", "x"), ("i1", "x"), ("i2", "x")]
    assert partition("B") == []

    dynamodb.update_item(
        TableName=table,
        Key={"pk": {"S": "i0"}},
        UpdateExpression="SET g = :g, n = :n",
        ExpressionAttributeValues={":g": {"S": "B"}, ":n": {"S": "moved"}},
    )
    assert partition("A") == [("i1", "x"), ("i2", "x")]
    assert partition("B") == [("i0", "moved")]

    dynamodb.delete_item(TableName=table, Key={"pk": {"S": "i1"}})
    dynamodb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": item("i3", "A", 9)}}]})
    dynamodb.transact_write_items(
        TransactItems=[
            {"Update": {"TableName": table, "Key": {"pk": {"S": "i2"}}, "UpdateExpression": "REMOVE g"}}
        ]
    )
    assert partition("A") == [("i3", "x")]  # i1 deleted, i2 left the (sparse) index


def item(key: str, group: str, rank: int) -> dict[str, dict[str, str]]:
    return {"pk": {"S": key}, "g": {"S": group}, "r": {"N": str(rank)}, "n": {"S": "x"}, "other": {"S": "-"}}
