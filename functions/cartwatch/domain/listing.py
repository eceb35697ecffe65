"""Which carts the query API lists, and what a listing filter means.

A cart is *listed* once cartwatch has something to say about it: it was abandoned (reached
stage 1), a merchant suppressed it, or it was bought and the publisher recorded its order.
A cart that is open and was never abandoned is not listed: listing every cart as it opens
would cost an index write per cart (architecture decision 17), so ``status=active`` lists
the carts that came back after an abandonment (or were suppressed while active) — unless its
store opted in (``list_active``), which lists every cart with shopper activity from its first
write and pays those index writes.

``modified_at`` is the time of a listed cart's latest *transition* (abandonment stage,
reactivation, conversion, deletion, expiry, suppression) — not of every BigCommerce edit,
which would cost an index write per webhook.  It never decreases, and it is never earlier
than the cart's creation or its abandonment, so ``created_from`` and ``abandoned_from``
also bound the index range (see :meth:`CartFilter.key_range`).  The ``transitioned_from/to``
filters compare it.

``last_activity_at`` is the cart's own modification time — the last BigCommerce webhook
of shopper activity — which API2Cart's ``modified_from/to`` compare, and so do cartwatch's.
The listing index projects it; it moves only while a cart is open, and an open listed cart
(one that came back after an abandonment) is the only kind whose webhooks then write the
index.  An abandoned cart's last activity cannot move without a transition (activity ends
the abandonment), so for the ``abandoned`` partition ``modified_from`` bounds the index
range too.

Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Protocol

from cartwatch.domain.lifecycle import CartState, CartStatus

LISTED_STATUSES: tuple[CartStatus, ...] = tuple(CartStatus)
MAX_PAGE_SIZE = 250

Position = tuple[int, str]  # (modified_at, cart_id) of the last cart read: where a partition resumes
# The most items one listing query may evaluate (DynamoDB also stops at 1 MB).
MAX_EVALUATE = 1000


def is_listed(state: CartState, *, order_recorded: bool, list_active: bool = False) -> bool:
    """Whether the cart is listed; ``list_active``: its store lists every cart with shopper
    activity from its first write (``stores add|update --list-active``), at an index write each."""
    if state.ever_abandoned or state.suppressed:
        return True
    if list_active and state.activity_seen:
        return True
    return state.status in (CartStatus.CONVERTED, CartStatus.RECOVERED) and order_recorded


def normalize_email(email: str) -> str:
    return email.strip().casefold()


@dataclass(frozen=True)
class ListedCart:
    """What the listing index holds for one cart (its projected attributes)."""

    store_hash: str
    cart_id: str
    status: CartStatus
    stage: int
    stage_reached: int
    created_at: int
    modified_at: int
    abandoned_at: int | None = None
    last_activity_at: int | None = None  # None: written before the index projected it
    closed_at: int | None = None
    order_id: int | None = None
    channel_id: int | None = None
    suppressed_at: int | None = None
    customer_id: int | None = None
    customer_email: str | None = None  # normalized (``normalize_email``)
    total: Decimal | None = None
    currency: str | None = None
    snapshot_json: str | None = None
    order_json: str | None = None


@dataclass(frozen=True)
class CartFilter:
    """A listing query.  Time bounds are epoch seconds, inclusive at both ends.

    ``modified_from/to`` compare the cart's last activity, ``transitioned_from/to`` the time
    of its latest transition (the index's sort key).

    ``statuses`` empty means every status; ``stages`` matches the highest stage the cart's
    latest abandonment reached (``last_abandoned_stage``).  ``min_total``/``max_total``
    compare the order total of a bought cart, else the cart total at abandonment, in the
    cart's own currency (narrow with ``currency``).
    """

    statuses: tuple[CartStatus, ...] = ()
    created_from: int | None = None
    created_to: int | None = None
    modified_from: int | None = None
    modified_to: int | None = None
    transitioned_from: int | None = None
    transitioned_to: int | None = None
    abandoned_from: int | None = None
    abandoned_to: int | None = None
    customer_id: int | None = None
    customer_email: str | None = None
    skip_empty_email: bool = False
    min_total: Decimal | None = None
    max_total: Decimal | None = None
    currency: str | None = None
    stages: tuple[int, ...] = ()
    suppressed: bool | None = None

    def __post_init__(self) -> None:
        if self.customer_email is not None:
            object.__setattr__(self, "customer_email", normalize_email(self.customer_email))
        if self.currency is not None:
            object.__setattr__(self, "currency", self.currency.upper())
        object.__setattr__(self, "statuses", tuple(dict.fromkeys(self.statuses)))
        object.__setattr__(self, "stages", tuple(sorted(set(self.stages))))

    @property
    def status_partitions(self) -> tuple[CartStatus, ...]:
        return self.statuses or LISTED_STATUSES

    def key_range(self, status: CartStatus) -> tuple[int | None, int | None]:
        """Bounds on ``modified_at`` (the index's sort key) implied by the filter, in one partition."""
        bounds = [self.transitioned_from, self.created_from, self.abandoned_from]
        if status is CartStatus.ABANDONED:
            bounds.append(self.modified_from)  # its last activity precedes its transition
        lower = [b for b in bounds if b is not None]
        return (max(lower) if lower else None, self.transitioned_to)

    def fingerprint(self) -> str:
        """A digest of the filter, so a cursor cannot be replayed with other filters."""
        canonical = json.dumps(asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def matches(self, cart: ListedCart) -> bool:
        """The filter's meaning, in Python (the listing index evaluates it in DynamoDB)."""
        checks = (
            not self.statuses or cart.status in self.statuses,
            _within(cart.created_at, self.created_from, self.created_to),
            _within(cart.modified_at, self.transitioned_from, self.transitioned_to),
            _within_optional(cart.last_activity_at, self.modified_from, self.modified_to),
            _within_optional(cart.abandoned_at, self.abandoned_from, self.abandoned_to),
            self.customer_id is None or cart.customer_id == self.customer_id,
            self.customer_email is None or cart.customer_email == self.customer_email,
            not self.skip_empty_email or bool(cart.customer_email),
            self.min_total is None or (cart.total is not None and cart.total >= self.min_total),
            self.max_total is None or (cart.total is not None and cart.total <= self.max_total),
            self.currency is None or cart.currency == self.currency,
            not self.stages or cart.stage_reached in self.stages,
            self.suppressed is None or (cart.suppressed_at is not None) == self.suppressed,
        )
        return all(checks)


def _within(value: int, low: int | None, high: int | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def _within_optional(value: int | None, low: int | None, high: int | None) -> bool:
    if low is None and high is None:
        return True
    return value is not None and _within(value, low, high)


@dataclass(frozen=True)
class ListingChunk:
    carts: list[ListedCart]
    # Where the next chunk starts; None when the partition has no more carts in range.
    resume_at: Position | None


class ListingIndex(Protocol):
    """The listing, one store-and-status partition at a time, newest transition first."""

    def chunk(
        self,
        store_hash: str,
        status: CartStatus,
        cart_filter: CartFilter,
        *,
        start: Position | None,
        evaluate: int,
    ) -> ListingChunk:
        """Up to ``evaluate`` carts of the partition after ``start`` in the filter's key range, filtered."""
        ...


def every_listed(listing: ListingIndex, store_hash: str, cart_filter: CartFilter) -> Iterator[ListedCart]:
    """Every listed cart of the store matching ``cart_filter``, across all statuses."""
    for status in LISTED_STATUSES:
        position: Position | None = None
        while True:
            chunk = listing.chunk(store_hash, status, cart_filter, start=position, evaluate=MAX_EVALUATE)
            yield from chunk.carts
            if chunk.resume_at is None:
                break
            position = chunk.resume_at
