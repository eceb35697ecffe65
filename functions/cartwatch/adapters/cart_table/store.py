"""``DynamoCartStore``: the cart store on the cartwatch table.

Every write plan is one conditional request (``rendering``) guarded by the version it was
planned from, and a failed condition comes back as a
:class:`~cartwatch.domain.write_plan.Conflict` carrying the stored cart — a domain outcome,
not an exception for callers to untangle.  So the batch read (``load_many``) may be
eventually consistent, at half the read units: a cart it saw older than stored costs a
conflict, and the conflict brings the stored cart.  ``load`` reads strongly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from cartwatch.adapters.cart_table import attributes as attr
from cartwatch.adapters.cart_table import due_index, erasure, outbox_index, shopper_index
from cartwatch.adapters.cart_table.items import Item, is_tombstone, record_from_item, stored_from_item
from cartwatch.adapters.cart_table.rendering import render
from cartwatch.domain.cart_record import CartRecord, CartRef, DueEntry, Tombstone
from cartwatch.domain.shopper import SHOPPER_CARTS_READ
from cartwatch.domain.write_plan import Conflict, Revision, WritePlan

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_BATCH_GET_LIMIT = 100


class DynamoCartStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # --- reads ---------------------------------------------------------------------------------

    def load(self, store_hash: str, cart_id: str) -> CartRecord | Tombstone | None:
        response = self._client.get_item(
            TableName=self._table, Key=attr.cart_key(store_hash, cart_id), ConsistentRead=True
        )
        item = response.get("Item")
        return stored_from_item(item) if item else None

    def load_many(self, refs: Iterable[CartRef]) -> dict[CartRef, CartRecord | Tombstone]:
        """Many carts at once (BatchGetItem, 100 keys a call, eventually consistent); absent carts
        are left out."""
        unique = list(dict.fromkeys(refs))
        found: dict[CartRef, CartRecord | Tombstone] = {}
        for start in range(0, len(unique), _BATCH_GET_LIMIT):
            keys = [attr.cart_key(store, cart) for store, cart in unique[start : start + _BATCH_GET_LIMIT]]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": False}}
            while request:
                response = self._client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self._table, []):
                    found[(item[attr.STORE_HASH]["S"], item[attr.CART_ID]["S"])] = stored_from_item(item)
                request = response.get("UnprocessedKeys") or {}
        return found

    def due_entries(self, shard: str, now: int, page_size: int = 200) -> Iterator[list[DueEntry]]:
        """Pages of one due-index shard's entries due at ``now`` (eventually consistent)."""
        return due_index.due_entries(self._client, self._table, shard, now, page_size)

    def outbox_entries(self, shard: str, due_by: int, page_size: int = 100) -> Iterator[list[CartRef]]:
        """Pages of the outbox index's carts in ``shard`` due by ``due_by`` (eventually consistent)."""
        return outbox_index.outbox_entries(self._client, self._table, shard, due_by, page_size)

    def shopper_carts(self, store_hash: str, key: str, limit: int = SHOPPER_CARTS_READ) -> list[CartRef]:
        """The shopper's carts in the store, the latest recorded first (eventually consistent)."""
        return shopper_index.shopper_carts(self._client, self._table, store_hash, key, limit)

    # --- writes --------------------------------------------------------------------------------

    def apply(self, plan: WritePlan) -> CartRecord | Conflict:
        """Make the write the plan describes, if its guard holds; the cart as written, or the conflict."""
        from botocore.exceptions import ClientError

        request = render(plan, self._table)
        try:
            response = getattr(self._client, request.operation)(**request.parameters)
        except ClientError as error:
            if not erasure.is_condition_failure(error):
                raise
            old: Item | None = error.response.get("Item")  # type: ignore[assignment]
            if old and attr.STATUS in old and not is_tombstone(old):
                return Conflict(current=record_from_item(old))
            return Conflict(current=None)
        if isinstance(plan, Revision) and plan.base is None:
            return plan.record
        return record_from_item(response["Attributes"])

    def erase(self, tombstone: Tombstone) -> bool:
        """Replace a cart by its tombstone (GDPR erasure); False when there is no such cart."""
        return erasure.put_tombstone(self._client, self._table, tombstone)

    def extend_tombstone(self, tombstone: Tombstone, expires_at: int) -> None:
        """Keep refusing an erased cart's webhooks until ``expires_at``."""
        erasure.extend_tombstone(self._client, self._table, tombstone, expires_at)
