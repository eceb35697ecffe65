"""Write plans: every write of a cart, decided by the domain and handed to the store as a value.

A plan says what must still hold (its *guard*), the new state, the event committed with it
into the outbox (or none — which clears an earlier one), the due-index change and the
history entry.  Two shapes:

* :class:`Revision` — the writer read the whole cart (the processor, the sweep when the
  index was stale, the query API): the plan is the cart as the write leaves it, guarded by
  the version read.  The store writes only what differs, so a write that leaves the
  indexed attributes alone costs no index units.
* :class:`Patch` — the writer holds only part of the cart (the sweep deciding from a due
  index entry, the publisher recording what it learnt): the fields it sets, guarded by
  what it saw, its history entry appended.

The derived effects — where the cart sits in the due index, whether and when it is listed,
when it expires, and that every write without an event clears the outbox — are computed
here by pure functions (``tests/unit/test_write_plan.py`` holds their properties);
``write_planner.py`` builds each use case's plan with them, and
``adapters/cart_table/rendering.py`` renders each plan as one DynamoDB request.

Pure: no I/O, no clock — times are passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

from cartwatch.domain.cart_record import (
    CartRecord,
    CartRef,
    CartSummary,
    DueSlot,
    OutboxEvent,
    OutboxSlot,
    ShopperSlot,
    Tombstone,
    due_shard,
)
from cartwatch.domain.event_types import ABANDONED, CONVERTED, RECOVERED
from cartwatch.domain.history import Transition
from cartwatch.domain.lifecycle import (
    CartState,
    CartStatus,
    SweepAction,
    SweepDecision,
    WebhookResult,
    next_due_at,
)
from cartwatch.domain.listing import is_listed
from cartwatch.domain.stages import CART_LIFETIME_SECONDS, StageSchedule

# --- guards: what must still hold for a write to apply ---------------------------------------


@dataclass(frozen=True)
class Absent:
    """Nothing is stored under the cart's key: it is new (an erased cart's tombstone counts)."""


@dataclass(frozen=True)
class AtVersion:
    """The cart is still the one the writer read."""

    version: int


@dataclass(frozen=True)
class IdleSince:
    """The sweep's re-check of an index entry: same status, stage and channel, idle since
    ``cutoff``, unsuppressed, and its series not stopped by the shopper's purchase of another
    cart.  The channel picked the stages the cutoff was computed with."""

    status: CartStatus
    stage: int
    cutoff: int
    channel_id: int | None = None


@dataclass(frozen=True)
class StillAbandoned:
    """Still in the abandonment whose idle period began with ``last_activity_at``."""

    last_activity_at: int


@dataclass(frozen=True)
class StillOpen:
    """Open, with no activity since ``last_activity_at``."""

    last_activity_at: int


@dataclass(frozen=True)
class StillBought:
    """Still closed by the same purchase."""

    status: CartStatus
    closed_at: int


@dataclass(frozen=True)
class IsCart:
    """A cart is stored (not nothing, not an erased cart's tombstone)."""


@dataclass(frozen=True)
class HoldsUnpublished:
    """The cart's outbox slot still holds ``event`` (no later transition replaced it)."""

    event: OutboxEvent


Guard = Absent | AtVersion | IdleSince | StillAbandoned | StillOpen | StillBought | IsCart | HoldsUnpublished


def admits(guard: Guard, current: CartRecord | Tombstone | None) -> bool:
    """Whether ``guard`` holds for what is stored — the meaning every store must give it."""
    if isinstance(guard, Absent):
        return current is None
    if not isinstance(current, CartRecord):
        return False
    state = current.state
    match guard:
        case AtVersion(version):
            return state.version == version
        case IdleSince(status, stage, cutoff, channel_id):
            return (state.status, state.stage, state.channel_id) == (status, stage, channel_id) and (
                state.last_activity_at <= cutoff and not state.suppressed and not state.series_stopped
            )
        case StillAbandoned(last_activity_at):
            return state.status is CartStatus.ABANDONED and state.last_activity_at == last_activity_at
        case StillOpen(last_activity_at):
            return state.status.is_open and state.last_activity_at == last_activity_at
        case StillBought(status, closed_at):
            return state.status is status and state.closed_at == closed_at
        case HoldsUnpublished(event):
            return current.unpublished is not None and current.unpublished.event == event
    return True  # IsCart


# --- the plans -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Revision:
    """The whole cart as a write leaves it, by a writer that read it (``base``; None: a new cart)."""

    base: CartRecord | None
    record: CartRecord

    @property
    def guard(self) -> Absent | AtVersion:
        return Absent() if self.base is None else AtVersion(self.base.state.version)

    @property
    def ref(self) -> CartRef:
        return self.record.ref


@dataclass(frozen=True)
class StatePatch:
    """The lifecycle fields a partial writer sets (None: left as stored)."""

    status: CartStatus
    stage: int
    last_abandoned_stage: int | None = None
    abandoned_at: int | None = None
    closed_at: int | None = None


@dataclass(frozen=True)
class DueAt:
    """Move the cart's due-index entry to ``at``, within its shard (the writer saw it indexed)."""

    at: int


@dataclass(frozen=True)
class Unscheduled:
    """Take the cart out of the due index."""


@dataclass(frozen=True)
class Listing:
    """List the cart under ``status`` at ``at``; ``keep_earlier``: unless it is listed already."""

    status: CartStatus
    at: int
    keep_earlier: bool = False


@dataclass(frozen=True)
class Details:
    """What the publisher learnt about a cart (None: left as stored)."""

    snapshot: str | None = None
    order: str | None = None
    summary: CartSummary | None = None
    recovery_of: str | None = None
    shopper: ShopperSlot | None = None


@dataclass(frozen=True)
class Released:
    """The slot's event was published (or will never be): the slot and its index entry go."""


@dataclass(frozen=True)
class Parked:
    """Publishing failed for good: the slot moves to the index's parked partition, with why."""

    reason: str


@dataclass(frozen=True)
class Deferred:
    """Not now (the store's quota is spent, BigCommerce is down): the scheduled relay retries at ``until``."""

    until: int


@dataclass(frozen=True)
class Redriven:
    """Back from the parked partition to the live ``shard``, due at ``at``."""

    shard: str
    at: int


SlotChange = Released | Parked | Deferred | Redriven


@dataclass(frozen=True)
class Patch:
    """Part of a cart, by a writer that does not hold all of it; ``new_version`` counts a transition."""

    ref: CartRef
    guard: Guard
    state: StatePatch | None = None
    outbox: OutboxEvent | None = None  # None clears an earlier intent
    schedule: DueAt | Unscheduled | None = None  # None: the due entry is left alone
    history: Transition | None = None  # appended: the writer does not hold the history to trim it
    listing: Listing | None = None
    expires_at: int | None = None
    details: Details | None = None
    new_version: bool = False
    unpublished: OutboxSlot | None = None  # the slot committed with ``outbox`` (set together)
    slot: SlotChange | None = None  # what the publisher did with the slot's event


WritePlan = Revision | Patch


@dataclass(frozen=True)
class Conflict:
    """The guard did not hold.  ``current``: the stored cart, when the store could say."""

    current: CartRecord | None


# --- derived effects -----------------------------------------------------------------------------


def due_slot(
    base: CartRecord | None, state: CartState, stages: StageSchedule, shards: int, *, exact: bool
) -> DueSlot | None:
    """Where ``state`` sits in the due index.

    A cart keeps its shard.  ``exact`` (a sweep, which knows the cart is due) sets the true
    due time; otherwise a stored earlier time is kept as a valid lower bound: moving the
    entry would cost two index writes for every webhook of a busy cart.
    """
    true_due = next_due_at(state, stages)
    if true_due is None:
        return None
    kept = base.due if base is not None else None
    shard = kept.shard if kept is not None else due_shard(state.cart_id, shards)
    if not exact and kept is not None and kept.at <= true_due:
        return DueSlot(shard, kept.at)
    return DueSlot(shard, true_due)


def rescue_entry(
    base: CartRecord | None, cart_id: str, slot: OutboxSlot, shards: int, *, hold_until: int
) -> DueSlot:
    """A bought cart's due-index entry while its event is unpublished: the rescue run's pointer.

    The entry stays where it was if that is no later than ``hold_until`` — the write then only
    updates the entry's projected status, one index unit, what removing it would cost — and
    otherwise moves to the slot's rescue time (two units), so no stuck purchase waits longer.
    """
    kept = base.due if base is not None else None
    if kept is not None and kept.at <= hold_until:
        return kept
    return DueSlot(kept.shard if kept is not None else due_shard(cart_id, shards), slot.due)


def listed_at(
    base: CartRecord | None,
    state: CartState,
    entry: Transition | None,
    recorded_at: int,
    *,
    list_active: bool = False,
) -> int | None:
    """The listing index's sort key after a write: moved by transitions only, never backwards.

    Never earlier than the transition, nor than any earlier one: ``modified_at`` bounds a
    cart's creation and abandonment times from above (the listing's key range relies on it).
    A store that lists active carts (``list_active``) lists a cart at the write that first
    sees its activity — its creation, to the listing — and then at its transitions only.
    """
    previous = base.listed_at if base is not None else None
    if entry is None:
        if previous is None and list_active and state.activity_seen:
            return max(state.cart_created_at, recorded_at)
        return previous
    order_recorded = base is not None and base.order_recorded
    if not is_listed(state, order_recorded=order_recorded, list_active=list_active):
        return None
    return max(previous or 0, entry.at, recorded_at)


def listed_activity(base: CartRecord | None, state: CartState, listed: int | None) -> int | None:
    """The last activity the listing shows: copied whenever the listing's sort key is written.

    A write that leaves ``listed_at`` alone leaves it alone too, so ordinary activity writes
    no index unit; an abandoned or closed cart cannot be active without a transition, so its
    copy is its exact last activity.
    """
    if listed is None:
        return None
    if base is not None and base.listed_at == listed and base.listed_activity_at is not None:
        return base.listed_activity_at
    return state.last_activity_at


def expiry(state: CartState, retention_seconds: int) -> int | None:
    """When the table's TTL may delete the cart."""
    if state.closed_at is not None and not state.status.is_open:
        return state.closed_at + retention_seconds
    if state.suppressed or state.series_stopped:
        # Out of the due index, a suppressed or stopped cart never expires through a sweep:
        # TTL retires it when BigCommerce would have, plus the usual retention.
        return state.last_activity_at + CART_LIFETIME_SECONDS + retention_seconds
    return None


def conversion_event(result: WebhookResult) -> OutboxEvent | None:
    conversion = result.conversion
    if conversion is None:
        return None
    return OutboxEvent(type=RECOVERED if conversion.recovered else CONVERTED, at=conversion.converted_at)


def abandonment_event(decision: SweepDecision, stages: StageSchedule, now: int) -> OutboxEvent | None:
    if decision.action is not SweepAction.ABANDON:
        return None
    return OutboxEvent(type=ABANDONED, at=now, stage=decision.stage, stage_count=stages.count)
