"""A cart's lifecycle history: each transition with its time and cause.

The history lives on the cart item as a short list of compact entries, written by the same
conditional write that makes the transition — so it costs no extra write, and ordinary
activity (which makes no transition) never touches it.  Creation is not stored: it is the
cart's ``cart_created_at``.  An entry reads ``<at>|<status>|<stage>|<cause>|<idle_since>``:

* ``at`` — when the transition happened (the sweep's clock, the webhook's ``created_at``,
  the API's clock);
* ``status`` / ``stage`` — the cart's status and stage after it;
* ``cause`` — ``webhook:<kind>``, ``sweep``, ``api:suppress``, ``bigcommerce:gone``,
  ``skipped:<reason>`` — the stage the entry before it announced was not published: the cart
  failed an eligibility rule (``domain/eligibility.py``), or its shopper had a newer cart or
  had bought (``skipped:newer_cart:<cart>``, ``skipped:shopper_bought[:<cart>]``,
  ``domain/shopper.py``); status and stage are unchanged — or
  ``stopped:shopper_bought:<cart>`` — the shopper bought that cart, and this cart's series
  stopped (status and stage are unchanged; no later stage of it is announced);
* ``idle_since`` — the cart's ``last_activity_at`` just before the transition, where the
  writer knew it (empty for the sweeper's index path: the due index does not project it).

Event ids are deterministic (uuid5 of the stage and the idle period's ``last_activity_at``
for abandonments, of the order for conversions), so the events published for a cart follow
from its history and state (:func:`published_events`) — the publisher records nothing.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cartwatch.domain.cart_webhooks import CartWebhook, WebhookKind
from cartwatch.domain.eligibility import SKIPPED_PREFIX
from cartwatch.domain.event_types import ABANDONED, CONVERTED, RECOVERED, event_id
from cartwatch.domain.lifecycle import (
    CartState,
    CartStatus,
    SweepAction,
    SweepDecision,
    WebhookResult,
    event_order,
)

# Enough for a cart abandoned, revived and abandoned again several times over; the writers
# that hold the whole item keep the latest entries (see ``append``).
HISTORY_LIMIT = 20

SWEEP = "sweep"
SUPPRESS = "api:suppress"
GONE = "bigcommerce:gone"
WEBHOOK_PREFIX = "webhook:"
STOPPED_PREFIX = "stopped:"


@dataclass(frozen=True)
class Transition:
    at: int
    status: CartStatus
    stage: int
    cause: str
    idle_since: int | None = None

    def encode(self) -> str:
        idle = "" if self.idle_since is None else str(self.idle_since)
        return f"{self.at}|{self.status.value}|{self.stage}|{self.cause}|{idle}"

    @classmethod
    def decode(cls, text: str) -> Transition:
        # A cause may name another cart, whose id BigCommerce does not promise free of "|".
        at, status, stage, rest = text.split("|", 3)
        cause, idle = rest.rsplit("|", 1)
        return cls(int(at), CartStatus(status), int(stage), cause, int(idle) if idle else None)


@dataclass(frozen=True)
class PublishedEvent:
    """An event cartwatch publishes for a cart, with the id consumers receive."""

    id: str
    type: str
    at: int
    stage: int | None


def append(history: Sequence[Transition], entry: Transition) -> tuple[Transition, ...]:
    """The history with ``entry`` added, keeping the latest ``HISTORY_LIMIT`` entries."""
    return (*history, entry)[-HISTORY_LIMIT:]


def webhook_transition(result: WebhookResult, events: Iterable[CartWebhook]) -> Transition | None:
    """The transition a batch of webhooks made, if any (a status change, or a new closed cart)."""
    before, after = result.before, result.after
    if before is None and after.status is CartStatus.ACTIVE:
        return None  # creation: already recorded as ``cart_created_at``
    if before is not None and before.status is after.status:
        return None
    cause_kind = _cause_kind(after.status, events)
    at = (
        after.closed_at
        if after.closed_at is not None and not after.status.is_open
        else after.last_activity_at
    )
    return Transition(
        at=at,
        status=after.status,
        stage=after.stage,
        cause=f"{WEBHOOK_PREFIX}{cause_kind.value}",
        idle_since=before.last_activity_at if before is not None else None,
    )


def sweep_transition(decision: SweepDecision, now: int, *, idle_known: bool) -> Transition | None:
    """The transition a sweep made: an abandonment stage or an expiry."""
    if decision.action not in (SweepAction.ABANDON, SweepAction.EXPIRE):
        return None
    after = decision.after
    return Transition(
        at=now,
        status=after.status,
        stage=after.stage,
        cause=SWEEP,
        idle_since=after.last_activity_at if idle_known else None,
    )


def suppression(state: CartState, now: int) -> Transition:
    return Transition(now, state.status, state.stage, SUPPRESS, state.last_activity_at)


def gone(state: CartState, now: int) -> Transition:
    """BigCommerce no longer had the cart when its stage-1 event was being enriched."""
    return Transition(now, CartStatus.DELETED, 0, GONE, state.last_activity_at)


def skipped(state: CartState, stage: int, cause: str, now: int) -> Transition:
    """The stage's event was not published: the cart failed one of its store's eligibility rules."""
    return Transition(now, CartStatus.ABANDONED, stage, cause, state.last_activity_at)


def stopped(state: CartState, now: int, bought_cart_id: str) -> Transition:
    """The shopper bought ``bought_cart_id``: this cart's abandonment series stopped."""
    return Transition(
        now,
        state.status,
        state.stage,
        f"{STOPPED_PREFIX}shopper_bought:{bought_cart_id}",
        state.last_activity_at,
    )


def published_events(state: CartState, history: Sequence[Transition]) -> list[PublishedEvent]:
    """The events published for this cart's recorded transitions, oldest first.

    A stage-1 abandonment that BigCommerce answered with 404 closes the cart instead of
    being published (``GONE`` follows it), so it has no event; a stage whose publisher
    skipped it says so in the entry after it — past any ``stopped:`` entry another cart's
    purchase wrote in between (a stop alone does not withdraw an event already out).
    """
    published: list[PublishedEvent] = []
    for index, entry in enumerate(history):
        if entry.cause != SWEEP or entry.status is not CartStatus.ABANDONED:
            continue
        following = next((e for e in history[index + 1 :] if not e.cause.startswith(STOPPED_PREFIX)), None)
        if entry.stage == 1 and following is not None and following.cause == GONE:
            continue
        if following is not None and following.cause.startswith(SKIPPED_PREFIX):
            continue
        idle = _idle_period_activity(state, history, index)
        transition = f"stage={entry.stage};last_activity_at={idle}"
        published.append(
            PublishedEvent(
                id=event_id(state.store_hash, ABANDONED, state.cart_id, transition),
                type=ABANDONED,
                at=entry.at,
                stage=entry.stage,
            )
        )
    if state.status in (CartStatus.CONVERTED, CartStatus.RECOVERED) and state.closed_at is not None:
        event_type = RECOVERED if state.status is CartStatus.RECOVERED else CONVERTED
        transition = (
            f"order={state.order_id}" if state.order_id is not None else f"closed_at={state.closed_at}"
        )
        published.append(
            PublishedEvent(
                id=event_id(state.store_hash, event_type, state.cart_id, transition),
                type=event_type,
                at=state.closed_at,
                stage=None,
            )
        )
    return published


def announced_stages(
    state: CartState, history: Sequence[Transition], in_flight_stage: int | None = None
) -> dict[int, int]:
    """The stages of the cart's current abandonment that were announced, and when.

    ``in_flight_stage``: a stage whose event is still unpublished (the cart's outbox slot holds
    it) — not announced yet, whatever its history says.
    """
    if state.status is not CartStatus.ABANDONED or state.abandoned_at is None:
        return {}
    return {
        event.stage: event.at
        for event in published_events(state, history)
        if event.type == ABANDONED
        and event.stage is not None
        and event.stage != in_flight_stage
        and event.at >= state.abandoned_at
    }


def _idle_period_activity(state: CartState, history: Sequence[Transition], index: int) -> int:
    # Only webhook activity moves ``last_activity_at``, and activity ends an abandonment with
    # a transition whose writer knew the value before it; so the first later entry that
    # knows it (or else the cart as it is now) tells the abandonment's idle period.
    for entry in history[index:]:
        if entry.idle_since is not None:
            return entry.idle_since
    return state.last_activity_at


def _cause_kind(status: CartStatus, events: Iterable[CartWebhook]) -> WebhookKind:
    ordered = sorted(events, key=event_order)
    if status in (CartStatus.CONVERTED, CartStatus.RECOVERED):
        wanted = {WebhookKind.CONVERTED}
    elif status is CartStatus.DELETED:
        wanted = {WebhookKind.DELETED}
    else:
        wanted = {kind for kind in WebhookKind if kind.is_activity}
    matching = [event.kind for event in ordered if event.kind in wanted]
    return matching[-1] if matching else ordered[-1].kind
