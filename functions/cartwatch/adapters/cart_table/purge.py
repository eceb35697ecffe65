"""Deleting every item of one store's carts — and its daily figures — a page at a time.

A filtered scan, not an index: purges are rare (uninstall, ``stores remove``), and an index
over every cart by store would cost a write unit for every cart ever seen (architecture
decision 14).  The scan is split into parallel segments (DynamoDB's ``Segment`` /
``TotalSegments``) and read one bounded page at a time, so the purge job can stop after any
page, remember where it was (``LastEvaluatedKey``) and go on in another invocation.
Deleting is idempotent: a page read twice deletes nothing the second time.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cartwatch.adapters.cart_table import attributes as attr

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

Item = dict[str, Any]

# Items a page evaluates (DynamoDB also stops a page at 1 MB read).
PAGE_ITEMS = 1000
_BATCH = 25  # BatchWriteItem's limit
_BACKOFF_BASE_SECONDS = 0.05
_BACKOFF_CAP_SECONDS = 2.0


class CartPurge:
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        page_items: int = PAGE_ITEMS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._table = table_name
        self._page_items = page_items
        self._sleep = sleep
        # Jitter only spreads retries apart; it needs no cryptographic randomness.
        self._rng = random.Random()  # noqa: S311

    def page(
        self, store_hash: str, *, segment: int, segments: int, start: Item | None
    ) -> tuple[int, Item | None]:
        """Delete the store's cart items and daily figures in one page of one scan segment.

        Returns the items deleted and where the segment goes on (None: it is finished).
        """
        request: dict[str, Any] = {
            "TableName": self._table,
            "Segment": segment,
            "TotalSegments": segments,
            "Limit": self._page_items,
            "FilterExpression": "begins_with(#pk, :prefix) OR #pk = :figures",
            "ExpressionAttributeNames": {"#pk": attr.PK, "#sk": attr.SK},
            "ExpressionAttributeValues": {
                ":prefix": {"S": attr.store_carts_prefix(store_hash)},
                ":figures": {"S": attr.stats_pk(store_hash)},
            },
            "ProjectionExpression": "#pk, #sk",
        }
        if start:
            request["ExclusiveStartKey"] = start
        response = self._client.scan(**request)
        keys = [{attr.PK: item[attr.PK], attr.SK: item[attr.SK]} for item in response.get("Items", [])]
        self._delete(keys)
        return len(keys), response.get("LastEvaluatedKey") or None

    def _delete(self, keys: list[Item]) -> None:
        for offset in range(0, len(keys), _BATCH):
            pending: dict[str, Any] = {
                self._table: [{"DeleteRequest": {"Key": key}} for key in keys[offset : offset + _BATCH]]
            }
            attempt = 0
            while pending:
                result = self._client.batch_write_item(RequestItems=pending)
                pending = result.get("UnprocessedItems") or {}
                if pending:
                    # Unprocessed items mean throttling: back off before asking again (AWS's
                    # guidance for BatchWriteItem), or the retries only add to the pressure.
                    attempt += 1
                    ceiling = min(_BACKOFF_CAP_SECONDS, _BACKOFF_BASE_SECONDS * 2**attempt)
                    self._sleep(self._rng.uniform(0, ceiling))
