"""The shopper index: a shopper's carts in a store, the latest recorded first.

Sparse — only carts whose shopper the publisher learnt carry ``shopper`` — and written by
the publisher alone, once per enrichment, so a query reads one shopper's few carts however
many the table holds.  Keys only: the publisher reads each cart strongly consistent before
it acts (index reads are eventually consistent).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cartwatch.adapters.cart_table import attributes as attr
from cartwatch.domain.cart_record import CartRef
from cartwatch.resources import SHOPPER_INDEX

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def shopper_carts(client: DynamoDBClient, table: str, store_hash: str, key: str, limit: int) -> list[CartRef]:
    """Up to ``limit`` carts of the shopper, the latest recorded first (one query page)."""
    response = client.query(
        TableName=table,
        IndexName=SHOPPER_INDEX.name,
        KeyConditionExpression="#shopper = :shopper",
        ExpressionAttributeNames={"#shopper": SHOPPER_INDEX.partition_key.name},
        ExpressionAttributeValues={":shopper": {"S": attr.shopper_partition(store_hash, key)}},
        ScanIndexForward=False,
        Limit=limit,
    )
    return [attr.cart_ref_of(item[attr.PK]["S"]) for item in response.get("Items", [])]
