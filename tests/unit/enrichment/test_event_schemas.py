"""The committed JSON Schemas under ``schemas/`` are the published event contract.

Every event a builder emits must validate against its committed schema, and the committed
files must be exactly what the models generate — regenerate with
``python -m cartwatch.domain.cloud_events --write-schemas schemas/`` when a model changes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, ValidationError

from cartwatch.domain.cart import MONEY_PATTERN
from cartwatch.domain.cart_cloud_events import abandoned_event, converted_event
from cartwatch.domain.cloud_events import json_schema, main
from cartwatch.domain.event_types import EVENT_TYPES

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"


def committed(event_type: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{event_type}.json").read_text(encoding="utf-8"))


def validator(event_type: str) -> Draft202012Validator:
    schema = committed(event_type)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_every_builder_output_validates_against_its_committed_schema(every_event_variant):
    assert {e.type for e in every_event_variant} == set(EVENT_TYPES)
    for event in every_event_variant:
        errors = [e.message for e in validator(event.type).iter_errors(json.loads(event.to_json()))]
        assert errors == [], f"{event.type}: {errors}"


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_committed_schema_matches_the_models(event_type):
    assert committed(event_type) == json_schema(event_type), (
        f"schemas/{event_type}.json is stale: "
        "run python -m cartwatch.domain.cloud_events --write-schemas schemas/"
    )


def test_exactly_one_schema_per_event_type_is_committed():
    assert sorted(p.name for p in SCHEMAS.glob("cartwatch.cart.*.json")) == sorted(
        f"{t}.json" for t in EVENT_TYPES
    )


def test_the_generator_writes_what_is_committed(tmp_path):
    assert main(["--write-schemas", str(tmp_path)]) == 0

    for event_type in EVENT_TYPES:
        assert (tmp_path / f"{event_type}.json").read_text(encoding="utf-8") == (
            SCHEMAS / f"{event_type}.json"
        ).read_text(encoding="utf-8")


def test_money_is_a_decimal_string_in_the_schema():
    totals = committed("cartwatch.cart.abandoned")["$defs"]["Totals"]["properties"]

    assert totals["cart_amount"]["type"] == "string"
    assert totals["cart_amount"]["pattern"] == MONEY_PATTERN


def test_the_schema_refuses_a_float_amount(abandoned_state, snapshot):
    body = json.loads(abandoned_event(abandoned_state, snapshot, stage=1, stage_count=3).to_json())
    body["data"]["totals"]["cart_amount"] = 33.23

    with pytest.raises(ValidationError):
        validator("cartwatch.cart.abandoned").validate(body)


def test_the_schema_refuses_an_event_of_another_type(converted_state, order):
    body = json.loads(converted_event(converted_state, order).to_json())

    with pytest.raises(ValidationError):
        validator("cartwatch.cart.abandoned").validate(body)


def test_the_models_literal_types_spell_the_event_types_and_schemas_there_are() -> None:
    from typing import get_args

    from cartwatch.domain import event_types
    from cartwatch.domain.cloud_events import EVENT_MODELS

    for event_type, model in EVENT_MODELS.items():
        assert get_args(model.model_fields["type"].annotation) == (event_type,)
        assert get_args(model.model_fields["dataschema"].annotation) == (
            event_types.dataschema_for(event_type),
        )
    assert set(EVENT_MODELS) == set(event_types.EVENT_TYPES)
