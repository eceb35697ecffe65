"""The listing index: one store-and-status partition of it at a time, newest transition first.

A :class:`CartFilter` becomes a key condition on ``modified_at`` (its time bounds, see
``CartFilter.key_range``) and a filter expression over the projected attributes for the
rest, so a page never touches the base table.  DynamoDB bills what it *evaluates*
(``ScannedCount``); the query benchmark counts it on the query function's client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from cartwatch.adapters.cart_table import attributes as attr
from cartwatch.adapters.cart_table.expression import Placeholders
from cartwatch.adapters.cart_table.items import listed_cart_from_item
from cartwatch.domain.lifecycle import CartStatus
from cartwatch.domain.listing import CartFilter, ListingChunk, Position
from cartwatch.resources import LISTING_INDEX

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


@dataclass
class _Expression(Placeholders):
    """A query's key condition and filter, sharing their placeholders."""

    conditions: list[str] = field(default_factory=list)

    def between(self, attribute: str, low: int | Decimal | None, high: int | Decimal | None) -> None:
        if low is None and high is None:
            return
        name = self.name(attribute)
        if low is not None and high is not None:
            low_ref, high_ref = self.value(_number(low)), self.value(_number(high))
            self.conditions.append(f"{name} BETWEEN {low_ref} AND {high_ref}")
        elif low is not None:
            self.conditions.append(f"{name} >= {self.value(_number(low))}")
        else:
            self.conditions.append(f"{name} <= {self.value(_number(high))}")

    def equals(self, attribute: str, value: dict[str, Any]) -> None:
        self.conditions.append(f"{self.name(attribute)} = {self.value(value)}")


class CartListingIndex:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def chunk(
        self,
        store_hash: str,
        status: CartStatus,
        cart_filter: CartFilter,
        *,
        start: Position | None,
        evaluate: int,
    ) -> ListingChunk:
        """Up to ``evaluate`` index items of one partition, newest first, filtered."""
        partition = attr.listing_partition(store_hash, status.value)
        key = _Expression()
        key.equals(attr.LISTING_KEY, {"S": partition})
        key.between(attr.MODIFIED_AT, *cart_filter.key_range(status))
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": LISTING_INDEX.name,
            "KeyConditionExpression": " AND ".join(key.conditions),
            "ScanIndexForward": False,
            "Limit": evaluate,
        }
        filters = _filter_expression(cart_filter, key)
        if filters:
            request["FilterExpression"] = filters
        request["ExpressionAttributeNames"] = key.names
        request["ExpressionAttributeValues"] = key.values
        if start is not None:
            modified_at, cart_id = start
            request["ExclusiveStartKey"] = {
                attr.LISTING_KEY: {"S": partition},
                attr.MODIFIED_AT: _number(modified_at),
                **attr.cart_key(store_hash, cart_id),
            }
        response = self._client.query(**request)
        items = response.get("Items", [])
        last = response.get("LastEvaluatedKey")
        resume_at = (int(last[attr.MODIFIED_AT]["N"]), attr.cart_id_of(last[attr.PK]["S"])) if last else None
        return ListingChunk([listed_cart_from_item(item) for item in items], resume_at)


def _filter_expression(cart_filter: CartFilter, expression: _Expression) -> str:
    """The non-key part of a filter, over projected attributes (mirrors ``CartFilter.matches``)."""
    conditions_before = len(expression.conditions)
    f = cart_filter
    # transitioned_from/to are in the key condition (a filter may not name a key attribute).
    expression.between(attr.CART_CREATED_AT, f.created_from, f.created_to)
    expression.between(attr.LISTED_ACTIVITY_AT, f.modified_from, f.modified_to)
    expression.between(attr.ABANDONED_AT, f.abandoned_from, f.abandoned_to)
    if f.customer_id is not None:
        expression.equals(attr.CUSTOMER_ID, _number(f.customer_id))
    if f.customer_email is not None:
        expression.equals(attr.CUSTOMER_EMAIL, {"S": f.customer_email})
    if f.skip_empty_email:
        expression.conditions.append(f"attribute_exists({expression.name(attr.CUSTOMER_EMAIL)})")
    expression.between(attr.CART_TOTAL, f.min_total, f.max_total)
    if f.currency is not None:
        expression.equals(attr.CURRENCY, {"S": f.currency})
    if f.stages:
        stage = expression.name(attr.LAST_ABANDONED_STAGE)
        options = ", ".join(expression.value(_number(s)) for s in f.stages)
        expression.conditions.append(f"{stage} IN ({options})")
    if f.suppressed is not None:
        exists = "attribute_exists" if f.suppressed else "attribute_not_exists"
        expression.conditions.append(f"{exists}({expression.name(attr.SUPPRESSED_AT)})")
    added = expression.conditions[conditions_before:]
    del expression.conditions[conditions_before:]
    return " AND ".join(added)


def _number(value: object) -> dict[str, str]:
    return {"N": str(value)}
