"""The cart lifecycle: pure transitions over plain values.

    active ──(idle past stage k)──▶ abandoned(k) ──(idle past k+1)──▶ abandoned(k+1) …
      ▲                                 │
      └──────────(new activity)─────────┘
    any open state ──converted──▶ converted | recovered (if it was ever abandoned)
    any open state ──deleted────▶ deleted          open & idle 30 days ──▶ expired

Webhook application is a *join*: the resulting state depends only on the set of events
seen, never on the order or number of deliveries.  That is what makes BigCommerce's
at-least-once, unordered delivery safe:

* ``last_activity_at`` is the maximum activity time, recorded even when the activity
  arrives after the cart closed; an older activity is stale.
* ``cart_created_at`` is the minimum event time.
* A terminal state is absorbing; ``converted`` outranks ``deleted`` (BigCommerce may
  delete a cart as it converts, in either order), and of two notices the earliest wins.
* The abandoned hint keeps the token of the latest hint; it is a hint, not the clock.

Time is passed in; nothing here reads a clock, the environment or the network.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

from cartwatch.domain.cart_webhooks import CartWebhook, WebhookKind
from cartwatch.domain.stages import CART_LIFETIME_SECONDS, StageSchedule


class CartStatus(StrEnum):
    ACTIVE = "active"
    ABANDONED = "abandoned"
    RECOVERED = "recovered"
    CONVERTED = "converted"
    DELETED = "deleted"
    EXPIRED = "expired"

    @property
    def is_open(self) -> bool:
        return self in (CartStatus.ACTIVE, CartStatus.ABANDONED)


# Ties in BigCommerce's 1-second ``created_at`` are broken by what happens first in a
# real storefront: a cart is created, filled, updated, then it is abandoned, deleted or
# converted.  The dedupe key breaks the remaining ties deterministically.
_KIND_RANK = {
    WebhookKind.CREATED: 0,
    WebhookKind.LINE_ITEM_CREATED: 1,
    WebhookKind.LINE_ITEM_UPDATED: 2,
    WebhookKind.LINE_ITEM_DELETED: 3,
    WebhookKind.COUPON_APPLIED: 4,
    WebhookKind.UPDATED: 5,
    WebhookKind.ABANDONED: 6,
    WebhookKind.DELETED: 7,
    WebhookKind.CONVERTED: 8,
}


def event_order(event: CartWebhook) -> tuple[int, int, str]:
    return (event.occurred_at, _KIND_RANK[event.kind], event.dedupe_key)


@dataclass(frozen=True)
class CartState:
    store_hash: str
    cart_id: str
    status: CartStatus
    cart_created_at: int
    last_activity_at: int
    stage: int = 0
    last_abandoned_stage: int = 0
    abandoned_at: int | None = None
    abandoned_token: str | None = None
    abandoned_hint_at: int | None = None
    channel_id: int | None = None
    order_id: int | None = None
    closed_at: int | None = None
    # False while only non-activity events (an abandoned hint, a deletion) were seen.
    activity_seen: bool = True
    # When a merchant stopped the reminders (``POST …/suppress``); webhooks never change it.
    suppressed_at: int | None = None
    # When the same shopper bought with another cart (the latest such purchase applied to
    # this one, ``stop_series``): the abandonment series of any activity until then is over.
    # Webhooks never change it; activity after it starts a series of its own.
    shopper_bought_at: int | None = None
    # Optimistic-concurrency counter of the stored item; not part of the lifecycle.
    version: int = 0

    @property
    def ever_abandoned(self) -> bool:
        return self.last_abandoned_stage > 0

    @property
    def suppressed(self) -> bool:
        return self.suppressed_at is not None

    @property
    def series_stopped(self) -> bool:
        """The shopper bought with another cart after this cart's last activity: no more stages."""
        return self.shopper_bought_at is not None and self.last_activity_at <= self.shopper_bought_at

    def lifecycle_view(self) -> CartState:
        """The state without its storage counter, for comparing outcomes."""
        return replace(self, version=0)


class Outcome(StrEnum):
    APPLIED = "applied"  # changed the cart
    UNCHANGED = "unchanged"  # current, but said nothing new (e.g. sibling events of one click)
    DUPLICATE = "duplicate"  # the same delivery again
    STALE = "stale"  # older than what the cart already knows, or after it closed


@dataclass(frozen=True)
class Conversion:
    """A cart was bought: the event the publisher must emit."""

    order_id: int | None
    converted_at: int
    recovered: bool
    stage_reached: int
    abandoned_at: int | None


@dataclass(frozen=True)
class WebhookResult:
    before: CartState | None
    after: CartState
    outcomes: tuple[tuple[str, Outcome], ...]
    conversion: Conversion | None

    @property
    def changed(self) -> bool:
        return self.before is None or self.before != self.after

    @property
    def reactivated(self) -> bool:
        return (
            self.before is not None
            and self.before.status is CartStatus.ABANDONED
            and self.after.status is CartStatus.ACTIVE
        )


def apply_webhooks(state: CartState | None, events: Iterable[CartWebhook]) -> WebhookResult:
    """Fold one cart's webhooks (any order, any duplicates) into its state."""
    ordered = sorted(events, key=event_order)
    if not ordered:
        raise ValueError("apply_webhooks needs at least one event")
    seen: set[str] = set()
    outcomes: list[tuple[str, Outcome]] = []
    before = state
    current = state
    for event in ordered:
        if event.dedupe_key in seen:
            outcomes.append((event.dedupe_key, Outcome.DUPLICATE))
            continue
        seen.add(event.dedupe_key)
        if current is None:
            current = _apply_one(_new_cart(event), event)[0]
            outcomes.append((event.dedupe_key, Outcome.APPLIED))
            continue
        current, outcome = _apply_one(current, event)
        outcomes.append((event.dedupe_key, outcome))
    if current is None:  # pragma: no cover — ordered is non-empty
        raise AssertionError("no state after folding events")
    return WebhookResult(
        before=before, after=current, outcomes=tuple(outcomes), conversion=_conversion(before, current)
    )


def _new_cart(event: CartWebhook) -> CartState:
    # The first event we see may not be ``created`` (reordering, or a hook registered
    # mid-session); any event of an unknown cart opens it.  Until an activity event
    # arrives, ``last_activity_at`` stands in as the earliest time we know of.
    return CartState(
        store_hash=event.store_hash,
        cart_id=event.cart_id,
        status=CartStatus.ACTIVE,
        cart_created_at=event.occurred_at,
        last_activity_at=event.occurred_at,
        activity_seen=False,
        channel_id=event.channel_id,
    )


def _apply_one(state: CartState, event: CartWebhook) -> tuple[CartState, Outcome]:
    t = event.occurred_at
    base = replace(
        state,
        cart_created_at=min(state.cart_created_at, t),
        channel_id=_min_optional(state.channel_id, event.channel_id),
    )
    if event.kind.is_activity:
        updated = _record_activity(base, t)
    elif not base.activity_seen:
        updated = replace(base, last_activity_at=min(base.last_activity_at, t))
    else:
        updated = base
    if event.kind is WebhookKind.ABANDONED:
        hint = (t, event.token or "")
        if hint > (updated.abandoned_hint_at or -1, updated.abandoned_token or ""):
            updated = replace(
                updated, abandoned_hint_at=t, abandoned_token=event.token or updated.abandoned_token
            )
    elif event.kind is WebhookKind.CONVERTED:
        updated = _convert(updated, t, event.order_id)
    elif event.kind is WebhookKind.DELETED:
        updated = _delete(updated, t)
    if updated == state:
        if _already_recorded(state, event):
            return state, Outcome.DUPLICATE
        newer_than_state = t > state.last_activity_at and state.status.is_open
        return state, Outcome.UNCHANGED if newer_than_state or t == state.last_activity_at else Outcome.STALE
    if event.kind.is_activity and not state.status.is_open:
        # Activity that happened before the cart closed but arrived after: recorded, and
        # reported as stale — it changes nothing about the cart's fate.
        return updated, Outcome.STALE
    return updated, Outcome.APPLIED


def _already_recorded(state: CartState, event: CartWebhook) -> bool:
    """The cart records exactly this closing event: it is a redelivery (BigCommerce retries for
    up to 48 hours).  Activity cannot be told apart from a sibling webhook of the same click
    (several fire in one second), so a repeated activity webhook is only ``UNCHANGED``."""
    if event.kind is WebhookKind.CONVERTED:
        return (
            state.status in (CartStatus.CONVERTED, CartStatus.RECOVERED)
            and state.closed_at == event.occurred_at
            and state.order_id == event.order_id
        )
    if event.kind is WebhookKind.DELETED:
        return state.status is CartStatus.DELETED and state.closed_at == event.occurred_at
    return False


def _record_activity(state: CartState, t: int) -> CartState:
    if not state.activity_seen:
        state = replace(state, activity_seen=True, last_activity_at=t)
    elif t > state.last_activity_at:
        state = replace(state, last_activity_at=t)
    else:
        return state
    if state.status is CartStatus.ABANDONED:
        # The shopper came back: the abandonment stages start over.
        state = replace(state, status=CartStatus.ACTIVE, stage=0)
    return state


def _convert(state: CartState, t: int, order_id: int | None) -> CartState:
    if state.status in (CartStatus.CONVERTED, CartStatus.RECOVERED):
        # The same conversion delivered twice (or two notices of it): keep the earliest.
        if state.closed_at is not None and (t, order_id or 0) < (state.closed_at, state.order_id or 0):
            return replace(state, closed_at=t, order_id=order_id)
        return state
    status = CartStatus.RECOVERED if state.ever_abandoned else CartStatus.CONVERTED
    return replace(_close(state, status, t), order_id=order_id)


def _delete(state: CartState, t: int) -> CartState:
    if state.status.is_open:
        return _close(state, CartStatus.DELETED, t)
    if state.status is CartStatus.DELETED and state.closed_at is not None and t < state.closed_at:
        return replace(state, closed_at=t)
    return state


def _close(state: CartState, status: CartStatus, t: int) -> CartState:
    return replace(state, status=status, stage=0, closed_at=t)


def _min_optional(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _conversion(before: CartState | None, after: CartState) -> Conversion | None:
    was_converted = before is not None and before.status in (CartStatus.CONVERTED, CartStatus.RECOVERED)
    if was_converted or after.status not in (CartStatus.CONVERTED, CartStatus.RECOVERED):
        return None
    return Conversion(
        order_id=after.order_id,
        converted_at=after.closed_at if after.closed_at is not None else after.last_activity_at,
        recovered=after.status is CartStatus.RECOVERED,
        stage_reached=after.last_abandoned_stage,
        abandoned_at=after.abandoned_at,
    )


# --- scheduling --------------------------------------------------------------------------


def suppress(state: CartState, now: int) -> CartState:
    """No further abandonment stages for this cart (the shopper was reached another way).

    Permanent for the cart: later activity still reopens it, conversions still close it,
    but the sweeper never announces a stage for it again.
    """
    if state.suppressed:
        return state
    return replace(state, suppressed_at=now)


def stop_series(state: CartState, bought_at: int) -> CartState:
    """The same shopper bought with another cart at ``bought_at``: this cart's series stops.

    Only the series of activity until the purchase: a shopper who comes back to this cart
    afterwards starts a series of its own (``CartState.series_stopped``).  Keeps the latest
    purchase, so applying the same (or an older) one again changes nothing.
    """
    if not state.status.is_open or state.last_activity_at > bought_at:
        return state
    if state.shopper_bought_at is not None and state.shopper_bought_at >= bought_at:
        return state
    return replace(state, shopper_bought_at=bought_at)


def next_due_at(state: CartState, stages: StageSchedule) -> int | None:
    """When this cart next needs the sweeper: its next stage, or its expiry.

    None when it never will: closed, suppressed, or its series stopped by the shopper's
    purchase with another cart (such a cart leaves the due index; DynamoDB's TTL retires it,
    see ``write_plan.expiry``).
    """
    if not state.status.is_open or state.suppressed or state.series_stopped:
        return None
    if state.stage < stages.count:
        return state.last_activity_at + stages.delay(state.stage + 1)
    return state.last_activity_at + CART_LIFETIME_SECONDS


def last_activity_bound(due_at: int, stage: int, stages: StageSchedule) -> int:
    """The inverse of ``next_due_at``: the latest activity a cart in ``stage`` due at ``due_at`` had.

    The due index does not project ``last_activity_at`` (it changes with every webhook), so
    the sweep estimates it from the entry.  An entry's due time is a lower bound, so the
    estimate can only make a cart look idler than it is — which the sweep's conditional
    write then refuses.
    """
    delay = stages.delay(stage + 1) if stage < stages.count else CART_LIFETIME_SECONDS
    return due_at - delay


class SweepAction(StrEnum):
    ABANDON = "abandon"
    EXPIRE = "expire"
    RESCHEDULE = "reschedule"
    DROP = "drop"


@dataclass(frozen=True)
class SweepDecision:
    action: SweepAction
    after: CartState
    stage: int = 0


def sweep(state: CartState, now: int, stages: StageSchedule) -> SweepDecision:
    """What a sweep at ``now`` does to a cart found in the due index.

    When the sweeper fell behind and several stages are already due, only the highest is
    announced: a shopper should never get three reminders in one minute.
    """
    if not state.status.is_open or state.suppressed or state.series_stopped:
        return SweepDecision(SweepAction.DROP, state)
    idle = now - state.last_activity_at
    if idle >= CART_LIFETIME_SECONDS:
        return SweepDecision(SweepAction.EXPIRE, _close(state, CartStatus.EXPIRED, now))
    reached = max((k for k in range(1, stages.count + 1) if idle >= stages.delay(k)), default=0)
    if reached <= state.stage:
        return SweepDecision(SweepAction.RESCHEDULE, state)
    abandoned_at = state.abandoned_at if state.stage > 0 and state.abandoned_at is not None else now
    after = replace(
        state,
        status=CartStatus.ABANDONED,
        stage=reached,
        last_abandoned_stage=reached,
        abandoned_at=abandoned_at,
    )
    return SweepDecision(SweepAction.ABANDON, after, stage=reached)
