"""A cart as cartwatch keeps it: its lifecycle state, and what only the store knows about it.

The services read and write carts in these terms, never in storage items: a
:class:`CartRecord` (or a :class:`Tombstone` once erased) comes out of the cart store, a
write plan (``domain/write_plan.py``) goes in.  How a record is laid out in DynamoDB is the
adapter's business (``adapters/cart_table/``).

Pure: no I/O, no clock.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from decimal import Decimal

from cartwatch.domain.history import Transition
from cartwatch.domain.lifecycle import CartState, CartStatus
from cartwatch.domain.listing import ListedCart

CartRef = tuple[str, str]  # (store_hash, cart_id)


@dataclass(frozen=True)
class OutboxEvent:
    """An event intent, committed in the same write as the transition that causes it.

    The table's stream delivers the written record to the outbox relay, which publishes the
    event; every later write clears it, so the stream never shows it twice.
    """

    type: str
    at: int
    stage: int = 0
    stage_count: int = 0

    def to_json(self) -> str:
        return json.dumps(
            {"type": self.type, "at": self.at, "stage": self.stage, "stage_count": self.stage_count},
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> OutboxEvent:
        raw = json.loads(text)
        return cls(
            type=raw["type"], at=int(raw["at"]), stage=int(raw["stage"]), stage_count=int(raw["stage_count"])
        )


@dataclass(frozen=True)
class OutboxSlot:
    """The cart's latest event while it is unpublished: the outbox's safety net.

    ``pending_event`` only triggers the stream and every later write clears it; this slot
    stays until the publisher has published (or dropped) the event.  Its entry in the sparse
    outbox index (``shard``, ``due``) is how the scheduled relay finds events the stream never
    delivered — ``due`` is when that relay may take over (commit time plus a grace period, or
    later when a store's quota deferred it).  ``parked`` holds the reason a publish failed for
    good; a parked slot sits in the index's parked partition (``shard`` is ``PARKED_SHARD``)
    until ``cartwatch dlq redrive`` moves it back.

    A purchase's event (``shard`` None) has no outbox-index entry: the bought cart keeps its
    due-index entry instead, no later than ``due``, and the rescue run finds it there.  Closing
    a cart takes it out of the due index anyway, so keeping the entry costs no more index
    units than removing it would — where a separate outbox entry would cost one more.

    One slot, the latest event: an earlier unpublished event of the cart is obsolete once a
    later transition happened (a stage announced after the shopper came back, an abandonment
    after the purchase) — the stream still delivers it, the safety net does not resurrect it.
    """

    event: OutboxEvent
    shard: str | None  # None: held by the cart's due-index entry (a purchase's event)
    due: int
    parked: str | None = None

    @property
    def held_by_due_entry(self) -> bool:
        return self.shard is None

    @property
    def is_parked(self) -> bool:
        return self.parked is not None


def outbox_shard(cart_id: str, shards: int) -> str:
    """A cart's partition in the outbox index while its event is live (parked: ``PARKED``)."""
    return f"OUTBOX#{zlib.crc32(cart_id.encode()) % shards:02d}"


def outbox_shard_names(shards: int) -> list[str]:
    return [f"OUTBOX#{n:02d}" for n in range(shards)]


PARKED_SHARD = "PARKED"


@dataclass(frozen=True)
class DueSlot:
    """A cart's entry in the due index: its shard, and a lower bound of when it next falls due."""

    shard: str
    at: int


def due_shard(cart_id: str, shards: int) -> str:
    """A cart's due-index shard: stable for the cart, spread evenly over ``shards``."""
    return f"DUE#{zlib.crc32(cart_id.encode()) % shards:02d}"


def shard_names(shards: int) -> list[str]:
    return [f"DUE#{n:02d}" for n in range(shards)]


@dataclass(frozen=True)
class ShopperSlot:
    """A cart's entry in the shopper index: its shopper's key (``shopper.shopper_key``) and when
    the publisher recorded it (the index's sort key: a shopper's latest carts come first)."""

    key: str
    at: int


@dataclass(frozen=True)
class DueEntry:
    """What the due index shows of a cart: its key, a few slow-moving fields, and its slot.

    Index reads are eventually consistent and ``due.at`` is only a lower bound, so an entry
    is a hint that a write re-checks, never the truth about the cart.
    """

    store_hash: str
    cart_id: str
    status: CartStatus
    stage: int
    due: DueSlot
    abandoned_at: int | None
    # The cart's channel as far as known: which stages it follows (``StoreSettings.stages_for``).
    channel_id: int | None = None


@dataclass(frozen=True)
class CartSummary:
    """A cart's customer and value, flattened from its snapshot or order for the listing's filters."""

    customer_id: int | None = None
    customer_email: str | None = None  # normalized (``listing.normalize_email``)
    total: Decimal | None = None
    currency: str | None = None


@dataclass(frozen=True)
class CartRecord:
    """A stored cart.  Writes never change ``state.version`` themselves: the store counts it."""

    state: CartState
    due: DueSlot | None = None  # None: out of the due index (closed, suppressed, a recovery copy)
    history: tuple[Transition, ...] = ()
    # When the cart's latest transition was recorded, once it is listed: the listing index's
    # sort key (its partition is the store and ``state.status``).  None: not listed.
    listed_at: int | None = None
    # The cart's ``last_activity_at`` when ``listed_at`` was last written (see
    # ``write_plan.listed_activity``): what the listing shows and filters as its last activity.
    listed_activity_at: int | None = None
    snapshot: str | None = None  # JSON of the CartSnapshot captured at stage 1
    order: str | None = None  # JSON of the OrderSummary the publisher recorded
    summary: CartSummary = field(default_factory=CartSummary)
    # Set on the copy BigCommerce made of an abandoned cart for its recovery link: the
    # original cart's id.  A copy is never scheduled; buying it recovers the original.
    recovery_of: str | None = None
    # Who the shopper is, once the publisher learnt it (a stage-1 snapshot, or the order of a
    # purchase); None: unknown, and the cart is reminded about on its own.
    shopper: ShopperSlot | None = None
    expires_at: int | None = None  # when the table's TTL may delete it
    outbox: OutboxEvent | None = None
    unpublished: OutboxSlot | None = None

    @property
    def ref(self) -> CartRef:
        return self.state.store_hash, self.state.cart_id

    @property
    def order_recorded(self) -> bool:
        return self.order is not None


@dataclass(frozen=True)
class Tombstone:
    """What is left of an erased cart: enough to refuse its webhooks until ``expires_at``."""

    store_hash: str
    cart_id: str
    erased_at: int
    expires_at: int


def listed_cart(record: CartRecord) -> ListedCart:
    """The record as the listing shows it.

    A cart that is not listed has no ``listed_at``: its latest transition is then the last one
    in its history, or its creation.
    """
    state = record.state
    modified = record.listed_at
    if modified is None:
        modified = record.history[-1].at if record.history else state.cart_created_at
    return ListedCart(
        store_hash=state.store_hash,
        cart_id=state.cart_id,
        status=state.status,
        stage=state.stage,
        stage_reached=state.last_abandoned_stage,
        created_at=state.cart_created_at,
        modified_at=modified,
        abandoned_at=state.abandoned_at,
        last_activity_at=state.last_activity_at if record.listed_at is None else record.listed_activity_at,
        closed_at=state.closed_at,
        order_id=state.order_id,
        channel_id=state.channel_id,
        suppressed_at=state.suppressed_at,
        customer_id=record.summary.customer_id,
        customer_email=record.summary.customer_email,
        total=record.summary.total,
        currency=record.summary.currency,
        snapshot_json=record.snapshot,
        order_json=record.order,
    )
