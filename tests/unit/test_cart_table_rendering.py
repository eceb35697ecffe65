"""The DynamoDB layout of cart records and the one request each write plan renders to (no sockets)."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.pipeline_fakes import PLANNER, STAGES, STORE, T0

from cartwatch.adapters.cart_table import attributes as attr
from cartwatch.adapters.cart_table.items import record_from_item, record_item
from cartwatch.adapters.cart_table.rendering import render
from cartwatch.domain.cart_record import CartRecord, CartSummary, DueEntry, DueSlot, OutboxEvent
from cartwatch.domain.history import Transition
from cartwatch.domain.lifecycle import CartState, CartStatus, sweep
from cartwatch.domain.stages import StageSchedule
from cartwatch.resources import DUE_INDEX, LISTING_INDEX

CHANNEL_TWO = StageSchedule.parse("30m,6h")

times = st.integers(min_value=T0, max_value=T0 + 10**7)
optional_times = st.one_of(st.none(), times)
records = st.builds(
    CartRecord,
    state=st.builds(
        CartState,
        store_hash=st.just(STORE),
        cart_id=st.text("abc-#0123", min_size=1, max_size=12),
        status=st.sampled_from(CartStatus),
        cart_created_at=times,
        last_activity_at=times,
        stage=st.integers(0, 10),
        last_abandoned_stage=st.integers(0, 10),
        abandoned_at=optional_times,
        abandoned_token=st.one_of(st.none(), st.text("tok0", min_size=1, max_size=5)),
        abandoned_hint_at=optional_times,
        channel_id=st.one_of(st.none(), st.integers(1, 9)),
        order_id=st.one_of(st.none(), st.integers(1, 10**9)),
        closed_at=optional_times,
        activity_seen=st.booleans(),
        suppressed_at=optional_times,
        version=st.integers(1, 99),
    ),
    due=st.one_of(st.none(), st.builds(DueSlot, shard=st.just("DUE#01"), at=times)),
    history=st.lists(
        st.builds(
            Transition,
            times,
            st.sampled_from(CartStatus),
            st.integers(0, 3),
            st.just("sweep"),
            optional_times,
        ),
        max_size=3,
    ).map(tuple),
    listed_at=optional_times,
    snapshot=st.one_of(st.none(), st.just('{"a": 1}')),
    order=st.one_of(st.none(), st.just('{"id": 1}')),
    summary=st.builds(
        CartSummary,
        customer_id=st.one_of(st.none(), st.integers(0, 99)),
        customer_email=st.one_of(st.none(), st.just("a@example.com")),
        total=st.one_of(st.none(), st.decimals(0, 10**6, places=2)),
        currency=st.one_of(st.none(), st.just("USD")),
    ),
    recovery_of=st.one_of(st.none(), st.just("orig")),
    expires_at=optional_times,
    outbox=st.one_of(
        st.none(), st.builds(OutboxEvent, st.just("cartwatch.cart.abandoned"), times, st.integers(0, 3))
    ),
)


@settings(deadline=None)  # pure functions: a deadline would only time the machine's load
@given(records)
def test_a_record_survives_its_item(record: CartRecord) -> None:
    back = record_from_item(record_item(record))
    assert replace(back, summary=replace(back.summary, total=record.summary.total)) == record
    assert back.summary.total == record.summary.total  # equal as numbers ("12.50" reads back "12.5")


def test_a_new_cart_is_one_conditional_put_of_its_whole_item() -> None:
    plan = PLANNER.revision(None, CartState(STORE, "c1", CartStatus.ACTIVE, T0, T0), STAGES, recorded_at=T0)
    request = render(plan, "table")
    assert request.operation == "put_item"
    assert request.parameters["Item"] == record_item(plan.record)
    assert request.parameters["ConditionExpression"] == "attribute_not_exists(pk)"


def test_ordinary_activity_updates_only_its_changed_attributes_and_no_indexed_one() -> None:
    base = PLANNER.revision(
        None, CartState(STORE, "c1", CartStatus.ACTIVE, T0, T0), STAGES, recorded_at=T0
    ).record
    later = PLANNER.revision(base, replace(base.state, last_activity_at=T0 + 60), STAGES, recorded_at=T0 + 60)
    request = render(later, "table")
    assert request.operation == "update_item"
    names = request.parameters["ExpressionAttributeNames"]
    set_part, remove_part = request.parameters["UpdateExpression"].split(" REMOVE ")
    written = {names[clause.split(" = ")[0]] for clause in set_part.removeprefix("SET ").split(", ")}
    assert written == {attr.LAST_ACTIVITY_AT, attr.VERSION}
    assert [names[name] for name in remove_part.split(", ")] == [attr.PENDING_EVENT]  # the outbox rule
    indexed = {DUE_INDEX.partition_key.name, DUE_INDEX.sort_key.name, *DUE_INDEX.non_key_attributes}
    indexed |= {
        LISTING_INDEX.partition_key.name,
        LISTING_INDEX.sort_key.name,
        *LISTING_INDEX.non_key_attributes,
    }
    assert not written & indexed
    condition = request.parameters["ConditionExpression"]
    assert condition.startswith(next(p for p, n in names.items() if n == attr.VERSION) + " = ")
    assert request.parameters["ExpressionAttributeValues"][condition.split(" = ")[1]] == {"N": "1"}


def test_a_sweep_from_the_index_is_one_update_guarded_by_what_the_entry_showed() -> None:
    entry = DueEntry(STORE, "c1", CartStatus.ACTIVE, 0, DueSlot("DUE#02", T0 + 3600), None)
    state = CartState(STORE, "c1", CartStatus.ACTIVE, T0, T0)
    decision = sweep(state, T0 + 3600, STAGES)
    request = render(PLANNER.sweep_from_index(entry, decision, STAGES, now=T0 + 3600, recorded_at=T0), "t")
    parameters = request.parameters
    names = parameters["ExpressionAttributeNames"]
    condition = readable_condition(parameters)
    assert condition == (
        f"status = active AND stage = 0 AND last_activity_at <= {T0} AND attribute_not_exists(suppressed_at)"
        " AND (attribute_not_exists(shopper_bought_at) OR last_activity_at > shopper_bought_at)"
        " AND attribute_not_exists(channel_id)"  # the entry showed no channel: the store's stages
    )
    expression = parameters["UpdateExpression"]
    set_part, added = expression.split(" ADD ")
    assert [names[p] for p in added.split()[:1]] == [attr.VERSION]
    written = {names[p] for p in re.findall(r"#n\d+", set_part)}
    # The entry moves within its shard; the history entry is appended, the outbox filled.
    assert {
        attr.STATUS,
        attr.STAGE,
        attr.DUE_AT,
        attr.HISTORY,
        attr.PENDING_EVENT,
        attr.LISTING_KEY,
    } <= written
    assert attr.DUE_SHARD not in written and "list_append(if_not_exists(" in set_part


def test_a_sweep_from_an_entry_with_a_channel_is_guarded_by_that_channel() -> None:
    """The channel picked the stages the cutoff was computed with: a cart whose stored channel
    differs (the index lagged behind the write that learnt it) refuses the write."""
    entry = DueEntry(STORE, "c1", CartStatus.ACTIVE, 0, DueSlot("DUE#02", T0 + 1800), None, channel_id=2)
    state = CartState(STORE, "c1", CartStatus.ACTIVE, T0, T0, channel_id=2)
    decision = sweep(state, T0 + 1800, CHANNEL_TWO)
    parameters = render(
        PLANNER.sweep_from_index(entry, decision, CHANNEL_TWO, now=T0 + 1800, recorded_at=T0), "t"
    ).parameters
    condition = readable_condition(parameters)
    assert condition.endswith(
        f"last_activity_at <= {T0} AND attribute_not_exists(suppressed_at)"
        " AND (attribute_not_exists(shopper_bought_at) OR last_activity_at > shopper_bought_at)"
        " AND channel_id = 2"
    )


def readable_condition(parameters: dict[str, Any]) -> str:
    """A request's condition with its placeholders' names and values filled in."""
    names, values = parameters["ExpressionAttributeNames"], parameters["ExpressionAttributeValues"]
    condition = re.sub(
        r":v\d+", lambda m: str(next(iter(values[m[0]].values()))), parameters["ConditionExpression"]
    )
    return re.sub(r"#n\d+", lambda m: names[m[0]], condition)
