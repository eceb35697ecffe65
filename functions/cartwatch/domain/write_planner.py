"""The write planner: each use case's write plan, with the table's rules (due shards, retention).

Pure: no I/O, no clock — times are passed in.  The plans and their derived effects are
``write_plan.py``.
"""

from __future__ import annotations

from dataclasses import replace

from cartwatch.domain import history
from cartwatch.domain.cart_record import (
    CartRecord,
    CartRef,
    CartSummary,
    DueEntry,
    OutboxEvent,
    OutboxSlot,
    ShopperSlot,
    outbox_shard,
    outbox_shard_names,
    shard_names,
)
from cartwatch.domain.event_types import CONVERTED, RECOVERED
from cartwatch.domain.history import Transition
from cartwatch.domain.lifecycle import CartState, CartStatus, SweepAction, SweepDecision, next_due_at
from cartwatch.domain.stages import CART_LIFETIME_SECONDS, StageSchedule
from cartwatch.domain.write_plan import (
    Deferred,
    Details,
    DueAt,
    HoldsUnpublished,
    IdleSince,
    IsCart,
    Listing,
    Parked,
    Patch,
    Redriven,
    Released,
    Revision,
    StatePatch,
    StillAbandoned,
    StillBought,
    StillOpen,
    Unscheduled,
    abandonment_event,
    due_slot,
    expiry,
    listed_activity,
    listed_at,
    rescue_entry,
)


class WritePlanner:
    """Builds each use case's plan, with the table's rules: due-index shards and retention."""

    # How long the stream has to publish an event before the scheduled relay may take over.
    # The stream delivers in about a second; ten retries with bisection take a few minutes.
    OUTBOX_GRACE_SECONDS = 600
    # How long a stuck purchase event may wait for the rescue run: a bought cart's due entry
    # stays put when it falls due within this (the first stage, 1 h by default), else moves.
    PURCHASE_RESCUE_SECONDS = 3600

    def __init__(self, *, due_shards: int, closed_retention_days: int) -> None:
        self.due_shards = due_shards
        self.retention_seconds = closed_retention_days * 86400

    def shards(self) -> list[str]:
        return shard_names(self.due_shards)

    def outbox_shards(self) -> list[str]:
        """The outbox index's live partitions (the parked one is ``PARKED_SHARD``)."""
        return outbox_shard_names(self.due_shards)

    def _slot(self, cart_id: str, event: OutboxEvent, recorded_at: int) -> OutboxSlot:
        # A purchase's event is held by the bought cart's due entry (``rescue_entry``); an
        # abandonment's cart moves on in the due index, so its event gets an outbox entry.
        shard = None if event.type in CLOSING_EVENTS else outbox_shard(cart_id, self.due_shards)
        return OutboxSlot(event, shard, recorded_at + self.OUTBOX_GRACE_SECONDS)

    def revision(
        self,
        base: CartRecord | None,
        state: CartState,
        stages: StageSchedule,
        *,
        recorded_at: int,
        event: OutboxEvent | None = None,
        entry: Transition | None = None,
        exact_due: bool = False,
        scheduled: bool = True,
        list_active: bool = False,
    ) -> Revision:
        """``state`` written over ``base``; ``scheduled=False`` keeps the cart out of the due index;
        ``list_active``: the cart's store lists active carts (``listing.is_listed``)."""
        unpublished = (
            self._slot(state.cart_id, event, recorded_at)
            if event is not None
            else (base.unpublished if base is not None else None)
        )
        due = due_slot(base, state, stages, self.due_shards, exact=exact_due) if scheduled else None
        if (
            scheduled
            and unpublished is not None
            and unpublished.held_by_due_entry
            and not state.status.is_open
        ):
            # A bought cart's unpublished event keeps it in the due index: the rescue's pointer.
            due = rescue_entry(
                base,
                state.cart_id,
                unpublished,
                self.due_shards,
                # Counted from the purchase, as the entry's time is from the cart's activity.
                hold_until=(state.closed_at or recorded_at) + self.PURCHASE_RESCUE_SECONDS,
            )
        record = CartRecord(
            state=replace(state, version=(base.state.version if base is not None else 0) + 1),
            due=due,
            history=history.append(base.history if base else (), entry)
            if entry
            else (base.history if base else ()),
            listed_at=listed_at(base, state, entry, recorded_at, list_active=list_active),
            expires_at=expiry(state, self.retention_seconds),
            outbox=event,
            unpublished=unpublished,
        )
        record = replace(record, listed_activity_at=listed_activity(base, record.state, record.listed_at))
        if base is not None:
            # What only the publisher writes is carried over untouched.
            record = replace(
                record,
                snapshot=base.snapshot,
                order=base.order,
                summary=base.summary,
                recovery_of=base.recovery_of,
                shopper=base.shopper,
            )
        return Revision(base, record)

    def sweep_from_index(
        self,
        entry: DueEntry,
        decision: SweepDecision,
        stages: StageSchedule,
        *,
        now: int,
        recorded_at: int,
        list_active: bool = False,
    ) -> Patch:
        """An abandonment stage or an expiry decided from the index entry alone.

        The guard re-checks it against the stored cart: still in the status and stage the
        index showed, idle since the stage's cutoff, not suppressed.  Every abandoned cart is
        listed; an expiring one only if it had been abandoned before, or its store lists
        active carts (every cart in the due index had activity).
        """
        after = decision.after
        abandoning = decision.action is SweepAction.ABANDON
        cutoff = now - (stages.delay(decision.stage) if abandoning else CART_LIFETIME_SECONDS)
        due = next_due_at(after, stages)
        entry_made = history.sweep_transition(decision, now, idle_known=False)
        event = abandonment_event(decision, stages, now)
        listed = after.ever_abandoned or entry.abandoned_at is not None or list_active
        return Patch(
            ref=(entry.store_hash, entry.cart_id),
            guard=IdleSince(entry.status, entry.stage, cutoff, entry.channel_id),
            state=StatePatch(
                status=after.status,
                stage=after.stage,
                last_abandoned_stage=after.stage if after.stage > 0 else None,
                abandoned_at=after.abandoned_at if after.abandoned_at != entry.abandoned_at else None,
                closed_at=after.closed_at,
            ),
            outbox=event,
            schedule=Unscheduled() if due is None else DueAt(due),
            history=entry_made,
            listing=Listing(after.status, max(now, recorded_at)) if listed and entry_made else None,
            expires_at=after.closed_at + self.retention_seconds if after.closed_at is not None else None,
            new_version=True,
            unpublished=self._slot(entry.cart_id, event, max(now, recorded_at))
            if event is not None
            else None,
        )

    def snapshot(
        self, state: CartState, snapshot_json: str, summary: CartSummary, shopper: ShopperSlot | None = None
    ) -> Patch:
        """The stage-1 snapshot, kept for later stages while the cart is in that abandonment —
        and who the shopper is, learnt from it, in the same write (the shopper index's one unit)."""
        return Patch(
            ref=(state.store_hash, state.cart_id),
            guard=StillAbandoned(state.last_activity_at),
            details=Details(snapshot=snapshot_json, summary=summary, shopper=shopper),
        )

    def skipped(
        self,
        state: CartState,
        stage: int,
        cause: str,
        *,
        now: int,
        snapshot: tuple[str, CartSummary] | None = None,
    ) -> Patch:
        """A stage not published (an eligibility rule failed): recorded in the history, no event.

        A stage-1 snapshot is kept as for a published stage: later stages judge the same cart
        without calling BigCommerce, and the query API shows whom the rule kept from a reminder.
        """
        return Patch(
            ref=(state.store_hash, state.cart_id),
            guard=StillAbandoned(state.last_activity_at),
            history=history.skipped(state, stage, cause, now),
            details=Details(snapshot=snapshot[0], summary=snapshot[1]) if snapshot else None,
        )

    def order(
        self,
        state: CartState,
        order_json: str,
        summary: CartSummary,
        *,
        recorded_at: int,
        shopper: ShopperSlot | None = None,
    ) -> Patch | None:
        """A bought cart's order, and its listing: a cart bought without an abandonment is listed here.

        The processor's conversion write stays at its table and due-index units; this one
        write records the order value and lists the cart — and the buyer, where the cart had
        no shopper yet, so the shopper's other carts find the purchase.
        """
        if state.closed_at is None or state.status not in (CartStatus.CONVERTED, CartStatus.RECOVERED):
            return None
        return Patch(
            ref=(state.store_hash, state.cart_id),
            guard=StillBought(state.status, state.closed_at),
            details=Details(order=order_json, summary=summary, shopper=shopper),
            listing=Listing(state.status, max(state.closed_at, recorded_at), keep_earlier=True),
        )

    def stopped(
        self, base: CartRecord, state: CartState, stages: StageSchedule, *, now: int, bought_cart_id: str
    ) -> Revision:
        """The shopper bought another cart: ``state`` (``lifecycle.stop_series``) written over the
        cart it was judged on — out of the due index, its history naming the cart bought.

        Guarded by the version read, like every revision: a cart busy meanwhile is judged again.
        """
        return self.revision(
            base, state, stages, recorded_at=now, entry=history.stopped(state, now, bought_cart_id)
        )

    def gone(self, state: CartState, *, now: int, recorded_at: int) -> Patch:
        """BigCommerce no longer has the cart (404 at abandonment): close it, no event."""
        return Patch(
            ref=(state.store_hash, state.cart_id),
            guard=StillOpen(state.last_activity_at),
            state=StatePatch(status=CartStatus.DELETED, stage=0, closed_at=now),
            schedule=Unscheduled(),
            history=history.gone(state, now),
            listing=Listing(CartStatus.DELETED, max(now, recorded_at)) if state.ever_abandoned else None,
            expires_at=now + self.retention_seconds,
            new_version=True,
        )

    def recovery_copy(self, store_hash: str, copy_id: str, original_id: str, *, now: int) -> Revision:
        """The copy behind a recovery link, new to us: an open cart outside the due index."""
        state = CartState(store_hash, copy_id, CartStatus.ACTIVE, now, now, activity_seen=False)
        return Revision(None, CartRecord(state=replace(state, version=1), recovery_of=original_id))

    def mark_recovery_copy(self, store_hash: str, copy_id: str, original_id: str) -> Patch:
        """The copy's webhooks won the race: mark the cart they made, and take it out of the due index."""
        return Patch(
            ref=(store_hash, copy_id),
            guard=IsCart(),
            schedule=Unscheduled(),
            details=Details(recovery_of=original_id),
        )

    # --- the outbox slot: what the publisher did with the cart's unpublished event --------------

    def released(self, ref: CartRef, event: OutboxEvent) -> Patch:
        """The event is out (or obsolete): its slot goes, unless a later event replaced it —
        and a bought cart's due entry, which held it, with it."""
        return Patch(ref=ref, guard=HoldsUnpublished(event), slot=Released(), schedule=_unheld(event))

    def parked(self, ref: CartRef, event: OutboxEvent, reason: str) -> Patch:
        # Parked events are found in the outbox index's parked partition, whichever held them.
        return Patch(ref=ref, guard=HoldsUnpublished(event), slot=Parked(reason), schedule=_unheld(event))

    def deferred(self, ref: CartRef, event: OutboxEvent, until: int) -> Patch:
        return Patch(ref=ref, guard=HoldsUnpublished(event), slot=Deferred(until))

    def redriven(self, ref: CartRef, event: OutboxEvent, *, now: int) -> Patch:
        """A parked event back in the live partition, due now: the scheduled relay retries it."""
        # Always the first live partition: it exists whatever the shard count of the relay
        # that picks it up, and redrives are an operator's handful, not a write hot spot.
        return Patch(ref=ref, guard=HoldsUnpublished(event), slot=Redriven(outbox_shard_names(1)[0], now))


# The events a purchase commits: the bought cart's due entry holds them (``rescue_entry``).
CLOSING_EVENTS = frozenset({RECOVERED, CONVERTED})


def _unheld(event: OutboxEvent) -> Unscheduled | None:
    """A closed cart leaves the due index once its event no longer needs the entry."""
    return Unscheduled() if event.type in CLOSING_EVENTS else None
