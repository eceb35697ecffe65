"""The listing index: one store-and-status partition of it at a time, newest transition first.

A :class:`CartFilter` becomes a key condition on ``modified_at`` (its time bounds, see
``CartFilter.key_range``) and a filter expression over the projected attributes for the
rest, so a page never touches the base table.  DynamoDB bills what it *evaluates*: the
repository counts ``ScannedCount`` so benchmarks can hold read amplification to account.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from cartwatch.adapters.cart_items import (
    LISTING_KEY,
    MODIFIED_AT,
    STATE_SK,
    Item,
    cart_pk,
    listed_cart_from_item,
    listing_key,
)
from cartwatch.domain.lifecycle import CartStatus
from cartwatch.domain.listing import LISTED_STATUSES, CartFilter, ListedCart
from cartwatch.resources import LISTING_INDEX

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

Position = tuple[int, str]  # (modified_at, cart_id) of the last item read: where a page resumes
# The most items one query may evaluate (DynamoDB also stops at 1 MB).
MAX_EVALUATE = 1000


@dataclass
class ListingUsage:
    queries: int = 0
    items_scanned: int = 0  # what DynamoDB evaluated (and bills), filtered out or not
    items_returned: int = 0


@dataclass(frozen=True)
class ListingChunk:
    carts: list[ListedCart]
    # Where the next chunk starts; None when the partition has no more items in range.
    resume_at: Position | None


@dataclass
class _Expression:
    conditions: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    values: Item = field(default_factory=dict)

    def name(self, attribute: str) -> str:
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: dict[str, Any]) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = value
        return placeholder

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
        self.usage = ListingUsage()

    def every(self, store_hash: str, cart_filter: CartFilter) -> Iterator[ListedCart]:
        """Every listed cart of the store matching ``cart_filter``, across all statuses."""
        for status in LISTED_STATUSES:
            position: Position | None = None
            while True:
                chunk = self.chunk(store_hash, status, cart_filter, start=position, evaluate=MAX_EVALUATE)
                yield from chunk.carts
                if chunk.resume_at is None:
                    break
                position = chunk.resume_at

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
        partition = listing_key(store_hash, status)
        key = _Expression()
        key.equals(LISTING_KEY, {"S": partition})
        key.between(MODIFIED_AT, *cart_filter.key_range())
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
                LISTING_KEY: {"S": partition},
                MODIFIED_AT: _number(modified_at),
                "pk": {"S": cart_pk(store_hash, cart_id)},
                "sk": {"S": STATE_SK},
            }
        response = self._client.query(**request)
        items = response.get("Items", [])
        self.usage.queries += 1
        self.usage.items_scanned += int(response.get("ScannedCount", len(items)))
        self.usage.items_returned += len(items)
        last = response.get("LastEvaluatedKey")
        resume_at = (int(last[MODIFIED_AT]["N"]), _cart_id(last["pk"]["S"])) if last else None
        return ListingChunk([listed_cart_from_item(item) for item in items], resume_at)


def _filter_expression(cart_filter: CartFilter, expression: _Expression) -> str:
    """The non-key part of a filter, over projected attributes (mirrors ``CartFilter.matches``)."""
    conditions_before = len(expression.conditions)
    f = cart_filter
    # modified_from/to are in the key condition (a filter may not name a key attribute).
    expression.between("cart_created_at", f.created_from, f.created_to)
    expression.between("abandoned_at", f.abandoned_from, f.abandoned_to)
    if f.customer_id is not None:
        expression.equals("customer_id", _number(f.customer_id))
    if f.customer_email is not None:
        expression.equals("customer_email", {"S": f.customer_email})
    if f.skip_empty_email:
        expression.conditions.append(f"attribute_exists({expression.name('customer_email')})")
    expression.between("cart_total", f.min_total, f.max_total)
    if f.currency is not None:
        expression.equals("currency", {"S": f.currency})
    if f.stages:
        stage = expression.name("last_abandoned_stage")
        options = ", ".join(expression.value(_number(s)) for s in f.stages)
        expression.conditions.append(f"{stage} IN ({options})")
    if f.suppressed is not None:
        exists = "attribute_exists" if f.suppressed else "attribute_not_exists"
        expression.conditions.append(f"{exists}({expression.name('suppressed_at')})")
    added = expression.conditions[conditions_before:]
    del expression.conditions[conditions_before:]
    return " AND ".join(added)


def _number(value: object) -> dict[str, str]:
    return {"N": str(value)}


def _cart_id(pk: str) -> str:
    # CART#<store>#<cart>: cart ids may themselves contain '#'.
    return pk.split("#", 2)[2]
