"""The CloudEvents cartwatch publishes: envelope, data and deterministic ids."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from typing import Any

import pytest

from cartwatch.domain.cart import CartSnapshot
from cartwatch.domain.cart_cloud_events import (
    abandoned_event,
    converted_event,
    recovered_event,
    sns_attributes,
)
from cartwatch.domain.cloud_events import CartAbandonedData, CartRecoveredData, CloudEvent, parse_event
from cartwatch.domain.event_types import EVENT_TYPES, dataschema_for
from cartwatch.domain.lifecycle import CartStatus
from cartwatch.resources import TOPIC


def wire(event: CloudEvent) -> dict[str, Any]:
    return json.loads(event.to_json())


def floats_in(value: Any) -> list[float]:
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [f for v in value.values() for f in floats_in(v)]
    if isinstance(value, list):
        return [f for v in value for f in floats_in(v)]
    return []


def test_abandoned_envelope(abandoned_state, snapshot):
    body = wire(abandoned_event(abandoned_state, snapshot, stage=1, stage_count=3))

    envelope = {k: v for k, v in body.items() if k != "data"}
    assert envelope == {
        "specversion": "1.0",
        "id": envelope["id"],
        "source": "cartwatch/bigcommerce/abc123",
        "type": "cartwatch.cart.abandoned",
        "subject": "306d57d7-124e-4112-82cd-35e060c0d4d9",
        "time": "2025-08-05T16:38:14Z",
        "datacontenttype": "application/json",
        "dataschema": "urn:cartwatch:schema:cartwatch.cart.abandoned:1",
    }
    assert uuid.UUID(envelope["id"]).version == 5


def test_abandoned_data(abandoned_state, snapshot):
    data = wire(abandoned_event(abandoned_state, snapshot, stage=1, stage_count=3))["data"]

    assert {k: data[k] for k in list(data)[:11]} == {
        "store_hash": "abc123",
        "cart_id": "306d57d7-124e-4112-82cd-35e060c0d4d9",
        "channel_id": 1,
        "created_at": "2025-08-05T14:38:14Z",
        "last_activity_at": "2025-08-05T15:38:14Z",
        "status": "abandoned",
        "stage": 1,
        "stage_count": 3,
        "abandoned_at": "2025-08-05T16:38:14Z",
        "abandoned_token": "1eed6d2d979776ff18e695ceeb10ea61",
        "currency": "USD",
    }
    assert data["totals"]["cart_amount"] == "33.23"
    assert data["line_items"][0]["sale_price"] == "33.23"
    assert data["customer"]["email"] == "janedoe@example.com"
    assert data["recovery_link"]["url"].startswith("https://store.mybigcommerce.com/cart.php")
    assert floats_in(data) == []


def test_later_stages_carry_their_own_time(abandoned_state, snapshot, moments):
    event = abandoned_event(
        replace(abandoned_state, stage=2), snapshot, stage=2, stage_count=3, occurred_at=moments.converted
    )

    assert wire(event)["time"] == "2025-08-05T18:38:14Z"
    assert wire(event)["data"]["abandoned_at"] == "2025-08-05T16:38:14Z"


def test_abandoned_ids_are_deterministic_per_stage_and_activity(abandoned_state, snapshot, moments):
    def event_id(state=abandoned_state, stage=1):
        return abandoned_event(state, snapshot, stage=stage, stage_count=3).id

    assert event_id() == event_id()
    assert event_id(stage=2) != event_id()
    # Re-abandoned after new activity: a new abandonment, new ids.
    assert event_id(replace(abandoned_state, last_activity_at=moments.active + 60)) != event_id()
    assert event_id(replace(abandoned_state, store_hash="other1")) != event_id()
    # The snapshot does not enter the id: a retried sweep that re-fetched the cart agrees.
    assert abandoned_event(
        abandoned_state, snapshot.model_copy(update={"captured_at": 1}), stage=1, stage_count=3
    ).id == (event_id())


def test_recovered_event(recovered_state, snapshot, order):
    body = wire(recovered_event(recovered_state, snapshot, order))

    assert body["type"] == "cartwatch.cart.recovered"
    assert body["time"] == "2025-08-05T18:38:14Z"
    data = body["data"]
    assert data["status"] == "recovered"
    assert data["recovered_at"] == "2025-08-05T18:38:14Z"
    assert data["seconds_to_recover"] == 7_200
    assert data["stage_reached"] == 1
    assert data["order"] == {
        "id": 218,
        "total": "69.84",
        "currency": "USD",
        "status_id": 7,
        "status": "Awaiting Payment",
    }
    assert data["totals"]["cart_amount"] == "33.23"
    assert floats_in(body) == []


def test_recovered_without_snapshot_or_order(recovered_state):
    data = wire(recovered_event(recovered_state, None, None))["data"]

    assert data["order"] == {"id": 218, "total": None, "currency": None, "status_id": None, "status": None}
    assert [
        data[k] for k in ("currency", "totals", "line_items", "coupons", "customer", "recovery_link")
    ] == [None] * 6


def test_conversion_ids_follow_the_order(recovered_state, converted_state, snapshot, order, moments):
    assert (
        recovered_event(recovered_state, snapshot, order).id
        == recovered_event(recovered_state, None, None).id
    )
    assert recovered_event(replace(recovered_state, order_id=219), None, None).id != (
        recovered_event(recovered_state, None, None).id
    )
    assert converted_event(converted_state, order).id != recovered_event(recovered_state, None, None).id
    # Without an order id, the time the cart closed identifies the conversion.
    no_order = replace(converted_state, order_id=None)
    assert converted_event(no_order, None).id == converted_event(no_order, None).id
    assert (
        converted_event(replace(no_order, closed_at=moments.converted + 1), None).id
        != converted_event(no_order, None).id
    )


def test_converted_event(converted_state, order):
    body = wire(converted_event(converted_state, order))

    assert body["type"] == "cartwatch.cart.converted"
    assert body["data"] == {
        "store_hash": "abc123",
        "cart_id": "306d57d7-124e-4112-82cd-35e060c0d4d9",
        "channel_id": 1,
        "created_at": "2025-08-05T14:38:14Z",
        "last_activity_at": "2025-08-05T15:38:14Z",
        "status": "converted",
        "converted_at": "2025-08-05T18:38:14Z",
        "order": {
            "id": 218,
            "total": "69.84",
            "currency": "USD",
            "status_id": 7,
            "status": "Awaiting Payment",
        },
    }


@pytest.mark.parametrize(
    ("build", "status"),
    [
        (lambda s, snap: abandoned_event(s, snap, stage=1, stage_count=3), CartStatus.ACTIVE),
        (lambda s, snap: recovered_event(s, snap, None), CartStatus.CONVERTED),
        (lambda s, snap: converted_event(s, None), CartStatus.RECOVERED),
    ],
)
def test_builders_refuse_a_state_of_another_status(abandoned_state, snapshot, moments, build, status):
    state = replace(abandoned_state, status=status, closed_at=moments.converted)

    with pytest.raises(ValueError, match="not"):
        build(state, snapshot)


def test_sns_attributes(abandoned_state, snapshot):
    event = abandoned_event(abandoned_state, snapshot, stage=1, stage_count=3)

    assert sns_attributes(event) == {
        "type": {"DataType": "String", "StringValue": "cartwatch.cart.abandoned"},
        "store_hash": {"DataType": "String", "StringValue": "abc123"},
        "platform": {"DataType": "String", "StringValue": "bigcommerce"},
    }


def test_event_types_agree_with_the_topic_definition():
    assert TOPIC.event_types == EVENT_TYPES
    assert TOPIC.platform == "bigcommerce"


def test_each_event_names_its_schema(every_event_variant):
    for event in every_event_variant:
        assert event.dataschema == dataschema_for(event.type)


def test_events_round_trip(every_event_variant):
    for event in every_event_variant:
        parsed = parse_event(event.to_json())
        assert type(parsed) is type(event)
        assert parsed == event


def test_parse_event_refuses_other_json():
    with pytest.raises(ValueError, match="not a cartwatch cart event"):
        parse_event('{"type": "com.example.other"}')


def test_timestamps_are_utc(abandoned_state, snapshot):
    data = wire(abandoned_event(abandoned_state, snapshot, stage=1, stage_count=3))

    assert all(data["data"][k].endswith("Z") for k in ("created_at", "last_activity_at", "abandoned_at"))


def test_cart_events_carry_every_snapshot_content_field():
    # Builders pass ``snapshot.contents()`` as keyword arguments: a field missing from an
    # event's data model would be dropped silently.
    for model in (CartAbandonedData, CartRecoveredData):
        assert set(CartSnapshot.CONTENT_FIELDS) <= set(model.model_fields), model.__name__
