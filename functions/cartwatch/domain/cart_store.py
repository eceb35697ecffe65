"""The cart store: the port the services keep carts behind, in domain terms.

Two implementations honour it: the DynamoDB adapter (``adapters/cart_table/store.py``) and
the in-memory store of the unit tests (``tests/memory_cart_store.py``); one contract suite
(``tests/cart_store_contract.py``) runs against both, so they cannot drift.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

from cartwatch.domain.cart_record import CartRecord, CartRef, DueEntry, Tombstone
from cartwatch.domain.shopper import SHOPPER_CARTS_READ
from cartwatch.domain.write_plan import Conflict, WritePlan


class CartStore(Protocol):
    def load(self, store_hash: str, cart_id: str) -> CartRecord | Tombstone | None:
        """The cart as stored now (a strongly consistent read)."""
        ...

    def load_many(self, refs: Iterable[CartRef]) -> dict[CartRef, CartRecord | Tombstone]:
        """Many carts as a recent read saw them; carts never seen are left out.

        Eventually consistent: a cart may be older than the one stored (or missing though
        stored).  Every write is guarded by the version it was planned from, so a plan made
        from an older cart ends in a ``Conflict``, never in a lost change.
        """
        ...

    def due_entries(self, shard: str, now: int, page_size: int = 200) -> Iterator[list[DueEntry]]:
        """Pages of the due index's entries in ``shard`` due at ``now``.

        Eventually consistent, and a due time is only a lower bound: an entry is a hint the
        sweep's conditional write re-checks.
        """
        ...

    def outbox_entries(self, shard: str, due_by: int, page_size: int = 100) -> Iterator[list[CartRef]]:
        """Pages of the carts whose outbox slot sits in ``shard`` (``OUTBOX#nn`` or ``PARKED``)
        and is due by ``due_by``.  Eventually consistent: a hint the relay re-reads."""
        ...

    def shopper_carts(self, store_hash: str, key: str, limit: int = SHOPPER_CARTS_READ) -> list[CartRef]:
        """Up to ``limit`` carts whose shopper is ``key`` (``ShopperSlot.key``), the latest
        recorded first.  Eventually consistent: a hint the publisher re-reads."""
        ...

    def apply(self, plan: WritePlan) -> CartRecord | Conflict:
        """Make the plan's write atomically if its guard holds: the cart as written, else the conflict."""
        ...

    def erase(self, tombstone: Tombstone) -> bool:
        """Replace a cart, with every index entry, by its tombstone; False when there is no cart."""
        ...

    def extend_tombstone(self, tombstone: Tombstone, expires_at: int) -> None:
        """Keep an erased cart's tombstone until ``expires_at`` (never shortens it)."""
        ...
