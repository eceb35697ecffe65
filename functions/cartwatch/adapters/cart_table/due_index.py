"""The due index: pages of one shard's entries that are due, oldest first.

Reads only what is due — a sweep costs one query page per shard plus the due entries, flat
as tracked carts grow (docs/architecture.md, decisions 6 and 7).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from cartwatch.adapters.cart_table.index_pages import index_pages
from cartwatch.adapters.cart_table.items import due_entry_from_item
from cartwatch.domain.cart_record import DueEntry
from cartwatch.resources import DUE_INDEX

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def due_entries(
    client: DynamoDBClient, table: str, shard: str, now: int, page_size: int
) -> Iterator[list[DueEntry]]:
    for items in index_pages(client, table, DUE_INDEX, shard, now, page_size):
        yield [due_entry_from_item(item) for item in items]
