"""The outbox relay: committed event intents → enriched CloudEvents on SNS, one record at a time.

A transition writes its event intent in the same conditional write as the state change:
``pending_event`` (which makes the table's stream hand the cart to this relay) and the
cart's outbox slot (``OutboxSlot``, which stays until the event is out).  The relay enriches
lazily — BigCommerce is called only for a stage-1 abandonment (cart, customer, consent) and
for a purchase (order value) — builds the CloudEvent with its deterministic id, and
publishes in SNS batches.

Each record is handled on its own (:meth:`OutboxRelay._isolated` around the per-record
:meth:`OutboxRelay._prepare`), so one record's failure never blocks or re-publishes another:

* **retryable** failures of AWS (SNS refused, DynamoDB or SSM unavailable) fail that record
  alone; the stream retries it — and any record after it, which finds its slot released and
  is not published again;
* a store whose BigCommerce is **out of quota or down** delays only its own events: they are
  *deferred* (the slot's due time moves on; the scheduled relay retries them) and the store
  is left alone for that long, while every other store's events go out;
* **permanent** failures — a 401 that a fresh read of the store's credentials does not cure,
  a store whose credentials are gone, a request BigCommerce refuses, an event that cannot
  be built — *park* the event with its reason (``cartwatch dlq list``/``redrive``).

Before anything goes out the relay reads each cart as it is now (one batch read):

* **erase wins** — an erased cart (or one no longer stored) publishes nothing, and a cart
  suppressed after the event was committed publishes nothing either: the merchant's or the
  shopper's request outranks an event already queued;
* **at most once per record** — a slot already released means the event is out;
* **enrich once** — a stage-1 snapshot (with its recovery link) is stored *before* the
  publish, and a retry publishes from it: the same ``data`` under the same id, and never a
  second recovery cart;
* **the shopper, not the cart** (``domain/shopper.py``) — the snapshot names the shopper,
  stored with it in the shopper index; a purchase stops the shopper's other carts' series
  before its own event goes out, and just before a batch is published each abandonment of
  a known shopper is looked at once more, with the shopper's other carts as they are now:
  a purchase since, or (per shopper) a more recently active cart, withdraws the stage.

After a publish the relay releases the slot and keeps a bought cart's order (its value for
the listing and the stats), each in one conditional write.  :meth:`OutboxRelay.rescue` is
the safety net: run on a schedule, it publishes the events whose slot outlived the stream.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from functools import partial

from botocore.exceptions import BotoCoreError, ClientError

from cartwatch.adapters.bigcommerce import (
    BigCommerceClient,
    BigCommerceError,
    BigCommerceUnauthorized,
    BigCommerceUnavailable,
)
from cartwatch.adapters.event_publisher import OutgoingMessage, SnsEventPublisher
from cartwatch.adapters.store_clients import ClientFactory
from cartwatch.adapters.store_registry import StoreDirectory, StoreRegistryUnavailable
from cartwatch.domain import history
from cartwatch.domain.cart import CartSnapshot, OrderSummary
from cartwatch.domain.cart_cloud_events import (
    abandoned_event,
    converted_event,
    recovered_event,
    sns_attributes,
)
from cartwatch.domain.cart_record import (
    PARKED_SHARD,
    CartRecord,
    CartRef,
    CartSummary,
    OutboxEvent,
    ShopperSlot,
    Tombstone,
)
from cartwatch.domain.cart_store import CartStore
from cartwatch.domain.cart_webhooks import CartWebhook, WebhookKind
from cartwatch.domain.cloud_events import CartConverted, CartRecovered, CloudEvent
from cartwatch.domain.eligibility import EligibilityRules, skip_reason
from cartwatch.domain.event_types import ABANDONED, CONVERTED, RECOVERED
from cartwatch.domain.history import webhook_transition
from cartwatch.domain.lifecycle import CartState, CartStatus, apply_webhooks
from cartwatch.domain.listing import normalize_email
from cartwatch.domain.shopper import (
    DEFAULT_REMINDERS,
    ReminderScope,
    Sibling,
    announcement,
    shopper_key,
    stopped_by_purchase,
)
from cartwatch.domain.stages import StageSchedule
from cartwatch.domain.store import StoreSettings
from cartwatch.domain.write_plan import Conflict, WritePlan, conversion_event
from cartwatch.domain.write_planner import WritePlanner
from cartwatch.service.enrichment import (
    BoughtOrder,
    Purchase,
    fetch_order,
    purchase_of_gone_cart,
    snapshot_abandoned_cart,
)

logger = logging.getLogger(__name__)


class SiblingBusy(RuntimeError):
    """Another cart of the buyer kept changing while its series was being stopped: retry the purchase."""


# Failures of the AWS services the relay depends on: transient by nature, retried by the
# stream (or the next scheduled run) for the record that met them.
RETRYABLE: tuple[type[BaseException], ...] = (
    ClientError,
    BotoCoreError,
    StoreRegistryUnavailable,
    SiblingBusy,
)
# How often a stop is tried on a cart that changes under it (each try re-judges the cart).
STOP_ATTEMPTS = 3

# The longest one BigCommerce call may wait (for its quota, or between retries) inside an
# invocation; a longer wait defers the store's events to the scheduled relay instead.
BIGCOMMERCE_MAX_WAIT_SECONDS = 3.0
# How long a store's events wait when BigCommerce is down and says nothing about when to retry.
DEFAULT_DEFERRAL_SECONDS = 60
# Time an invocation keeps in hand: a record is started only with this much left, so the
# relay answers before its deadline and the unstarted records are retried, never cut off.
DEADLINE_RESERVE_MS = 15_000


class StoreUnavailable(RuntimeError):
    """The store's credentials are missing (removed or uninstalled): nothing to enrich with."""


class StoreResting(RuntimeError):
    """The store's BigCommerce quota is spent (or its API down) until ``until``: do not ask now."""

    def __init__(self, store_hash: str, until: float) -> None:
        super().__init__(f"store {store_hash}: BigCommerce rests until {until:.0f}")
        self.until = until


class PublishFailed(RuntimeError):
    """SNS refused an event; the stream retries its record."""


class DeadlineReached(RuntimeError):
    """The invocation's time ran short before this record was started; the stream retries it."""


@dataclass
class RelayReport:
    published: Counter[str] = field(default_factory=Counter)
    dropped_cart_gone: int = 0
    # Gone from BigCommerce with an order of its own: the lost ``converted`` webhook, applied.
    purchases_found: int = 0
    dropped_store_gone: int = 0
    # Erased (or no longer stored), or suppressed after the event was committed.
    dropped_erased: int = 0
    # Already published (a retried record whose slot was released).
    skipped_published: int = 0
    # The safety net found the cart moved on since the event (a later transition made it moot).
    dropped_obsolete: int = 0
    parked: Counter[str] = field(default_factory=Counter)  # reason → events
    # A stage not announced, by reason (an eligibility rule failed, or the shopper's newer cart
    # or purchase) → carts.
    skipped: Counter[str] = field(default_factory=Counter)
    stopped: int = 0  # carts whose series a purchase of their shopper's stopped
    deferred: int = 0
    failed: int = 0
    rescued: int = 0  # published by the safety net, not the stream
    bigcommerce_calls: int = 0
    recovered_revenue: dict[str, str] = field(default_factory=dict)  # currency → total (decimal string)


@dataclass
class _Prepared:
    index: int
    event: CloudEvent
    record: CartRecord
    pending: OutboxEvent
    # Who the shopper is (their keys): an abandonment's, for the last look before the
    # publish; a purchase's, so that look also sees a purchase of this very batch.
    shoppers: frozenset[str] = frozenset()
    # A later stage's cart as stored: BigCommerce confirms it still open just before the
    # publish, once the last look kept it (a withdrawn stage costs no call).
    confirm_open: CartRecord | None = None


class OutboxRelay:
    # A store whose token is not stored yet (an install still writing it) is not "gone" for
    # a whole token period: its lookup is repeated after this long.
    MISSING_TOKEN_SECONDS = 60.0

    def __init__(
        self,
        carts: CartStore,
        planner: WritePlanner,
        stores: StoreDirectory,
        publisher: SnsEventPublisher,
        clients: ClientFactory,
        clock: Callable[[], float] = time.time,
        on_published: Callable[[CloudEvent], None] | None = None,
        client_ttl_seconds: float = 300.0,
    ) -> None:
        self._carts = carts
        self._planner = planner
        self._stores = stores
        self._publisher = publisher
        self._clients = clients
        self._clock = clock
        self._on_published = on_published
        # A store's client carries its quota pacing, so it outlives an invocation — but not
        # its credentials: it is rebuilt after ``client_ttl_seconds`` and on a refused token
        # (a rotation is honoured at its first 401, so the period only bounds the token reads;
        # a store with no token yet is looked up again within ``MISSING_TOKEN_SECONDS``).
        self._client_ttl = client_ttl_seconds
        self._client_cache: dict[str, tuple[float, BigCommerceClient | None]] = {}
        # Stores whose quota is spent (or whose API is down), until when: their events are
        # deferred without a call, everybody else's go out.
        self._resting: dict[str, float] = {}
        self._calls_made = 0

    # --- the stream --------------------------------------------------------------------------

    def relay(
        self, records: Sequence[CartRecord], remaining_ms: Callable[[], int] | None = None
    ) -> tuple[list[BaseException | None], RelayReport]:
        """Publish the outbox events of these carts as the stream saw them; per cart, None or its error.

        ``remaining_ms`` (the Lambda context's clock): records not started before the
        reserve is reached fail with :class:`DeadlineReached`, for the stream to retry.
        """
        report = RelayReport()
        errors: list[BaseException | None] = [None] * len(records)
        try:
            current = self._carts.load_many(r.ref for r in records if r.outbox is not None)
        except RETRYABLE as error:
            return [error if r.outbox is not None else None for r in records], _failed(report, records)
        self._relay(records, current, errors, report, remaining_ms)
        return errors, report

    def _relay(
        self,
        records: Sequence[CartRecord],
        current: Mapping[CartRef, CartRecord | Tombstone],
        errors: list[BaseException | None],
        report: RelayReport,
        remaining_ms: Callable[[], int] | None,
    ) -> list[_Prepared]:
        prepared: list[_Prepared] = []
        for index, record in enumerate(records):
            if remaining_ms is not None and remaining_ms() < DEADLINE_RESERVE_MS:
                errors[index] = DeadlineReached("the invocation's deadline is near")
                continue
            try:
                ready = self._isolated(
                    record, partial(self._prepare, index, record, current.get(record.ref), report), report
                )
            except RETRYABLE as error:
                errors[index] = error
                continue
            if ready is not None:
                prepared.append(ready)
        try:
            prepared = self._last_look(prepared, report)
        except RETRYABLE as error:
            for ready in prepared:
                errors[ready.index] = error
            prepared = []
        prepared = self._confirmed_open(prepared, errors, report)
        published = self._publish(prepared, errors, report)
        report.failed = sum(1 for error in errors if error is not None)
        return published

    def _confirmed_open(
        self, prepared: list[_Prepared], errors: list[BaseException | None], report: RelayReport
    ) -> list[_Prepared]:
        """The later stages the last look kept, each confirmed still open (one call)."""
        confirmed: list[_Prepared] = []
        for ready in prepared:
            if ready.confirm_open is None:
                confirmed.append(ready)
                continue
            try:
                still = self._isolated(
                    ready.record, partial(self._still_open, ready, ready.confirm_open, report), report
                )
            except RETRYABLE as error:
                errors[ready.index] = error
                continue
            if still is not None:
                confirmed.append(still)
        return confirmed

    def _isolated(
        self, record: CartRecord, step: Callable[[], _Prepared | None], report: RelayReport
    ) -> _Prepared | None:
        """A per-record step, with every failure classified: retryable ones propagate."""
        pending = record.outbox
        if pending is None:
            return None
        store_hash = record.state.store_hash
        try:
            try:
                return step()
            except BigCommerceUnauthorized:
                # A rotated token or a re-install: read the store's credentials again, once.
                self._forget_client(store_hash)
                return step()
        except RETRYABLE:
            raise
        except StoreResting as resting:
            self._defer(record, pending, int(resting.until), report)
        except BigCommerceUnavailable as error:
            until = self._clock() + (error.retry_after or DEFAULT_DEFERRAL_SECONDS)
            self._resting[store_hash] = until
            logger.warning(
                "BigCommerce unavailable for the store: its events wait",
                extra={"store_hash": store_hash, "until": int(until), "status": error.status},
            )
            self._defer(record, pending, int(until), report)
        except StoreUnavailable:
            # The store was removed or uninstalled: counted and alarmed, parked so that a
            # re-added store's events can still be redriven.
            report.dropped_store_gone += 1
            self._park(record, pending, "store_gone", report)
        except BigCommerceUnauthorized:
            self._park(record, pending, "bigcommerce_unauthorized", report)
        except BigCommerceError as error:
            self._park(record, pending, f"bigcommerce_rejected:{error.status or 'error'}", report)
        except Exception as error:  # anything else will fail again: park it, with why
            logger.exception("event cannot be published", extra={"cart_id": record.state.cart_id})
            self._park(record, pending, f"error:{type(error).__name__}", report)
        return None

    def _prepare(
        self, index: int, record: CartRecord, stored: CartRecord | Tombstone | None, report: RelayReport
    ) -> _Prepared | None:
        """One record: decide whether its event still goes out, and build it."""
        pending = record.outbox
        assert pending is not None  # noqa: S101 — _isolated checked
        if not isinstance(stored, CartRecord):
            # Erased (a tombstone) or gone from the table: no personal data goes out.
            report.dropped_erased += 1
            return None
        if record.unpublished is not None and stored.unpublished is None:
            # The slot was released: this event is out already (a retried record).
            report.skipped_published += 1
            return None
        suppressed_at = stored.state.suppressed_at
        if suppressed_at is not None and (pending.type == ABANDONED or suppressed_at >= pending.at):
            # The merchant stopped this cart's messages after the event was committed.
            report.dropped_erased += 1
            self._release(record.ref, pending)
            return None
        state = record.state
        if pending.type == ABANDONED:
            bought = announcement(stored.state, state.last_activity_at, (), ReminderScope.PER_CART)
            if bought is not None:
                # The shopper bought since this abandonment began (this cart, or another whose
                # purchase stopped its series): no reminder, and no BigCommerce call for one.
                self._skip(record, pending, bought.reason, bought.cause, report)
                return None
            settings = self._stores.get(state.store_hash)
            rules = settings.eligibility if settings else EligibilityRules()
            snapshot = self._snapshot(record, stored, pending, report, settings, rules)
            if snapshot is None:
                return None
            reason = skip_reason(rules, snapshot)
            if reason is not None:
                self._skip(record, pending, reason, reason.cause, report)
                return None
            event: CloudEvent = abandoned_event(
                state, snapshot, stage=pending.stage, stage_count=pending.stage_count, occurred_at=pending.at
            )
            key = snapshot_shopper(snapshot)
            return _Prepared(
                index,
                event,
                record,
                pending,
                shoppers=frozenset({key} if key else ()),
                confirm_open=stored if pending.stage > 1 else None,
            )
        if pending.type not in (RECOVERED, CONVERTED):
            logger.warning("unknown outbox event type", extra={"type": pending.type})
            self._release(record.ref, pending)
            return None
        fetched = self._order(state.store_hash, state.order_id, report) if state.order_id else None
        order = fetched.summary if fetched else None
        purchase: CartRecovered | CartConverted = (
            recovered_event(state, _snapshot(stored) or _snapshot(record), order)
            if pending.type == RECOVERED
            else converted_event(state, order)
        )
        buyer = fetched.shopper if fetched else None
        self._record_order(record, stored, purchase, buyer)
        # Before the purchase goes out: no reminder of the shopper's other carts may follow it.
        shoppers = self._stop_series(record, stored, buyer, report)
        return _Prepared(index, purchase, record, pending, shoppers=shoppers)

    def _record_order(
        self, record: CartRecord, stored: CartRecord, event: CartRecovered | CartConverted, buyer: str | None
    ) -> None:
        """Keep a bought cart's order (its value, for the listing and the stats) — and its buyer,
        where the cart had no shopper yet — before the purchase is published: the shopper's
        other carts find the purchase from then on.  A retry writes the same again."""
        order = event.data.order
        now = int(self._clock())
        plan = self._planner.order(
            record.state,
            order.model_dump_json(),
            order_summary(order),
            recorded_at=now,
            shopper=ShopperSlot(buyer, now) if buyer is not None and stored.shopper is None else None,
        )
        if plan is not None:
            self._carts.apply(plan)

    def _snapshot(
        self,
        record: CartRecord,
        stored: CartRecord,
        pending: OutboxEvent,
        report: RelayReport,
        settings: StoreSettings | None,
        rules: EligibilityRules,
    ) -> CartSnapshot | None:
        """The abandonment's snapshot: stored once, before the first publish, and reused."""
        state = record.state
        kept = _snapshot(stored)
        # A snapshot belongs to this abandonment when it was captured after the activity that
        # began it (an earlier abandonment's was captured before the shopper came back).
        if kept is not None and (
            pending.stage > 1
            or (
                stored.state.last_activity_at == state.last_activity_at
                and kept.captured_at >= state.last_activity_at
            )
        ):
            return kept
        if pending.stage > 1 and (earlier := _snapshot(record)) is not None:
            return earlier
        client = self._client(state.store_hash)
        calls_before = client.calls
        try:
            fresh = snapshot_abandoned_cart(
                client,
                state.cart_id,
                now=int(self._clock()),
                recovery_links=bool(settings and settings.recovery_links),
                rules=rules,
            )
        finally:
            self._count_calls(report, client.calls - calls_before)
        if fresh is None:
            self._gone(record, stored, pending, report)
            return None
        snapshot_json = fresh.model_dump_json()
        # Stored before the publish, so a retry publishes these very bytes — with who the
        # shopper is, so their other carts find this one.  A conflict means the shopper is
        # back: the event (committed before) still goes out once, as built now.
        key = snapshot_shopper(fresh)
        shopper = ShopperSlot(key, fresh.captured_at) if key is not None else None
        self._carts.apply(self._planner.snapshot(state, snapshot_json, snapshot_summary(fresh), shopper))
        copy_id = fresh.recovery_link.cart_id
        if copy_id:
            # The recovery link points at a copy of the cart: buying the copy must recover
            # this cart, and the copy must never be announced itself.
            self._mark_recovery_copy(state.store_hash, copy_id, state.cart_id)
        return CartSnapshot.model_validate_json(snapshot_json)

    # --- a cart BigCommerce no longer has -----------------------------------------------------

    def _still_open(self, ready: _Prepared, stored: CartRecord, report: RelayReport) -> _Prepared | None:
        """A later stage reminds only a shopper who has not bought: one call says the cart is
        still there — if the ``converted`` webhook was lost, or never came, it is not."""
        record = ready.record
        client = self._client(record.state.store_hash)
        calls_before = client.calls
        try:
            is_open = client.cart_is_open(record.state.cart_id)
        finally:
            self._count_calls(report, client.calls - calls_before)
        if not is_open:
            self._gone(record, stored, ready.pending, report)
            return None
        return ready

    def _gone(
        self, record: CartRecord, stored: CartRecord, pending: OutboxEvent, report: RelayReport
    ) -> None:
        """BigCommerce no longer has the cart: bought (its webhook lost, or still on the way)
        — then the purchase is applied as its webhook would have been, and the stream
        publishes it — or deleted: closed, no event.  Either way this event is moot."""
        state = record.state
        client = self._client(state.store_hash)
        calls_before = client.calls
        try:
            purchase = purchase_of_gone_cart(client, state.cart_id)
        finally:
            self._count_calls(report, client.calls - calls_before)
        now = int(self._clock())
        if purchase is None:
            self._carts.apply(self._planner.gone(state, now=now, recorded_at=now))
            report.dropped_cart_gone += 1
        else:
            report.purchases_found += 1
            self._apply_purchase(stored, purchase, now)
        self._release(record.ref, pending)

    def _apply_purchase(self, stored: CartRecord, purchase: Purchase, now: int) -> None:
        state = stored.state
        order_id = purchase.order.id
        bought = CartWebhook(
            store_hash=state.store_hash,
            cart_id=state.cart_id,
            kind=WebhookKind.CONVERTED,
            occurred_at=purchase.at or now,
            dedupe_key=f"order-of-cart:{order_id}",
            order_id=order_id,
        )
        result = apply_webhooks(state, [bought])
        if not result.changed:
            return
        plan = self._planner.revision(
            stored,
            result.after,
            self._stores.stages_for(state.store_hash, result.after.channel_id),
            recorded_at=now,
            event=conversion_event(result),
            entry=webhook_transition(result, [bought]),
        )
        # A conflict: the cart changed since it was read — its own webhook came; nothing to add.
        self._carts.apply(plan)

    def _publish(
        self, prepared: list[_Prepared], errors: list[BaseException | None], report: RelayReport
    ) -> list[_Prepared]:
        failures = self._publisher.publish(
            [OutgoingMessage(body=p.event.to_json(), attributes=sns_attributes(p.event)) for p in prepared]
        )
        failed_positions = {failure.index for failure in failures}
        published: list[_Prepared] = []
        for position, ready in enumerate(prepared):
            if position in failed_positions:
                errors[ready.index] = PublishFailed(f"SNS did not accept event {ready.event.id}")
                continue
            report.published[ready.event.type] += 1
            published.append(ready)
            if isinstance(ready.event, CartRecovered):
                order = ready.event.data.order
                if order.total is not None:
                    currency = order.currency or "unknown"
                    previous = Decimal(report.recovered_revenue.get(currency, "0"))
                    report.recovered_revenue[currency] = str(previous + order.total)
            if self._on_published:
                self._on_published(ready.event)
            try:
                self._record(ready)
            except RETRYABLE as error:
                # Out, but not released: the retry finds the slot held and publishes the
                # same event (same id, same data) again — consumers drop the duplicate.
                errors[ready.index] = error
        return published

    def _record(self, ready: _Prepared) -> None:
        """The event is out: release its slot."""
        self._release(ready.record.ref, ready.pending)

    # --- the shopper -----------------------------------------------------------------------

    def _stop_series(
        self, record: CartRecord, stored: CartRecord, buyer: str | None, report: RelayReport
    ) -> frozenset[str]:
        """The shopper bought: every other open cart of theirs idle since before the purchase
        stops its series (one guarded write each).  The shopper is who the cart's snapshot named
        and who the order names — a guest who signed in to pay is both; their keys."""
        bought = record.state
        keys = frozenset(key for key in (stored.shopper.key if stored.shopper else None, buyer) if key)
        refs = {ref for key in sorted(keys) for ref in self._carts.shopper_carts(bought.store_hash, key)}
        refs.discard(record.ref)
        for sibling in self._carts.load_many(sorted(refs)).values() if refs else ():
            if isinstance(sibling, CartRecord):
                # Each cart keeps the stages of its own channel (a shopper may use two storefronts).
                stages = self._stores.stages_for(bought.store_hash, sibling.state.channel_id)
                report.stopped += self._stop(sibling, bought, stages)
        return keys

    def _stop(self, sibling: CartRecord, bought: CartState, stages: StageSchedule) -> int:
        """Stop one cart's series, re-judged on every lost race; 1 if it was stopped now."""
        current: CartRecord | None = sibling
        for _attempt in range(STOP_ATTEMPTS):
            if current is None:
                return 0  # erased meanwhile
            stopped = stopped_by_purchase(bought, [current.state])
            if not stopped:
                return 0  # closed, active since the purchase, or stopped already
            plan = self._planner.stopped(
                current, stopped[0], stages, now=int(self._clock()), bought_cart_id=bought.cart_id
            )
            written = self._carts.apply(plan)
            if not isinstance(written, Conflict):
                return 1
            current = written.current
        raise SiblingBusy(f"cart {sibling.state.cart_id} kept changing while its series was being stopped")

    def _last_look(self, prepared: list[_Prepared], report: RelayReport) -> list[_Prepared]:
        """Just before the publish: each abandonment of a known shopper, with the shopper's carts
        as they are now — one query per shopper and one consistent batch read for the batch.

        A purchase since the abandonment began (or a stop), a more recently active cart (per
        shopper), a suppression or an erasure meanwhile: the stage is withdrawn.  Coming last,
        it sees the carts of this very batch with their shoppers recorded, whatever the index
        shows yet, and leaves a race of milliseconds (decision 56).
        """
        looked = [p for p in prepared if p.pending.type == ABANDONED and p.shoppers]
        if not looked:
            return prepared
        shoppers: dict[tuple[str, str], set[CartRef]] = {}
        for ready in looked:
            for key in ready.shoppers:
                shoppers.setdefault((ready.record.state.store_hash, key), set()).add(ready.record.ref)
        for ready in prepared:  # this batch's purchases, whatever the index shows of them yet
            for key in ready.shoppers:
                if ready.pending.type != ABANDONED and (ready.record.state.store_hash, key) in shoppers:
                    shoppers[(ready.record.state.store_hash, key)].add(ready.record.ref)
        for (store_hash, key), refs in shoppers.items():
            refs.update(self._carts.shopper_carts(store_hash, key))
        current = self._carts.load_many(sorted(set().union(*shoppers.values())))
        withdrawn: set[int] = set()
        for ready in looked:
            record, pending = ready.record, ready.pending
            now = current.get(record.ref)
            if not isinstance(now, CartRecord) or now.state.suppressed:
                report.dropped_erased += 1
                self._release(record.ref, pending)
                withdrawn.add(ready.index)
                continue
            settings = self._stores.get(record.state.store_hash)
            rules = settings.eligibility if settings else EligibilityRules()
            mine = {ref for key in ready.shoppers for ref in shoppers[(record.state.store_hash, key)]}
            siblings = [
                _sibling(cart, rules)
                for ref in sorted(mine - {record.ref})
                if isinstance(cart := current.get(ref), CartRecord)
            ]
            scope = settings.reminders if settings else DEFAULT_REMINDERS
            verdict = announcement(now.state, record.state.last_activity_at, siblings, scope, pending.stage)
            if verdict is not None:
                self._skip(record, pending, verdict.reason, verdict.cause, report)
                withdrawn.add(ready.index)
        return [ready for ready in prepared if ready.index not in withdrawn]

    # --- the safety net ----------------------------------------------------------------------

    def rescue(self, now: int, remaining_ms: Callable[[], int] | None = None) -> RelayReport:
        """Publish the events whose outbox slot is due: the stream never delivered them (or a
        store's quota deferred them).  Reads the outbox index's due entries, the bought carts'
        due entries, and their carts — work proportional to the stuck events, not to the table."""
        report = RelayReport()
        for refs in self._stuck(now):
            if refs:
                if remaining_ms is not None and remaining_ms() < DEADLINE_RESERVE_MS:
                    return report
                current = self._carts.load_many(refs)
                records = [
                    replace(stored, outbox=stored.unpublished.event)
                    for stored in current.values()
                    if isinstance(stored, CartRecord)
                    and stored.unpublished is not None
                    and not stored.unpublished.is_parked
                    and stored.unpublished.due <= now
                ]
                live = [r for r in records if self._still_current(r, report)]
                errors: list[BaseException | None] = [None] * len(live)
                published = self._relay(live, current, errors, report, remaining_ms)
                report.rescued += len(published)
                report.failed += sum(1 for error in errors if error is not None)
        return report

    def _stuck(self, now: int) -> Iterator[list[CartRef]]:
        """Pages of carts that may hold a stuck event: abandonments in the outbox index, and
        purchases on their bought cart's due entry (the only closed carts in the due index)."""
        for shard in self._planner.outbox_shards():
            yield from self._carts.outbox_entries(shard, now)
        # A bought cart's entry is no later than its rescue time; read only those a grace
        # period past due, so the open carts the sweeper is taking care of are not read too.
        for shard in self._planner.shards():
            for entries in self._carts.due_entries(shard, now - self._planner.OUTBOX_GRACE_SECONDS):
                yield [(e.store_hash, e.cart_id) for e in entries if not e.status.is_open]

    def _still_current(self, record: CartRecord, report: RelayReport) -> bool:
        """Whether the cart is still where its event left it; if not, the event is moot."""
        event, state = record.outbox, record.state
        assert event is not None  # noqa: S101 — built from the slot
        expected = {
            ABANDONED: CartStatus.ABANDONED,
            RECOVERED: CartStatus.RECOVERED,
            CONVERTED: CartStatus.CONVERTED,
        }
        current = state.status is expected.get(event.type) and (
            event.type != ABANDONED or state.stage == event.stage
        )
        if not current:
            report.dropped_obsolete += 1
            self._release(record.ref, event)
        return current

    def redrive_parked(self, now: int, limit: int | None = None) -> int:
        """Move parked events back to the live outbox, due now (after the cause was fixed)."""
        return redrive_parked(self._carts, self._planner, now, limit)

    # --- the slot ----------------------------------------------------------------------------

    def _release(self, ref: CartRef, pending: OutboxEvent) -> None:
        self._apply_if_held(self._planner.released(ref, pending))

    def _park(self, record: CartRecord, pending: OutboxEvent, reason: str, report: RelayReport) -> None:
        report.parked[reason] += 1
        logger.error(
            "event parked",
            extra={"cart_id": record.state.cart_id, "store_hash": record.state.store_hash, "reason": reason},
        )
        self._apply_if_held(self._planner.parked(record.ref, pending, reason))

    def _skip(
        self, record: CartRecord, pending: OutboxEvent, reason: StrEnum, cause: str, report: RelayReport
    ) -> None:
        """No event for this stage (an eligibility rule failed, or the shopper's newer cart or
        purchase): why goes into its history.  (Its stage-1 snapshot was stored already, so
        later stages judge the same cart.)"""
        report.skipped[reason.value] += 1
        now = int(self._clock())
        self._carts.apply(self._planner.skipped(record.state, pending.stage, cause, now=now))
        self._release(record.ref, pending)

    def _defer(self, record: CartRecord, pending: OutboxEvent, until: int, report: RelayReport) -> None:
        report.deferred += 1
        self._apply_if_held(self._planner.deferred(record.ref, pending, until))

    def _apply_if_held(self, plan: WritePlan) -> None:
        # A conflict: a later event replaced the slot (or it is gone) — nothing left to do.
        self._carts.apply(plan)

    # --- BigCommerce -------------------------------------------------------------------------

    def _order(self, store_hash: str, order_id: int, report: RelayReport) -> BoughtOrder | None:
        try:
            client = self._client(store_hash)
        except StoreUnavailable:
            return None
        calls_before = client.calls
        try:
            return fetch_order(client, order_id)
        except BigCommerceUnavailable:
            raise
        except BigCommerceError:
            # A refused token or a rejected request will not get better by retrying: the
            # event goes out with the order id and no value rather than never.
            logger.warning("order value unavailable", extra={"store_hash": store_hash, "order_id": order_id})
            return None
        finally:
            self._count_calls(report, client.calls - calls_before)

    def _count_calls(self, report: RelayReport, calls: int) -> None:
        report.bigcommerce_calls += calls
        self._calls_made += calls

    @property
    def bigcommerce_calls(self) -> int:
        """BigCommerce requests sent by this relay so far (for budgets and tests)."""
        return self._calls_made

    def _client(self, store_hash: str) -> BigCommerceClient:
        now = self._clock()
        resting = self._resting.get(store_hash)
        if resting is not None:
            if now < resting:
                raise StoreResting(store_hash, resting)
            del self._resting[store_hash]
        cached = self._client_cache.get(store_hash)
        if cached is None or now - cached[0] >= self._kept_for(cached[1]):
            cached = self._client_cache[store_hash] = (now, self._clients(store_hash))
        client = cached[1]
        if client is None:
            raise StoreUnavailable(f"no API credentials for store {store_hash}")
        return client

    def _kept_for(self, client: BigCommerceClient | None) -> float:
        return self._client_ttl if client is not None else min(self._client_ttl, self.MISSING_TOKEN_SECONDS)

    def _forget_client(self, store_hash: str) -> None:
        """Rebuild the store's client from its credentials read past every cache."""
        self._client_cache[store_hash] = (self._clock(), self._clients(store_hash, fresh=True))

    def _mark_recovery_copy(self, store_hash: str, copy_id: str, original_id: str) -> None:
        """Usually the copy is new to us (its ``created`` webhook is still on the way); if its
        webhooks won the race, the cart they made is marked instead."""
        new_copy = self._planner.recovery_copy(store_hash, copy_id, original_id, now=int(self._clock()))
        if isinstance(self._carts.apply(new_copy), Conflict):
            self._carts.apply(self._planner.mark_recovery_copy(store_hash, copy_id, original_id))


def parked_events(carts: CartStore) -> list[CartRecord]:
    """Every cart whose event is parked, with its reason (``unpublished.parked``)."""
    found: list[CartRecord] = []
    for refs in carts.outbox_entries(PARKED_SHARD, 2**62):
        found += [
            stored
            for stored in carts.load_many(refs).values()
            if isinstance(stored, CartRecord)
            and stored.unpublished is not None
            and stored.unpublished.is_parked
        ]
    return found


def redrive_parked(carts: CartStore, planner: WritePlanner, now: int, limit: int | None = None) -> int:
    """Move up to ``limit`` parked events back to the live outbox, due now: the publisher's next
    scheduled run publishes them.  Returns how many moved."""
    moved = 0
    for stored in parked_events(carts):
        if limit is not None and moved >= limit:
            break
        assert stored.unpublished is not None  # noqa: S101 — parked_events checked
        plan = planner.redriven(stored.ref, stored.unpublished.event, now=now)
        moved += not isinstance(carts.apply(plan), Conflict)
    return moved


def _failed(report: RelayReport, records: Sequence[CartRecord]) -> RelayReport:
    report.failed = sum(1 for r in records if r.outbox is not None)
    return report


def snapshot_summary(snapshot: CartSnapshot) -> CartSummary:
    """The snapshot's customer and total, flattened for the listing's filters."""
    customer = snapshot.customer
    return CartSummary(
        customer_id=customer.id,
        customer_email=normalize_email(customer.email) if customer.email else None,
        total=snapshot.totals.cart_amount,
        currency=snapshot.currency or None,
    )


def snapshot_shopper(snapshot: CartSnapshot) -> str | None:
    """Who the shopper of a snapshot is: their customer id if logged in, else their email."""
    return shopper_key(snapshot.customer.id, snapshot.customer.email)


def _sibling(cart: CartRecord, rules: EligibilityRules) -> Sibling:
    """Another cart of the shopper: whether the store's rules would announce it as its snapshot
    shows it, and which stages of its current abandonment went out (an event still in its
    outbox slot has not)."""
    snapshot = _snapshot(cart)
    slot = cart.unpublished
    in_flight = slot.event.stage if slot is not None and slot.event.type == ABANDONED else None
    return Sibling(
        cart.state,
        announceable=snapshot is None or skip_reason(rules, snapshot) is None,
        announced=history.announced_stages(cart.state, cart.history, in_flight),
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
