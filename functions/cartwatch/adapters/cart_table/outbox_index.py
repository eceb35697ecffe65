"""The outbox index: carts whose latest event is still unpublished, by partition and due time.

Sparse — only items holding an outbox slot appear, and the publisher removes the slot as it
publishes — so a query reads the stuck (or parked) entries and nothing else, however many
carts the table holds (docs/architecture.md, the outbox safety net).  Keys only: the relay
reads each cart itself, strongly consistent, before it acts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from cartwatch.adapters.cart_table import attributes as attr
from cartwatch.adapters.cart_table.index_pages import index_pages
from cartwatch.domain.cart_record import CartRef
from cartwatch.resources import OUTBOX_INDEX

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def outbox_entries(
    client: DynamoDBClient, table: str, shard: str, due_by: int, page_size: int
) -> Iterator[list[CartRef]]:
    for items in index_pages(client, table, OUTBOX_INDEX, shard, due_by, page_size):
        yield [attr.cart_ref_of(item[attr.PK]["S"]) for item in items]
