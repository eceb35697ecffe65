"""A cart's CloudEvents: built from its state at each transition, each fitted to one SNS message.

The models and their published JSON Schemas are ``cloud_events.py``; the types, ids and
message attributes' names are ``event_types.py``.  Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from cartwatch.domain.cart import CartSnapshot, OrderSummary, fit_snapshot
from cartwatch.domain.cloud_events import (
    CartAbandoned,
    CartAbandonedData,
    CartConverted,
    CartConvertedData,
    CartRecovered,
    CartRecoveredData,
    CloudEvent,
)
from cartwatch.domain.event_types import (
    ABANDONED,
    CONVERTED,
    PLATFORM,
    PLATFORM_ATTRIBUTE,
    RECOVERED,
    STORE_ATTRIBUTE,
    TYPE_ATTRIBUTE,
    event_id,
    source_for,
)
from cartwatch.domain.lifecycle import CartState, CartStatus
from cartwatch.resources import SNS_MESSAGE_MAX_BYTES


def abandoned_event(
    state: CartState,
    snapshot: CartSnapshot,
    *,
    stage: int,
    stage_count: int,
    occurred_at: int | None = None,
) -> CartAbandoned:
    """The event for ``stage`` of an abandonment.

    ``occurred_at`` is when this stage was reached (the sweep's time); it defaults to the
    abandonment's start, which is exact for stage 1.
    """
    _expect(state, CartStatus.ABANDONED)
    abandoned_at = state.abandoned_at
    if abandoned_at is None:
        raise ValueError(f"cart {state.cart_id} is abandoned without an abandoned_at")
    transition = f"stage={stage};last_activity_at={state.last_activity_at}"

    reached_at = occurred_at if occurred_at is not None else abandoned_at

    def build(contents: CartSnapshot) -> CartAbandoned:
        return CartAbandoned(
            **_envelope(state, ABANDONED, transition, reached_at),
            data=CartAbandonedData(
                **_cart_fields(state, _channel(state, contents)),
                stage=stage,
                stage_count=stage_count,
                abandoned_at=_at(abandoned_at),
                abandoned_token=state.abandoned_token,
                **contents.contents(),
            ),
        )

    return _fitted(build, snapshot)


def recovered_event(
    state: CartState, snapshot: CartSnapshot | None, order: OrderSummary | None
) -> CartRecovered:
    """A cart that had been abandoned was bought.  ``order`` None: BigCommerce was not reached."""
    _expect(state, CartStatus.RECOVERED)
    closed_at = _closed_at(state)
    seconds = closed_at - state.abandoned_at if state.abandoned_at is not None else None

    def build(contents: CartSnapshot | None) -> CartRecovered:
        return CartRecovered(
            **_envelope(state, RECOVERED, _conversion_transition(state), closed_at),
            data=CartRecoveredData(
                **_cart_fields(state, _channel(state, contents)),
                abandoned_at=_at_or_none(state.abandoned_at),
                abandoned_token=state.abandoned_token,
                recovered_at=_at(closed_at),
                seconds_to_recover=max(seconds, 0) if seconds is not None else None,
                stage_reached=state.last_abandoned_stage,
                order=_order(state, order),
                **(contents.contents() if contents else dict.fromkeys(CartSnapshot.CONTENT_FIELDS)),
            ),
        )

    if snapshot is None:
        return build(None)
    return _fitted(build, snapshot)


def converted_event(state: CartState, order: OrderSummary | None) -> CartConverted:
    """A cart was bought without ever being abandoned."""
    _expect(state, CartStatus.CONVERTED)
    closed_at = _closed_at(state)
    return CartConverted(
        **_envelope(state, CONVERTED, _conversion_transition(state), closed_at),
        data=CartConvertedData(
            **_cart_fields(state, state.channel_id),
            converted_at=_at(closed_at),
            order=_order(state, order),
        ),
    )


def sns_attributes(event: CloudEvent) -> dict[str, dict[str, str]]:
    """SNS MessageAttributes that subscription filter policies match on."""
    return {
        TYPE_ATTRIBUTE: {"DataType": "String", "StringValue": event.type},
        STORE_ATTRIBUTE: {"DataType": "String", "StringValue": event.data.store_hash},
        PLATFORM_ATTRIBUTE: {"DataType": "String", "StringValue": PLATFORM},
    }


def sns_message_bytes(body: str, attributes: Mapping[str, Mapping[str, str]]) -> int:
    """A message's size as SNS counts it against its limits: the body and, of each message
    attribute, its name, data type and value (UTF-8 bytes)."""
    size = len(body.encode())
    for name, value in attributes.items():
        size += len(name.encode()) + len(value.get("DataType", "").encode())
        size += len(value.get("StringValue", "").encode())
    return size


def fits_one_message(event: CloudEvent) -> bool:
    return sns_message_bytes(event.to_json(), sns_attributes(event)) <= SNS_MESSAGE_MAX_BYTES


def _fitted[E: CloudEvent](build: Callable[[CartSnapshot], E], snapshot: CartSnapshot) -> E:
    """The event built from ``snapshot``, trimmed (``fit_snapshot``) when it would not fit SNS."""
    event = build(snapshot)
    if fits_one_message(event):
        return event
    return build(fit_snapshot(snapshot, lambda candidate: fits_one_message(build(candidate))))


def _envelope(state: CartState, event_type: str, transition: str, at: int) -> dict[str, Any]:
    """What every cart event carries outside ``data``: its deterministic id, source, subject, time."""
    return {
        "id": event_id(state.store_hash, event_type, state.cart_id, transition),
        "source": source_for(state.store_hash),
        "subject": state.cart_id,
        "time": _at(at),
    }


def _cart_fields(state: CartState, channel_id: int | None) -> dict[str, Any]:
    """The fields every event's ``data`` opens with: which cart, where, when made and last used."""
    return {
        "store_hash": state.store_hash,
        "cart_id": state.cart_id,
        "channel_id": channel_id,
        "created_at": _at(state.cart_created_at),
        "last_activity_at": _at(state.last_activity_at),
    }


def _expect(state: CartState, status: CartStatus) -> None:
    if state.status is not status:
        raise ValueError(f"cart {state.cart_id} is {state.status.value}, not {status.value}")


def _closed_at(state: CartState) -> int:
    if state.closed_at is None:
        raise ValueError(f"cart {state.cart_id} is {state.status.value} without a closed_at")
    return state.closed_at


def _conversion_transition(state: CartState) -> str:
    if state.order_id is not None:
        return f"order={state.order_id}"
    return f"closed_at={_closed_at(state)}"


def _channel(state: CartState, snapshot: CartSnapshot | None) -> int | None:
    if state.channel_id is not None:
        return state.channel_id
    return snapshot.channel_id if snapshot is not None else None


def _order(state: CartState, order: OrderSummary | None) -> OrderSummary:
    if order is not None:
        return order
    return OrderSummary(id=state.order_id, total=None, currency=None, status_id=None, status=None)


def _at(epoch_seconds: int) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, UTC)


def _at_or_none(epoch_seconds: int | None) -> datetime | None:
    return None if epoch_seconds is None else _at(epoch_seconds)
