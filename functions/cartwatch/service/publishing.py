"""The outbox relay: stream records carrying an event intent → enriched CloudEvents on SNS.

A transition writes its event intent (the cart's outbox) in the same conditional write,
so state and event commit together; the table's stream delivers the cart as written here
at least once.  The relay enriches lazily — BigCommerce is called only
for a stage-1 abandonment (cart, customer, consent) and for a conversion (order value) —
builds the CloudEvent with its deterministic id, and publishes in SNS batches.  Records
whose publish failed are reported back so exactly those are retried, with the same ids.

After a publish the relay keeps what it learnt on the cart, in one conditional write each:
the stage-1 snapshot (for later stages, and the listing's customer and total filters) and
a bought cart's order (its value for the listing and the stats — and, for a cart bought
without being abandoned, its entry in the listing index).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from cartwatch.adapters.bigcommerce import BigCommerceClient, BigCommerceError, BigCommerceUnavailable
from cartwatch.adapters.event_publisher import OutgoingMessage, SnsEventPublisher
from cartwatch.adapters.store_clients import ClientFactory
from cartwatch.adapters.store_registry import StoreDirectory
from cartwatch.domain.cart import CartSnapshot, OrderSummary
from cartwatch.domain.cart_cloud_events import (
    abandoned_event,
    converted_event,
    recovered_event,
    sns_attributes,
)
from cartwatch.domain.cart_record import CartRecord, CartSummary
from cartwatch.domain.cart_store import CartStore
from cartwatch.domain.cloud_events import CartConverted, CartRecovered, CloudEvent
from cartwatch.domain.eligibility import EligibilityRules, SkipReason, skip_reason
from cartwatch.domain.event_types import ABANDONED, CONVERTED, RECOVERED
from cartwatch.domain.listing import normalize_email
from cartwatch.domain.write_plan import Conflict
from cartwatch.domain.write_planner import WritePlanner
from cartwatch.service.enrichment import fetch_order_summary, snapshot_abandoned_cart

logger = logging.getLogger(__name__)


class StoreUnavailable(RuntimeError):
    """The store's credentials are missing (removed or uninstalled): nothing to enrich with."""


@dataclass
class RelayReport:
    published: Counter[str] = field(default_factory=Counter)
    dropped_cart_gone: int = 0
    dropped_store_gone: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # eligibility rule failed → carts
    failed: int = 0
    deferred: int = 0  # not started for want of time; the stream retries them
    bigcommerce_calls: int = 0
    recovered_revenue: dict[str, str] = field(default_factory=dict)  # currency → total (decimal string)


@dataclass
class _Prepared:
    index: int
    event: CloudEvent
    record: CartRecord
    new_snapshot: CartSnapshot | None


class OutboxRelay:
    # Time a record may need: a stage-1 enrichment (BigCommerce calls with 3 s connect / 10 s
    # read timeouts), then the SNS publish and the guarded writes of the whole batch.
    RESERVE_MS = 20_000

    def __init__(
        self,
        carts: CartStore,
        planner: WritePlanner,
        stores: StoreDirectory,
        publisher: SnsEventPublisher,
        clients: ClientFactory,
        clock: Callable[[], float] = time.time,
        on_published: Callable[[CloudEvent], None] | None = None,
    ) -> None:
        self._carts = carts
        self._planner = planner
        self._stores = stores
        self._publisher = publisher
        self._clients = clients
        self._clock = clock
        self._on_published = on_published
        self._client_cache: dict[str, BigCommerceClient | None] = {}

    def relay(
        self, records: Sequence[CartRecord], remaining_ms: Callable[[], int] | None = None
    ) -> tuple[list[BaseException | None], RelayReport]:
        """Publish the outbox events of these carts as the stream saw them; per cart, None or its error.

        ``remaining_ms`` is the invocation's time left: a record is only started while there is
        room for its BigCommerce round trips and the publish after them.
        """
        report = RelayReport()
        errors: list[BaseException | None] = [None] * len(records)
        prepared: list[_Prepared] = []
        for index, record in enumerate(records):
            if remaining_ms is not None and remaining_ms() < self.RESERVE_MS:
                # A Lambda that times out fails the whole batch, published records included;
                # stopping here fails only the records not started, which the stream retries.
                for rest in range(index, len(records)):
                    errors[rest] = DeadlineReached("the invocation's time ran out before this record")
                report.deferred = len(records) - index
                break
            try:
                ready = self._prepare(index, record, report)
            except StoreUnavailable:
                # The store was removed or uninstalled the app: there is nobody to tell.
                report.dropped_store_gone += 1
                continue
            except BigCommerceUnavailable as error:
                errors[index] = error
                continue
            if ready is not None:
                prepared.append(ready)
        failures = self._publisher.publish(
            [OutgoingMessage(body=p.event.to_json(), attributes=sns_attributes(p.event)) for p in prepared]
        )
        failed_positions = {failure.index for failure in failures}
        for position, ready in enumerate(prepared):
            if position in failed_positions:
                errors[ready.index] = PublishFailed(f"SNS did not accept event {ready.event.id}")
                continue
            report.published[ready.event.type] += 1
            if self._on_published:
                self._on_published(ready.event)
            self._record(ready)
        report.failed = sum(1 for error in errors if error is not None)
        return errors, report

    def _record(self, ready: _Prepared) -> None:
        """Keep what the publish learnt on the cart, each in one guarded write."""
        state = ready.record.state
        if ready.new_snapshot is not None:
            # Later stages reuse this snapshot instead of calling BigCommerce again.
            snapshot = ready.new_snapshot
            self._carts.apply(
                self._planner.snapshot(state, snapshot.model_dump_json(), snapshot_summary(snapshot))
            )
            copy_id = snapshot.recovery_link.cart_id
            if copy_id:
                # The recovery link points at a copy of the cart: buying the copy must
                # recover this cart, and the copy must never be announced itself.
                self._mark_recovery_copy(state.store_hash, copy_id, state.cart_id)
        if isinstance(ready.event, CartRecovered | CartConverted):
            order = ready.event.data.order
            plan = self._planner.order(
                state, order.model_dump_json(), order_summary(order), recorded_at=int(self._clock())
            )
            if plan is not None:
                self._carts.apply(plan)

    def _skip(
        self, record: CartRecord, stage: int, reason: SkipReason, new_snapshot: CartSnapshot | None
    ) -> None:
        """No event for a cart that failed an eligibility rule: the rule goes into its history."""
        kept = (new_snapshot.model_dump_json(), snapshot_summary(new_snapshot)) if new_snapshot else None
        now = int(self._clock())
        self._carts.apply(self._planner.skipped(record.state, stage, reason.cause, now=now, snapshot=kept))

    def _mark_recovery_copy(self, store_hash: str, copy_id: str, original_id: str) -> None:
        """Usually the copy is new to us (its ``created`` webhook is still on the way); if its
        webhooks won the race, the cart they made is marked instead."""
        new_copy = self._planner.recovery_copy(store_hash, copy_id, original_id, now=int(self._clock()))
        if isinstance(self._carts.apply(new_copy), Conflict):
            self._carts.apply(self._planner.mark_recovery_copy(store_hash, copy_id, original_id))

    def _prepare(self, index: int, record: CartRecord, report: RelayReport) -> _Prepared | None:
        pending = record.outbox
        if pending is None:
            return None
        state = record.state
        if pending.type == ABANDONED:
            settings = self._stores.get(state.store_hash)
            rules = settings.eligibility if settings else EligibilityRules()
            snapshot = None if pending.stage == 1 else _snapshot(record)
            new_snapshot = None
            if snapshot is None:
                client = self._client(state.store_hash)
                calls_before = client.calls
                snapshot = snapshot_abandoned_cart(
                    client,
                    state.cart_id,
                    now=int(self._clock()),
                    recovery_links=bool(settings and settings.recovery_links),
                    rules=rules,
                )
                report.bigcommerce_calls += client.calls - calls_before
                if snapshot is None:
                    # BigCommerce no longer has the cart: it was bought or deleted and the
                    # webhook has not reached us yet.  No event; close the cart.
                    now = int(self._clock())
                    self._carts.apply(self._planner.gone(state, now=now, recorded_at=now))
                    report.dropped_cart_gone += 1
                    return None
                new_snapshot = snapshot
            reason = skip_reason(rules, snapshot)
            if reason is not None:
                self._skip(record, pending.stage, reason, new_snapshot)
                report.skipped[reason.value] += 1
                return None
            abandoned: CloudEvent = abandoned_event(
                state, snapshot, stage=pending.stage, stage_count=pending.stage_count, occurred_at=pending.at
            )
            return _Prepared(index, abandoned, record, new_snapshot)
        order = self._order(state.store_hash, state.order_id, report) if state.order_id else None
        event: CloudEvent
        if pending.type == RECOVERED:
            event = recovered_event(state, _snapshot(record), order)
            if order is not None and order.total is not None:
                currency = order.currency or "unknown"
                previous = Decimal(report.recovered_revenue.get(currency, "0"))
                report.recovered_revenue[currency] = str(previous + order.total)
        elif pending.type == CONVERTED:
            event = converted_event(state, order)
        else:
            logger.warning("unknown outbox event type", extra={"type": pending.type})
            return None
        return _Prepared(index, event, record, None)

    def _order(self, store_hash: str, order_id: int, report: RelayReport) -> OrderSummary | None:
        try:
            client = self._client(store_hash)
        except StoreUnavailable:
            return None
        calls_before = client.calls
        try:
            return fetch_order_summary(client, order_id)
        except BigCommerceUnavailable:
            raise
        except BigCommerceError:
            # A refused token or a rejected request will not get better by retrying: the
            # event goes out with the order id and no value rather than never.
            logger.warning("order value unavailable", extra={"store_hash": store_hash, "order_id": order_id})
            return None
        finally:
            report.bigcommerce_calls += client.calls - calls_before

    @property
    def bigcommerce_calls(self) -> int:
        """BigCommerce requests sent by this relay so far (for budgets and tests)."""
        return sum(client.calls for client in self._client_cache.values() if client is not None)

    def _client(self, store_hash: str) -> BigCommerceClient:
        if store_hash not in self._client_cache:
            self._client_cache[store_hash] = self._clients(store_hash)
        client = self._client_cache[store_hash]
        if client is None:
            raise StoreUnavailable(f"no API credentials for store {store_hash}")
        return client


class DeadlineReached(RuntimeError):
    """The record was not started: the invocation had too little time left."""


class PublishFailed(RuntimeError):
    """SNS refused an event; the stream retries its record."""


def snapshot_summary(snapshot: CartSnapshot) -> CartSummary:
    """The snapshot's customer and total, flattened for the listing's filters."""
    customer = snapshot.customer
    return CartSummary(
        customer_id=customer.id,
        customer_email=normalize_email(customer.email) if customer.email else None,
        total=snapshot.totals.cart_amount,
        currency=snapshot.currency or None,
    )


def order_summary(order: OrderSummary) -> CartSummary:
    """A bought cart's value is its order's, where BigCommerce told us (else nothing changes)."""
    if order.total is None:
        return CartSummary()
    return CartSummary(total=order.total, currency=order.currency)


def _snapshot(record: CartRecord) -> CartSnapshot | None:
    if not record.snapshot:
        return None
    return CartSnapshot.model_validate_json(record.snapshot)
