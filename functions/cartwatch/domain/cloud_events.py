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
``line_items_truncated`` / ``line_item_count``.  The events are built from a cart's state in
``cart_cloud_events.py``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from cartwatch.domain.cart import (
    TRIMMED_OPTION_VALUE_CHARS,
    Coupon,
    Customer,
    LineItem,
    OrderSummary,
    RecoveryLink,
    Timestamp,
    Totals,
)
from cartwatch.domain.event_types import (
    ABANDONED,
    ABANDONED_SCHEMA,
    CONVERTED,
    CONVERTED_SCHEMA,
    EVENT_TYPES,
    RECOVERED,
    RECOVERED_SCHEMA,
    AbandonedSchema,
    AbandonedType,
    ConvertedSchema,
    ConvertedType,
    RecoveredSchema,
    RecoveredType,
    dataschema_for,
)

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


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
