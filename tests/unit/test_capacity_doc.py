"""docs/capacity.md is the capacity model's output, not typed figures.

The document records the measured inputs and knobs it was computed from; rendering the
model again from them must give the document back, byte for byte — so no figure in it can
be edited by hand, and a change to the model or to the stack's defaults shows here until
`bench/run --capacity-doc docs/capacity.md` is run again.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bench.capacity_model import Knobs, parse_inputs, render, rows

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "capacity.md"


def test_the_capacity_document_is_the_models_output_for_its_inputs() -> None:
    text = DOCUMENT.read_text(encoding="utf-8")
    measured, knobs = parse_inputs(text)
    assert render(measured, knobs) == text


def test_the_document_was_computed_with_the_stacks_knobs() -> None:
    _, knobs = parse_inputs(DOCUMENT.read_text(encoding="utf-8"))
    assert knobs == Knobs.deployed()


def test_every_quota_is_within_budget_or_names_its_knob() -> None:
    measured, knobs = parse_inputs(DOCUMENT.read_text(encoding="utf-8"))
    for row in rows(measured, knobs):
        assert row.within_budget or row.knob not in ("", "—"), row.quota


def test_the_model_follows_its_inputs() -> None:
    """Double the webhooks' write units: the hot partitions' figures double with them."""
    measured, knobs = parse_inputs(DOCUMENT.read_text(encoding="utf-8"))
    heavier = replace(measured, index_write_units_per_webhook=2 * measured.index_write_units_per_webhook)
    before = {r.quota: r.demand for r in rows(measured, knobs)}
    after = {r.quota: r.demand for r in rows(heavier, knobs)}
    shard = next(q for q in before if q.startswith("DynamoDB: a due shard"))
    assert after[shard] == 2 * before[shard]
    fewer_shards = replace(knobs, due_shards=knobs.due_shards // 2)
    assert {r.quota: r.demand for r in rows(measured, fewer_shards)}[shard] == 2 * before[shard]
