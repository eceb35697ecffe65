"""One store's pipeline on the in-memory cart store, driven step by step: a shopper's carts.

The processor applies webhooks, the sweep runs when told, and the table's stream is the list
of writes that committed an event; each cart's records reach the publisher in the order they
were written (a stream shard per cart), in whatever batches a test chooses.  One clock for
all.  Every published event is logged with the store as it was at that moment, so a test can
check what held when each event went out.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from tests.memory_cart_store import MemoryCartStore
from tests.unit.pipeline_fakes import (
    GONE,
    PLANNER,
    STORE,
    T0,
    BigCommerce,
    Sns,
    Stores,
    clients,
    fixture,
    webhook,
)

from cartwatch.domain.cart_record import CartRecord
from cartwatch.domain.cart_webhooks import WebhookKind
from cartwatch.domain.cloud_events import CloudEvent
from cartwatch.domain.shopper import DEFAULT_REMINDERS, ReminderScope
from cartwatch.domain.write_plan import Conflict, WritePlan
from cartwatch.service.processing import CartProcessor
from cartwatch.service.publishing import OutboxRelay, RelayReport
from cartwatch.service.sweeping import AbandonmentSweep

# Jane, logged in (customer 11): every cart of hers names the same shopper, as her order does.
REGISTERED: dict[str, Any] = fixture("checkout_registered.json")["data"]


class StreamingStore(MemoryCartStore):
    """The in-memory cart store with the part of its table's stream the publisher sees: every
    write that committed an event."""

    def __init__(self) -> None:
        super().__init__()
        self.committed: list[CartRecord] = []

    def apply(self, plan: WritePlan) -> CartRecord | Conflict:
        written = super().apply(plan)
        if isinstance(written, CartRecord) and written.outbox is not None:
            self.committed.append(written)
        return written


@dataclass(frozen=True)
class Published:
    """An event as it went out, with every cart of the store as it was at that moment."""

    event: CloudEvent
    carts: dict[str, CartRecord]


@dataclass
class ShopperPipeline:
    reminders: ReminderScope = DEFAULT_REMINDERS
    checkouts: dict[str, Any] = field(default_factory=dict)  # cart id -> checkout (default: Jane's)
    now: int = T0

    def __post_init__(self) -> None:
        self.store = StreamingStore()
        self.api = BigCommerce(checkouts=self.checkouts)
        self.stores = Stores(reminders=self.reminders)
        self.sns = Sns()
        self.published: list[Published] = []
        self.reports: list[RelayReport] = []
        self._keys = itertools.count()
        self._handed = 0  # stream records handed out to the per-cart queues
        self._queues: dict[str, list[CartRecord]] = {}
        self.processor = CartProcessor(
            self.store, PLANNER, self.stores, check_uninstall=lambda _: None, clock=lambda: self.now
        )
        self.relay = OutboxRelay(
            self.store,
            PLANNER,
            self.stores,
            self.sns,
            clients(self.api),
            clock=lambda: self.now,
            on_published=self._log,
        )

    # --- the shopper and the store -------------------------------------------------------------

    def cart(self, cart_id: str, checkout: dict[str, Any] | None = None) -> None:
        """A new cart (Jane's unless another checkout is given)."""
        self.api.checkouts[cart_id] = checkout or REGISTERED
        self._webhook(cart_id, WebhookKind.CREATED)

    def activity(self, cart_id: str) -> None:
        self._webhook(cart_id, WebhookKind.UPDATED)

    def buy(self, cart_id: str, order_id: int) -> None:
        self._webhook(cart_id, WebhookKind.CONVERTED, order_id=order_id)
        self.api.checkouts[cart_id] = GONE  # BigCommerce deletes a cart as it becomes an order

    def _webhook(self, cart_id: str, kind: WebhookKind, **data: Any) -> None:
        self.processor.apply([webhook(cart_id, kind, self.now, key=f"w{next(self._keys)}", **data)])

    def tick(self, seconds: int) -> None:
        self.now += seconds

    def sweep(self) -> None:
        AbandonmentSweep(self.store, PLANNER, self.stores, clock=lambda: self.now).run(self.now)

    # --- the stream and the publisher -----------------------------------------------------------

    def waiting(self, cart_id: str) -> int:
        self._hand_out()
        return len(self._queues.get(cart_id, []))

    def publish(self, *cart_ids: str) -> RelayReport:
        """One batch: the oldest waiting record of each cart named, in that order."""
        self._hand_out()
        batch = [self._queues[c].pop(0) for c in cart_ids if self._queues.get(c)]
        return self._relay(batch)

    def publish_all(self) -> RelayReport:
        """One batch: every waiting record, in the order they were written."""
        self._hand_out()
        order = {id(record): n for n, record in enumerate(self.store.committed)}
        batch = sorted((r for queue in self._queues.values() for r in queue), key=lambda r: order[id(r)])
        self._queues.clear()
        return self._relay(batch)

    def _relay(self, batch: list[CartRecord]) -> RelayReport:
        errors, report = self.relay.relay(batch)
        assert errors == [None] * len(batch), errors
        self.reports.append(report)
        return report

    def _hand_out(self) -> None:
        for record in self.store.committed[self._handed :]:
            self._queues.setdefault(record.state.cart_id, []).append(record)
        self._handed = len(self.store.committed)

    def _log(self, event: CloudEvent) -> None:
        carts = {
            record.state.cart_id: record
            for record in self.store.load_many((STORE, cart_id) for cart_id in self.api.checkouts).values()
            if isinstance(record, CartRecord)
        }
        self.published.append(Published(event, carts))

    # --- what came out --------------------------------------------------------------------------

    def abandoned(self) -> list[tuple[str, int]]:
        """(cart, stage) of every abandoned event, in publishing order."""
        return [
            (p.event.subject, p.event.data.stage)  # type: ignore[attr-defined]
            for p in self.published
            if p.event.type.endswith(".abandoned")
        ]

    def stored(self, cart_id: str) -> CartRecord:
        record = self.store.load(STORE, cart_id)
        assert isinstance(record, CartRecord)
        return record

    def causes(self, cart_id: str) -> list[str]:
        return [entry.cause for entry in self.stored(cart_id).history]


__all__ = ["REGISTERED", "T0", "Published", "ShopperPipeline"]
