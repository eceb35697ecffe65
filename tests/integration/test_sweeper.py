"""Abandonment sweeps against moto server: stages, races, stale index entries, time limits."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from bench.counting import CallCounter
from tests.integration.conftest import Aws, Store
from tests.integration.test_processor import cart_item, message, run
from tests.support import FakeLambdaContext, carts_per_shard

from cartwatch.adapters.cart_table.items import state_from_item
from cartwatch.domain.cart_record import due_shard, shard_names
from cartwatch.domain.lifecycle import CartStatus
from cartwatch.domain.stages import CART_LIFETIME_SECONDS
from cartwatch.handlers import sweeper as sweeper_handler
from cartwatch.resources import DUE_INDEX
from cartwatch_tools.local.event_sources import DynamoDBStreamEventSource

T0 = 1_800_000_000
HOUR, DAY = 3600, 86400


def sweep(aws: Aws, now: int, remaining_ms: Any = None) -> dict[str, Any]:
    job = aws.function("sweeper").abandonment_sweep(remaining_ms=remaining_ms)
    return sweeper_handler.handler({}, FakeLambdaContext(), sweep=job, now=now)


def published_intents(aws: Aws) -> list[dict[str, Any]]:
    """Every event intent the stream shows (what the publisher would receive)."""
    seen: list[dict[str, Any]] = []

    def capture(event: dict[str, Any]) -> dict[str, Any]:
        for record in event["Records"]:
            image = record["dynamodb"]["NewImage"]
            seen.append({"cart_id": image["cart_id"]["S"], **json.loads(image["pending_event"]["S"])})
        return {"batchItemFailures": []}

    streams = aws.client("dynamodbstreams")
    DynamoDBStreamEventSource(streams, aws.resources.stream_arn, capture).drain()
    return seen


@pytest.mark.integration
def test_idle_cart_is_abandoned_once_per_stage(aws: Aws, store: Store) -> None:
    run(aws, message(store, "store/cart/created", "c1", T0))
    assert sweep(aws, T0 + HOUR - 1)["abandoned"] == 0
    assert sweep(aws, T0 + HOUR)["abandoned"] == 1
    assert sweep(aws, T0 + HOUR + 60)["abandoned"] == 0  # the same stage is never announced twice
    assert sweep(aws, T0 + DAY)["abandoned"] == 1
    assert sweep(aws, T0 + 2 * DAY)["abandoned"] == 1
    assert sweep(aws, T0 + 3 * DAY)["abandoned"] == 0
    state = state_from_item(cart_item(aws, store, "c1"))
    assert (state.status, state.stage, state.abandoned_at) == (CartStatus.ABANDONED, 3, T0 + HOUR)
    intents = published_intents(aws)
    assert [(i["type"], i["stage"], i["stage_count"]) for i in intents] == [
        ("cartwatch.cart.abandoned", 1, 3),
        ("cartwatch.cart.abandoned", 2, 3),
        ("cartwatch.cart.abandoned", 3, 3),
    ]


@pytest.mark.integration
def test_per_store_stages_are_honoured(aws: Aws, add_store: Any) -> None:
    quick = add_store(stages="10m,30m")
    run(aws, message(quick, "store/cart/created", "c1", T0))
    assert sweep(aws, T0 + 600)["abandoned"] == 1
    assert sweep(aws, T0 + 1800)["abandoned"] == 1
    assert state_from_item(cart_item(aws, quick, "c1")).stage == 2


@pytest.mark.integration
def test_two_sweeps_at_once_or_one_run_twice_still_one_event_per_stage(aws: Aws, store: Store) -> None:
    for n in range(20):
        run(aws, message(store, "store/cart/created", f"c{n}", T0))
    barrier = threading.Barrier(3)
    results: list[dict[str, Any]] = []

    def work() -> None:
        barrier.wait()
        results.append(sweep(aws, T0 + HOUR))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.append(sweep(aws, T0 + HOUR))  # and once more after they finished
    assert sum(r["abandoned"] for r in results) == 20
    intents = published_intents(aws)
    assert sorted(i["cart_id"] for i in intents) == sorted(f"c{n}" for n in range(20))


@pytest.mark.integration
def test_cart_updated_before_the_sweep_gets_no_event_and_is_rescheduled(aws: Aws, store: Store) -> None:
    run(aws, message(store, "store/cart/created", "c1", T0))
    # Activity does not move the index entry (lazy scheduling): the entry is stale now.
    run(aws, message(store, "store/cart/updated", "c1", T0 + 1800))
    assert int(cart_item(aws, store, "c1")["due_at"]["N"]) == T0 + HOUR
    result = sweep(aws, T0 + HOUR)
    assert (result["abandoned"], result["rescheduled"]) == (0, 1)
    assert int(cart_item(aws, store, "c1")["due_at"]["N"]) == T0 + 1800 + HOUR
    assert published_intents(aws) == []
    assert sweep(aws, T0 + 1800 + HOUR)["abandoned"] == 1


@pytest.mark.integration
def test_converted_and_deleted_carts_are_never_abandoned(aws: Aws, store: Store) -> None:
    run(
        aws,
        message(store, "store/cart/created", "bought", T0),
        message(store, "store/cart/created", "gone", T0),
    )
    run(aws, message(store, "store/cart/converted", "bought", T0 + 60, orderId=5))
    run(aws, message(store, "store/cart/deleted", "gone", T0 + 60))
    assert sweep(aws, T0 + 3 * DAY)["abandoned"] == 0
    assert [i["type"] for i in published_intents(aws)] == ["cartwatch.cart.converted"]


@pytest.mark.integration
def test_returning_shopper_restarts_the_stages_and_recovers(aws: Aws, store: Store) -> None:
    run(aws, message(store, "store/cart/created", "c1", T0))
    sweep(aws, T0 + HOUR)
    run(aws, message(store, "store/cart/updated", "c1", T0 + 2 * HOUR))
    state = state_from_item(cart_item(aws, store, "c1"))
    assert (state.status, state.stage) == (CartStatus.ACTIVE, 0)
    assert int(cart_item(aws, store, "c1")["due_at"]["N"]) == T0 + 3 * HOUR
    assert sweep(aws, T0 + 3 * HOUR)["abandoned"] == 1  # stage 1 again, for the new idle period
    run(aws, message(store, "store/cart/converted", "c1", T0 + 4 * HOUR, orderId=77))
    assert state_from_item(cart_item(aws, store, "c1")).status is CartStatus.RECOVERED
    types = [(i["type"], i["stage"]) for i in published_intents(aws)]
    assert types == [
        ("cartwatch.cart.abandoned", 1),
        ("cartwatch.cart.abandoned", 1),
        ("cartwatch.cart.recovered", 0),
    ]


@pytest.mark.integration
def test_carts_idle_for_thirty_days_expire_without_an_event(aws: Aws, store: Store) -> None:
    run(aws, message(store, "store/cart/created", "c1", T0))
    for now in (T0 + HOUR, T0 + DAY, T0 + 2 * DAY):
        sweep(aws, now)
    assert sweep(aws, T0 + CART_LIFETIME_SECONDS)["expired"] == 1
    item = cart_item(aws, store, "c1")
    assert state_from_item(item).status is CartStatus.EXPIRED
    assert "due_at" not in item and "expires_at" in item
    assert len(published_intents(aws)) == 3


@pytest.mark.integration
def test_sweep_stops_before_its_time_runs_out_and_the_next_one_finishes(aws: Aws, store: Store) -> None:
    for n in range(6):
        run(aws, message(store, "store/cart/created", f"c{n}", T0))
    budget = iter([60_000, 60_000, 60_000, 5_000] + [60_000] * 50)
    first = sweep(aws, T0 + HOUR, remaining_ms=lambda: next(budget))
    assert first["stopped_early"] and first["abandoned"] == 3
    second = sweep(aws, T0 + HOUR + 60)
    assert second["abandoned"] == 3 and not second["stopped_early"]


@pytest.mark.integration
def test_sweep_reads_only_due_carts(aws: Aws, store: Store) -> None:
    run(aws, *[message(store, "store/cart/created", f"old{n}", T0) for n in range(10)])
    run(aws, *[message(store, "store/cart/created", f"new{n}", T0 + 1800) for n in range(10)])
    counter = CallCounter()
    sweeper = aws.function("sweeper", event_handlers=counter.handlers, store_cache_seconds=300)
    sweeper.abandonment_sweep().run(T0 + HOUR)
    # The 10 due carts (and the store's settings); the 10 not-yet-due are never read.
    assert counter.items_read == 10 + 1
    # One query page per shard, and one of the store rows (every store's settings at once).
    assert counter.calls["dynamodb.Query"] == 4 + 1
    assert counter.calls["dynamodb.GetItem"] == 0  # the store's stages came with its row, then cached


def budgeted_sweep(aws: Aws, now: int, writes: int) -> tuple[dict[str, Any], list[str]]:
    """One sweep through the handler with time for ``writes`` writes; the shards whose
    due-index partition it queried, once per query."""
    counter = CallCounter()
    due_queries: list[str] = []

    def count_due_query(params: dict[str, Any], **_: Any) -> None:
        if params.get("IndexName") == DUE_INDEX.name:
            due_queries.append(params["ExpressionAttributeValues"][":partition"]["S"])

    handlers = [*counter.handlers, ("before-parameter-build.dynamodb.Query", count_due_query)]
    job = aws.function("sweeper", event_handlers=handlers).abandonment_sweep(
        remaining_ms=lambda: 60_000 if counter.writes < writes else 5_000
    )
    return sweeper_handler.handler({}, FakeLambdaContext(), sweep=job, now=now), due_queries


@pytest.mark.integration
def test_a_quarter_budget_run_four_times_advances_every_shard_and_reports_every_lag(
    aws: Aws, store: Store
) -> None:
    """Issue 14's acceptance case through the handler: 4 shards, 8 due carts each, time for
    8 writes a sweep.  Every run advances every shard and reports the lag of all four, and
    the lag costs no query beyond the one page of each shard the sweep reads anyway."""
    cart_ids = carts_per_shard(4, 8)
    run(aws, *(message(store, "store/cart/created", c, T0 + n) for n, c in enumerate(cart_ids)))
    in_shard = {shard: [c for c in cart_ids if due_shard(c, 4) == shard] for shard in shard_names(4)}
    for turn in range(4):
        now = T0 + HOUR + 60 + 60 * turn
        result, due_queries = budgeted_sweep(aws, now, writes=8)
        # Each shard's oldest cart left is its (2 * turn)-th, created at T0 + its position.
        expected = {
            shard: {"lag_seconds": now - (T0 + cart_ids.index(carts[2 * turn]) + HOUR), "swept": 2}
            for shard, carts in in_shard.items()
        }
        assert result["shards"] == expected
        assert result["starved_shards"] == [] and result["abandoned"] == 8
        assert result["lag_seconds"] == max(s["lag_seconds"] for s in expected.values())
        assert sorted(due_queries) == shard_names(4)  # one page each, the lag probe included
    assert sorted(i["cart_id"] for i in published_intents(aws)) == sorted(cart_ids)
    assert sweep(aws, T0 + HOUR + 300)["lag_seconds"] == 0
