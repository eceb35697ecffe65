"""The due index: pages of one shard's entries that are due, oldest first.

Reads only what is due — a sweep costs one query page per shard plus the due entries, flat
as tracked carts grow (docs/architecture.md, decisions 6 and 7).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from cartwatch.adapters.cart_table import attributes as attr
from cartwatch.adapters.cart_table.items import Item, due_entry_from_item
from cartwatch.domain.cart_record import DueEntry
from cartwatch.resources import DUE_INDEX

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def due_entries(
    client: DynamoDBClient, table: str, shard: str, now: int, page_size: int
) -> Iterator[list[DueEntry]]:
    start: Item | None = None
    while True:
        request: dict[str, Any] = {
            "TableName": table,
            "IndexName": DUE_INDEX.name,
            "KeyConditionExpression": "#shard = :shard AND #due <= :now",
            "ExpressionAttributeNames": {"#shard": attr.DUE_SHARD, "#due": attr.DUE_AT},
            "ExpressionAttributeValues": {":shard": {"S": shard}, ":now": {"N": str(now)}},
            "Limit": page_size,
        }
        if start:
            request["ExclusiveStartKey"] = start
        response = client.query(**request)
        yield [due_entry_from_item(item) for item in response.get("Items", [])]
        start = response.get("LastEvaluatedKey")
        if not start:
            return
