"""Fair sweeps: every due-index shard advances every run, and every shard's lag is reported.

Against the in-memory cart store; ``tests/integration/test_sweeper.py`` runs the acceptance
case over moto server through the handler.  A sweep's time is spent by its writes here: it
has time for a given number of them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator

import pytest
from tests.memory_cart_store import MemoryCartStore
from tests.support import FakeLambdaContext, carts_per_shard
from tests.unit.pipeline_fakes import HOUR, PLANNER, T0, Stores, webhook
from tests.unit.test_abandonment_sweep import events, receive

from cartwatch.domain.cart_record import DueEntry, due_shard
from cartwatch.domain.cart_webhooks import WebhookKind
from cartwatch.handlers import sweeper as sweeper_handler
from cartwatch.service.sweeping import AbandonmentSweep, SweepReport

SHARDS = PLANNER.shards()  # four


def budgeted(store: MemoryCartStore, writes: int) -> AbandonmentSweep:
    """A sweep with time for ``writes`` writes: then its remaining time is below the reserve."""
    start = len(store.applied)
    return AbandonmentSweep(
        store,
        PLANNER,
        Stores(),
        remaining_ms=lambda: 60_000 if len(store.applied) - start < writes else 5_000,
        clock=lambda: T0,
    )


def staggered(cart_ids: list[str], *, at: int = T0) -> MemoryCartStore:
    """Each cart created a second after the one before: their stage 1 falls due in that order."""
    store = MemoryCartStore()
    receive(store, *(webhook(cart_id, WebhookKind.CREATED, at + n) for n, cart_id in enumerate(cart_ids)))
    return store


def oldest_due_by_shard(store: MemoryCartStore, now: int) -> dict[str, int | None]:
    """What the index shows: each shard's oldest entry due at ``now`` (None: nothing due)."""
    due = [e for e in store.index_entries() if e.due.at <= now]
    return {shard: min((e.due.at for e in due if e.due.shard == shard), default=None) for shard in SHARDS}


def lags(report: SweepReport) -> dict[str, int]:
    return {name: shard.lag_seconds(report.now) for name, shard in report.shards.items()}


def test_a_budget_for_a_quarter_of_the_due_carts_run_four_times_advances_every_shard() -> None:
    """Issue 14's acceptance case: 4 shards, 8 due carts each, time for 8 writes a sweep."""
    cart_ids = carts_per_shard(len(SHARDS), 8)
    store = staggered(cart_ids)
    for run in range(4):
        now = T0 + HOUR + 60 + 60 * run
        expected = oldest_due_by_shard(store, now)
        assert all(at is not None for at in expected.values())  # every shard has carts left
        report = budgeted(store, writes=8).run(now)
        # Every shard advanced, by the same share of the budget ...
        assert {name: shard.swept for name, shard in report.shards.items()} == dict.fromkeys(SHARDS, 2)
        assert report.starved == [] and report.abandoned_total == 8
        assert report.stopped_early is (run < 3)
        # ... and every shard's lag was measured: its oldest due entry as the sweep began.
        assert lags(report) == {shard: now - at for shard, at in expected.items() if at is not None}
        assert report.lag_seconds == max(lags(report).values())
    assert events(store) == sorted((cart_id, 1) for cart_id in cart_ids)
    done = budgeted(store, writes=8).run(T0 + HOUR + 300)
    assert (done.due_seen, done.lag_seconds, done.stopped_early) == (0, 0, False)
    assert set(done.shards) == set(SHARDS)


def test_each_turn_takes_the_most_overdue_shard_first() -> None:
    cart_ids = carts_per_shard(len(SHARDS), 2)
    store = staggered(cart_ids)
    now = T0 + HOUR + 60
    order: list[str] = []
    sweep = AbandonmentSweep(
        store, PLANNER, Stores(), clock=lambda: T0, on_transition=lambda d: order.append(d.after.cart_id)
    )
    sweep.run(now)
    # Turn one: each shard's oldest cart, oldest first; turn two: each shard's second one.
    firsts = sorted({due_shard(c, 4): c for c in reversed(cart_ids)}.values(), key=cart_ids.index)
    seconds = [c for c in cart_ids if c not in firsts]
    assert order == firsts + seconds


def test_a_sweep_out_of_time_at_once_still_reports_the_lag_of_every_shard() -> None:
    store = staggered(carts_per_shard(len(SHARDS), 3))
    now = T0 + HOUR + 600
    report = budgeted(store, writes=0).run(now)
    assert (report.due_seen, report.stopped_early) == (0, True)
    assert report.starved == SHARDS
    expected = oldest_due_by_shard(store, now)
    assert lags(report) == {shard: now - at for shard, at in expected.items() if at is not None}
    assert events(store) == []


def test_shards_with_nothing_due_report_no_lag_and_cost_one_page_each() -> None:
    store = staggered([c for c in carts_per_shard(len(SHARDS), 1) if due_shard(c, 4) == SHARDS[2]])
    pages: Counter[str] = Counter()
    due_entries = store.due_entries

    def counted(shard: str, now: int, page_size: int = 200) -> Iterator[list[DueEntry]]:
        for page in due_entries(shard, now, page_size):
            pages[shard] += 1
            yield page

    store.due_entries = counted  # type: ignore[method-assign]
    report = AbandonmentSweep(store, PLANNER, Stores(), clock=lambda: T0).run(T0 + HOUR + 30)
    assert lags(report) == {SHARDS[0]: 0, SHARDS[1]: 0, SHARDS[2]: 30, SHARDS[3]: 0}
    assert pages == dict.fromkeys(SHARDS, 1)  # the lag came with the page the sweep reads anyway


def test_a_shard_the_sweep_cannot_reach_raises_the_lag_the_alarm_watches(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Time for one entry of three shards out of four, and the fourth shard's carts always
    the least overdue: that shard is never reached, and its lag, reported every run, passes the alarm's
    threshold (infra: SweepLagSeconds, Maximum, > 300 s with a 1-minute sweep)."""
    cart_ids = carts_per_shard(len(SHARDS), 20)
    late = SHARDS[3]
    store = staggered([c for c in cart_ids if due_shard(c, 4) != late])
    receive(
        store,
        *(
            webhook(c, WebhookKind.CREATED, T0 + 100 + n)
            for n, c in enumerate(cart_ids)
            if due_shard(c, 4) == late
        ),
    )
    results = []
    for minute in range(1, 8):
        now = T0 + HOUR + 60 * minute
        sweep = budgeted(store, writes=3)
        result = sweeper_handler.handler({}, FakeLambdaContext(), sweep=sweep, now=now)
        assert result["starved_shards"] == ([late] if now >= T0 + HOUR + 100 else [])
        assert result["shards"][late] == {"lag_seconds": max(0, now - (T0 + HOUR + 100)), "swept": 0}
        assert set(result["shards"]) == set(SHARDS)
        results.append(result)
    last = results[-1]
    assert last["shards"][late]["lag_seconds"] == 320  # past the alarm's 300 s
    emitted = [
        value
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("{") and "_aws" in line
        for value in json.loads(line)["SweepLagSeconds"]
    ]
    assert emitted == [r["lag_seconds"] for r in results]
    assert emitted[-1] >= last["shards"][late]["lag_seconds"]
