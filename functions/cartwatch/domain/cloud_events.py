"""The events cartwatch publishes: CloudEvents 1.0 JSON on one SNS topic (DESIGN.md §3).

Each type has a pydantic model, and its JSON Schema — generated from that model and
committed under ``schemas/`` — is the published contract::

    python -m cartwatch.domain.cloud_events --write-schemas schemas/

Event ids are deterministic (uuid5 of source, type, cart and transition), so a publisher
that delivers an event twice delivers the same id and consumers can drop the duplicate:

* abandoned: the stage *and* ``last_activity_at`` — a cart abandoned, revived and abandoned
  again is a new abandonment with new ids;
* recovered / converted: the order id (or, without one, the time the cart closed).

Every event fits one SNS message (256 KiB, body and message attributes): a cart too large
for that is trimmed by the rule of ``cartwatch.domain.cart.fit_snapshot`` and says so in
``line_items_truncated`` / ``line_item_count``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from cartwatch.domain.cart import (
    TRIMMED_OPTION_VALUE_CHARS,
    CartSnapshot,
    Coupon,
    Customer,
    LineItem,
    OrderSummary,
    RecoveryLink,
    Timestamp,
    Totals,
    fit_snapshot,
)
from cartwatch.domain.event_types import (
    ABANDONED,
    ABANDONED_SCHEMA,
    CONVERTED,
    CONVERTED_SCHEMA,
    EVENT_TYPES,
    PLATFORM,
    PLATFORM_ATTRIBUTE,
    RECOVERED,
    RECOVERED_SCHEMA,
    STORE_ATTRIBUTE,
    TYPE_ATTRIBUTE,
    AbandonedSchema,
    AbandonedType,
    ConvertedSchema,
    ConvertedType,
    RecoveredSchema,
    RecoveredType,
    dataschema_for,
    event_id,
    source_for,
)
from cartwatch.domain.lifecycle import CartState, CartStatus
from cartwatch.resources import SNS_MESSAGE_MAX_BYTES

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _at(epoch_seconds: int) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, UTC)


def _at_or_none(epoch_seconds: int | None) -> datetime | None:
    return None if epoch_seconds is None else _at(epoch_seconds)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, json_schema_serialization_defaults_required=True)


# --- data ----------------------------------------------------------------------------------

_TRUNCATED = (
    "True when the cart was too large for one event and its line items were trimmed: every "
    f"item without url and image_url, option values cut to {TRIMMED_OPTION_VALUE_CHARS} "
    "characters, and - if that was not enough - only the first items listed (in cart order; "
    "line_item_count says how many there are). Totals, coupons and customer are always complete."
)
_COUNT = "How many line items the cart has, including any not listed in line_items."


class CartEventData(_Model):
    """What every cart event says: which cart of which store, and its clock."""

    store_hash: str
    cart_id: str
    channel_id: int | None
    created_at: Timestamp
    last_activity_at: Timestamp


class CartAbandonedData(CartEventData):
    status: Literal["abandoned"] = "abandoned"
    stage: int = Field(ge=1)
    stage_count: int = Field(ge=1)
    abandoned_at: Timestamp
    # BigCommerce's own abandoned-cart token (from ``store/cart/abandoned``), if one came.
    abandoned_token: str | None
    currency: str
    totals: Totals
    line_items: list[LineItem]
    line_items_truncated: bool = Field(description=_TRUNCATED)
    line_item_count: int = Field(ge=0, description=_COUNT)
    coupons: list[Coupon]
    customer: Customer
    recovery_link: RecoveryLink


class CartRecoveredData(CartEventData):
    status: Literal["recovered"] = "recovered"
    abandoned_at: Timestamp | None
    abandoned_token: str | None
    recovered_at: Timestamp
    seconds_to_recover: int | None = Field(ge=0)
    stage_reached: int = Field(ge=0)
    # The cart as it was abandoned; null where no snapshot was taken.
    currency: str | None
    totals: Totals | None
    line_items: list[LineItem] | None
    line_items_truncated: bool | None = Field(description=_TRUNCATED)
    line_item_count: int | None = Field(ge=0, description=_COUNT)
    coupons: list[Coupon] | None
    customer: Customer | None
    recovery_link: RecoveryLink | None
    order: OrderSummary


class CartConvertedData(CartEventData):
    status: Literal["converted"] = "converted"
    converted_at: Timestamp
    order: OrderSummary


# --- envelope ------------------------------------------------------------------------------


class CloudEvent(_Model):
    """A CloudEvents 1.0 envelope in structured JSON mode."""

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(
        json_schema_extra={"format": "uuid"},
        description="Deterministic: the same transition always has the same id; drop repeats.",
    )
    source: str = Field(pattern=r"^cartwatch/bigcommerce/[A-Za-z0-9]+$")
    type: str
    subject: str = Field(description="The BigCommerce cart id.")
    time: Timestamp = Field(description="When the transition happened (UTC).")
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str
    data: CartEventData

    def to_json(self) -> str:
        return self.model_dump_json()


class CartAbandoned(CloudEvent):
    event_type: ClassVar[str] = ABANDONED
    type: AbandonedType = ABANDONED
    dataschema: AbandonedSchema = ABANDONED_SCHEMA
    data: CartAbandonedData


class CartRecovered(CloudEvent):
    event_type: ClassVar[str] = RECOVERED
    type: RecoveredType = RECOVERED
    dataschema: RecoveredSchema = RECOVERED_SCHEMA
    data: CartRecoveredData


class CartConverted(CloudEvent):
    event_type: ClassVar[str] = CONVERTED
    type: ConvertedType = CONVERTED
    dataschema: ConvertedSchema = CONVERTED_SCHEMA
    data: CartConvertedData


EVENT_MODELS: dict[str, type[CloudEvent]] = {
    m.event_type: m for m in (CartAbandoned, CartRecovered, CartConverted)
}


def parse_event(text: str | bytes) -> CloudEvent:
    """An event back from its JSON (an outbox item, an SNS message), as its own type's model."""
    envelope = json.loads(text)
    event_type = envelope.get("type") if isinstance(envelope, dict) else None
    model = EVENT_MODELS.get(event_type) if isinstance(event_type, str) else None
    if model is None:
        raise ValueError("not a cartwatch cart event")
    return model.model_validate(envelope)


# --- builders ------------------------------------------------------------------------------


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

    def build(contents: CartSnapshot) -> CartAbandoned:
        return CartAbandoned(
            id=event_id(state.store_hash, ABANDONED, state.cart_id, transition),
            source=source_for(state.store_hash),
            subject=state.cart_id,
            time=_at(occurred_at if occurred_at is not None else abandoned_at),
            data=CartAbandonedData(
                store_hash=state.store_hash,
                cart_id=state.cart_id,
                channel_id=_channel(state, contents),
                created_at=_at(state.cart_created_at),
                last_activity_at=_at(state.last_activity_at),
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
            id=event_id(state.store_hash, RECOVERED, state.cart_id, _conversion_transition(state)),
            source=source_for(state.store_hash),
            subject=state.cart_id,
            time=_at(closed_at),
            data=CartRecoveredData(
                store_hash=state.store_hash,
                cart_id=state.cart_id,
                channel_id=_channel(state, contents),
                created_at=_at(state.cart_created_at),
                last_activity_at=_at(state.last_activity_at),
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
        id=event_id(state.store_hash, CONVERTED, state.cart_id, _conversion_transition(state)),
        source=source_for(state.store_hash),
        subject=state.cart_id,
        time=_at(closed_at),
        data=CartConvertedData(
            store_hash=state.store_hash,
            cart_id=state.cart_id,
            channel_id=state.channel_id,
            created_at=_at(state.cart_created_at),
            last_activity_at=_at(state.last_activity_at),
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


# --- JSON Schemas --------------------------------------------------------------------------


def json_schema(event_type: str) -> dict[str, Any]:
    """The published JSON Schema of one event type, as the model generates it."""
    model = EVENT_MODELS[event_type]
    generated = model.model_json_schema(mode="serialization")
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": dataschema_for(event_type),
        **generated,
        "title": event_type,
        "description": f"CloudEvents 1.0 envelope of a {event_type} event, as published on SNS.",
    }


def schema_text(event_type: str) -> str:
    return json.dumps(json_schema(event_type), indent=2, ensure_ascii=False) + "\n"


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for event_type in EVENT_TYPES:
        path = directory / f"{event_type}.json"
        path.write_text(schema_text(event_type), encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cartwatch.domain.cloud_events")
    parser.add_argument("--write-schemas", metavar="DIR", type=Path, required=True)
    args = parser.parse_args(argv)
    for path in write_schemas(args.write_schemas):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
