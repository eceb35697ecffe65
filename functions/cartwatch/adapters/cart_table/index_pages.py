"""Pages of one index partition up to a sort-key bound: the query the sparse indexes share."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from cartwatch.adapters.cart_table.items import Item
from cartwatch.resources import GlobalIndex

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def index_pages(
    client: DynamoDBClient, table: str, index: GlobalIndex, partition: str, up_to: int, page_size: int
) -> Iterator[list[Item]]:
    """The partition's items whose sort key is at most ``up_to``, oldest first, a page at a time."""
    start: Item | None = None
    while True:
        request: dict[str, Any] = {
            "TableName": table,
            "IndexName": index.name,
            "KeyConditionExpression": "#partition = :partition AND #sort <= :bound",
            "ExpressionAttributeNames": {
                "#partition": index.partition_key.name,
                "#sort": index.sort_key.name,
            },
            "ExpressionAttributeValues": {":partition": {"S": partition}, ":bound": {"N": str(up_to)}},
            "Limit": page_size,
        }
        if start:
            request["ExclusiveStartKey"] = start
        response = client.query(**request)
        yield response.get("Items", [])
        start = response.get("LastEvaluatedKey")
        if not start:
            return
