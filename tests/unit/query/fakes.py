"""In-memory stand-ins for the query API's adapters (no sockets in the unit tier)."""

from __future__ import annotations

from dataclasses import dataclass, field

from cartwatch.domain.lifecycle import CartStatus
from cartwatch.domain.listing import CartFilter, ListedCart, ListingChunk, Position


@dataclass
class ListingUsage:
    queries: int = 0
    items_scanned: int = 0  # what DynamoDB would evaluate (and bill), filtered out or not
    items_returned: int = 0


@dataclass
class FakeListingIndex:
    """The listing index over a list of carts: per status partition, newest ``modified_at`` first."""

    carts: list[ListedCart] = field(default_factory=list)
    usage: ListingUsage = field(default_factory=ListingUsage)

    def chunk(
        self,
        store_hash: str,
        status: CartStatus,
        cart_filter: CartFilter,
        *,
        start: Position | None,
        evaluate: int,
    ) -> ListingChunk:
        low, high = cart_filter.key_range(status)
        partition = sorted(
            (
                c
                for c in self.carts
                if c.store_hash == store_hash
                and c.status is status
                and (low is None or c.modified_at >= low)
                and (high is None or c.modified_at <= high)
            ),
            key=lambda c: (c.modified_at, c.cart_id),
            reverse=True,
        )
        if start is not None:
            partition = [c for c in partition if (c.modified_at, c.cart_id) < start]
        evaluated = partition[:evaluate]
        self.usage.queries += 1
        self.usage.items_scanned += len(evaluated)
        kept = [c for c in evaluated if cart_filter.matches(c)]
        self.usage.items_returned += len(kept)
        more = len(partition) > evaluate
        last = evaluated[-1] if evaluated and more else None
        return ListingChunk(kept, (last.modified_at, last.cart_id) if last else None)


class FakeStores:
    def __init__(self, *known: str) -> None:
        self.known = set(known)

    def get(self, store_hash: str) -> object | None:
        return object() if store_hash in self.known else None
