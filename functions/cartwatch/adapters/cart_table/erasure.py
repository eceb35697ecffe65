"""Erasing a cart (GDPR): its tombstone, and keeping it while BigCommerce keeps the cart.

A store's carts are purged a page at a time by ``purge.CartPurge`` (uninstall, removal).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cartwatch.adapters.cart_table import attributes as attr
from cartwatch.adapters.cart_table.items import tombstone_item
from cartwatch.domain.cart_record import Tombstone

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def put_tombstone(client: DynamoDBClient, table: str, tombstone: Tombstone) -> bool:
    """Replace a cart by its tombstone; False when there is no such cart.

    One conditional put: the snapshot (customer, email, address), the history and every
    index entry go at once.
    """
    from botocore.exceptions import ClientError

    try:
        client.put_item(
            TableName=table,
            Item=tombstone_item(tombstone),
            ConditionExpression="attribute_exists(#st)",
            ExpressionAttributeNames={"#st": attr.STATUS},
        )
    except ClientError as error:
        if is_condition_failure(error):
            return False
        raise
    return True


def extend_tombstone(client: DynamoDBClient, table: str, tombstone: Tombstone, expires_at: int) -> None:
    """Push an erased cart's TTL out to ``expires_at``, if it is still erased and ends earlier."""
    from botocore.exceptions import ClientError

    try:
        client.update_item(
            TableName=table,
            Key=attr.cart_key(tombstone.store_hash, tombstone.cart_id),
            UpdateExpression="SET #exp = :exp",
            ConditionExpression="#kind = :erased AND #exp < :exp",
            ExpressionAttributeNames={"#exp": attr.EXPIRES_AT, "#kind": attr.KIND},
            ExpressionAttributeValues={":exp": {"N": str(expires_at)}, ":erased": {"S": attr.TOMBSTONE_KIND}},
        )
    except ClientError as error:
        if not is_condition_failure(error):
            raise


def is_condition_failure(error: Exception) -> bool:
    response = getattr(error, "response", {})
    return bool(response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")
