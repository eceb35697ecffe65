"""The query API's use cases: list carts, show one, suppress its reminders, erase it, a store's figures.

Everything is answered from cartwatch's own state — never from BigCommerce, whose API quota
belongs to the store.  Listings read the listing index only (``domain.listing.ListingIndex``);
a listing over several statuses merges one newest-first stream per status partition, read
in small chunks so a page evaluates little more than it returns.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from cartwatch.adapters.store_registry import StoreDirectory
from cartwatch.domain import history
from cartwatch.domain.cart_record import CartRecord, Tombstone, listed_cart
from cartwatch.domain.cart_store import CartStore
from cartwatch.domain.cart_views import (
    CartDetail,
    CartPage,
    StoreStats,
    detail_view,
    store_stats,
    summary_view,
)
from cartwatch.domain.daily_figures import DailyCounters, day_of
from cartwatch.domain.lifecycle import CartStatus, suppress
from cartwatch.domain.listing import (
    MAX_EVALUATE,
    CartFilter,
    ListedCart,
    ListingIndex,
    Position,
    every_listed,
)
from cartwatch.domain.stages import CART_LIFETIME_SECONDS
from cartwatch.domain.write_plan import Conflict
from cartwatch.domain.write_planner import WritePlanner
from cartwatch.service.cursors import CursorCodec, CursorState

_MAX_ATTEMPTS = 4
# The smallest chunk worth a round trip when several partitions are merged.
_MIN_CHUNK = 5
_MAX_CHUNK = MAX_EVALUATE


class StoreNotFound(LookupError):
    """No such store (never added, or removed)."""


class CartNotFound(LookupError):
    """No such cart in this store (never seen, expired, or erased)."""


class CartBusy(RuntimeError):
    """The cart kept changing while we tried to write it; the client may retry."""


@dataclass
class _Stream:
    """One status partition of a listing, read newest first, a chunk at a time."""

    status: CartStatus
    position: Position | None  # resume after this (None: from the newest)
    done: bool = False
    buffer: deque[ListedCart] = field(default_factory=deque)
    after_buffer: Position | None = None  # where the partition resumes once the buffer is used
    scanned: int = 0
    returned: int = 0

    @property
    def selectivity(self) -> float:
        # Share of evaluated items the filter kept, seen so far (optimistic before any read).
        return self.returned / self.scanned if self.scanned else 1.0

    def take(self) -> ListedCart:
        cart = self.buffer.popleft()
        self.position = (cart.modified_at, cart.cart_id)
        if not self.buffer:
            self.position = self.after_buffer
            self.done = self.after_buffer is None
        return cart


class CartQueries:
    def __init__(
        self,
        carts: CartStore,
        planner: WritePlanner,
        listing: ListingIndex,
        stores: StoreDirectory,
        cursors: CursorCodec,
        figures: DailyCounters,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._carts = carts
        self._planner = planner
        self._listing = listing
        self._stores = stores
        self._cursors = cursors
        self._figures = figures
        self._clock = clock

    # --- listing ----------------------------------------------------------------------------

    def list_carts(
        self, store_hash: str, cart_filter: CartFilter, *, limit: int, cursor: str | None = None
    ) -> CartPage:
        """One page of the store's listed carts matching ``cart_filter``, newest transition first."""
        self._require_store(store_hash)
        fingerprint = cart_filter.fingerprint()
        start = (
            self._cursors.read(cursor, store_hash, fingerprint)
            if cursor
            else CursorState(positions={}, done=frozenset())
        )
        streams = [
            _Stream(status, start.positions.get(status.value))
            for status in cart_filter.status_partitions
            if status.value not in start.done
        ]
        bounded = _below(cart_filter, start.watermark)
        carts: list[ListedCart] = []
        while len(carts) < limit:
            remaining = limit - len(carts)
            for stream in streams:
                self._fill(store_hash, bounded, stream, remaining, len(streams))
            live = [stream for stream in streams if stream.buffer]
            if not live:
                break
            newest = max(live, key=lambda s: (s.buffer[0].modified_at, s.buffer[0].cart_id))
            carts.append(newest.take())
        next_cursor = None
        if any(not stream.done for stream in streams):
            state = CursorState(
                positions={s.status.value: s.position for s in streams if not s.done},
                done=frozenset({s.status.value for s in streams if s.done} | set(start.done)),
                watermark=start.watermark if start.watermark is not None else _newest(carts),
            )
            next_cursor = self._cursors.issue(store_hash, fingerprint, state)
        return CartPage(carts=[summary_view(cart) for cart in carts], next_cursor=next_cursor)

    def _fill(
        self, store_hash: str, cart_filter: CartFilter, stream: _Stream, remaining: int, streams: int
    ) -> None:
        """Read chunks until the stream has a cart buffered or is exhausted."""
        while not stream.buffer and not stream.done:
            # Enough to fill the page at the selectivity seen so far; with several partitions
            # merged, a share of it, so the items read and not returned stay few.
            wanted = math.ceil(remaining / streams) if streams > 1 else remaining
            evaluate = math.ceil(wanted / max(stream.selectivity, 0.01))
            evaluate = min(max(evaluate, _MIN_CHUNK if streams > 1 else 1), _MAX_CHUNK)
            chunk = self._listing.chunk(
                store_hash, stream.status, cart_filter, start=stream.position, evaluate=evaluate
            )
            stream.scanned += evaluate if chunk.resume_at is not None else max(len(chunk.carts), 1)
            stream.returned += len(chunk.carts)
            stream.buffer.extend(chunk.carts)
            stream.after_buffer = chunk.resume_at
            if not chunk.carts:
                stream.position = chunk.resume_at
                stream.done = chunk.resume_at is None

    def stats(self, store_hash: str, start: int, end: int) -> StoreStats:
        """The store's figures for every UTC day from ``start``'s to ``end``'s, and for them all.

        One query of the store's daily counters (``adapters/daily_counters.py``), which the
        figure tally keeps as carts change — never a read of the carts themselves.
        """
        self._require_store(store_hash)
        first, last = day_of(start), day_of(end)
        return store_stats(store_hash, first, last, self._figures.read(store_hash, first, last))

    # --- one cart ---------------------------------------------------------------------------

    def cart(self, store_hash: str, cart_id: str) -> CartDetail:
        return _detail(self._load(store_hash, cart_id))

    def suppress(self, store_hash: str, cart_id: str) -> CartDetail:
        """Stop the cart's abandonment stages: out of the due index, marked, recorded."""
        now = int(self._clock())
        for _attempt in range(_MAX_ATTEMPTS):
            stored = self._load(store_hash, cart_id)
            after = suppress(stored.state, now)
            if after == stored.state:
                return _detail(stored)
            plan = self._planner.revision(
                stored,
                after,
                self._stores.stages_for(store_hash, after.channel_id),
                recorded_at=now,
                entry=history.suppression(after, now),
            )
            written = self._carts.apply(plan)
            if not isinstance(written, Conflict):
                return _detail(written)
        raise CartBusy(f"cart {cart_id} kept changing; try again")

    def erase(self, store_hash: str, cart_id: str) -> None:
        """Erase the cart and its personal data, leaving a tombstone.

        The tombstone outlives BigCommerce's own cart lifetime so that webhooks still
        arriving for the cart are recognized (the processor stretches it while they come).
        """
        if not self._erase_one(store_hash, cart_id, int(self._clock())):
            raise CartNotFound(f"no cart {cart_id} in store {store_hash}")

    def erase_shopper(self, store_hash: str, email: str) -> list[str]:
        """Erase every cart of the shopper with this email, as :meth:`erase` does one; their ids.

        A cart holds personal data only once cartwatch captured it — at abandonment (the
        snapshot) or when its order was recorded — and either lists it, so the listing index
        finds them all: every status partition of the store, filtered on the normalized email
        (a GDPR request is rare; it reads the store's whole listing, not a write per webhook).
        """
        self._require_store(store_hash)
        shoppers_carts = [
            cart.cart_id for cart in every_listed(self._listing, store_hash, CartFilter(customer_email=email))
        ]
        now = int(self._clock())
        return sorted(
            cart_id for cart_id in dict.fromkeys(shoppers_carts) if self._erase_one(store_hash, cart_id, now)
        )

    def _erase_one(self, store_hash: str, cart_id: str, now: int) -> bool:
        return self._carts.erase(
            Tombstone(store_hash, cart_id, erased_at=now, expires_at=now + CART_LIFETIME_SECONDS)
        )

    # --- internals --------------------------------------------------------------------------

    def _load(self, store_hash: str, cart_id: str) -> CartRecord:
        stored = self._carts.load(store_hash, cart_id)
        if not isinstance(stored, CartRecord):
            raise CartNotFound(f"no cart {cart_id} in store {store_hash}")
        return stored

    def _require_store(self, store_hash: str) -> None:
        if self._stores.get(store_hash) is None:
            raise StoreNotFound(f"no store {store_hash}")


def _below(cart_filter: CartFilter, watermark: int | None) -> CartFilter:
    """The filter, capped at a listing's watermark (see ``CursorState.watermark``)."""
    if watermark is None:
        return cart_filter
    upper = watermark if cart_filter.transitioned_to is None else min(cart_filter.transitioned_to, watermark)
    return replace(cart_filter, transitioned_to=upper)


def _newest(carts: list[ListedCart]) -> int | None:
    return max((cart.modified_at for cart in carts), default=None)


def _detail(record: CartRecord) -> CartDetail:
    return detail_view(
        listed_cart(record),
        record.state,
        record.history,
        history.published_events(record.state, record.history),
    )
