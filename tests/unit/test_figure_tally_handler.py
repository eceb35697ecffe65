"""The figure tally's handler speaks Lambda's tumbling-window protocol; the publisher's revenue
metric carries its currency."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

import pytest
from tests.memory_daily_counters import CounterRefused, MemoryDailyCounters
from tests.support import FakeLambdaContext, emf_metrics
from tests.unit.test_figure_tally import Life, brute_force, live

from cartwatch.adapters.cart_table.items import record_item, tombstone_item
from cartwatch.domain.cart_record import CartRecord, Tombstone
from cartwatch.handlers import figure_tally, publisher
from cartwatch.service.figure_tally import FigureTally
from cartwatch.service.publishing import RelayReport

SHARD = "shardId-00000001"


def image(stored: CartRecord | Tombstone | None) -> dict[str, Any] | None:
    if stored is None:
        return None
    return record_item(stored) if isinstance(stored, CartRecord) else tombstone_item(stored)


def stream_records(changes: list[tuple[Any, Any]]) -> list[dict[str, Any]]:
    """The table's stream records (NEW_AND_OLD_IMAGES) of these writes, as Lambda hands them over."""
    records = []
    for n, (before, after) in enumerate(changes):
        new, old = image(after), image(before)
        assert new is not None
        dynamodb: dict[str, Any] = {
            "Keys": {"pk": new["pk"], "sk": new["sk"]},
            "NewImage": new,
            "SequenceNumber": f"{n + 1:021d}",
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        }
        if old is not None:
            dynamodb["OldImage"] = old
        records.append({"eventName": "MODIFY" if old else "INSERT", "dynamodb": dynamodb})
    return records


def window_event(records: list[dict[str, Any]], state: dict[str, Any], *, final: bool) -> dict[str, Any]:
    return {
        "Records": records,
        "window": {"start": "2027-01-15T08:00:00Z", "end": "2027-01-15T08:15:00Z"},
        "state": state,
        "shardId": SHARD,
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/x",
        "isFinalInvokeForWindow": final,
        "isWindowTerminatedEarly": False,
    }


def test_a_window_carries_its_figures_as_state_and_its_last_invocation_adds_them() -> None:
    store = live(
        [Life("s1", "a", 0, (3,), "buy_late", "EUR", 4200), Life("s1", "b", 900, (), "buy", "USD", 999)],
        random.Random(2),
    )
    counters = MemoryDailyCounters()
    tally = FigureTally(counters)
    records = stream_records(store.stream)
    # Records of other items never reach the tally (the mapping's filter); if one did, it is skipped.
    records.insert(
        1, {"eventName": "MODIFY", "dynamodb": {"Keys": {"pk": {"S": "STATS#s1"}, "sk": {"S": "DAY#x"}}}}
    )
    state: dict[str, Any] = {}
    for start in range(0, len(records), 3):
        answer = figure_tally.handler(
            window_event(records[start : start + 3], state, final=False), FakeLambdaContext(), tally=tally
        )
        state = answer["state"]
        json.dumps(state)  # Lambda keeps it as JSON
        assert counters.days == {}  # nothing is added before the window ends
    final = window_event([], state, final=True)
    assert figure_tally.handler(final, FakeLambdaContext(), tally=tally) == {
        "state": {},
        "batchItemFailures": [],
    }
    assert counters.read("s1", "2027-01-01", "2027-12-31") == brute_force(store, "s1")
    assert counters.writes == len(brute_force(store, "s1"))  # one write per store and day

    # Lambda retries a last invocation that failed: nothing is added twice.
    assert figure_tally.handler(final, FakeLambdaContext(), tally=tally)["state"] == {}
    assert counters.read("s1", "2027-01-01", "2027-12-31") == brute_force(store, "s1")


def test_a_last_invocation_that_cannot_add_everything_fails_and_its_retry_adds_the_rest() -> None:
    store = live([Life("s1", "a", 0, (), "buy_late", "USD", 500)], random.Random(4))
    counters = MemoryDailyCounters()
    tally = FigureTally(counters)
    state = figure_tally.handler(
        window_event(stream_records(store.stream), {}, final=False), FakeLambdaContext(), tally=tally
    )["state"]
    day = next(iter(brute_force(store, "s1")))
    counters.refuse.add(("s1", day))
    with pytest.raises(CounterRefused):
        figure_tally.handler(window_event([], state, final=True), FakeLambdaContext(), tally=tally)
    figure_tally.handler(window_event([], state, final=True), FakeLambdaContext(), tally=tally)
    assert counters.read("s1", "2027-01-01", "2027-12-31") == brute_force(store, "s1")


def test_an_unreadable_image_is_counted_and_skipped_never_blocking_the_window(
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = live([Life("s1", "a", 0, (), "buy", "USD", 500)], random.Random(4))
    records = stream_records(store.stream)
    broken = json.loads(json.dumps(records[0]))
    del broken["dynamodb"]["NewImage"]["status"]
    counters = MemoryDailyCounters()
    answer = figure_tally.handler(
        window_event([broken, *records[1:]], {}, final=True), FakeLambdaContext(), tally=FigureTally(counters)
    )
    assert answer["state"] == {}
    metrics = {m["name"]: m["value"] for m in emf_metrics(capsys.readouterr().out)}
    assert metrics["TallyWritesUnreadable"] == 1
    assert metrics["TallyWritesFolded"] == len(records) - 1


def test_an_erasure_in_the_stream_changes_no_figure() -> None:
    store = live([Life("s1", "a", 0, (), "buy_late", "USD", 500)], random.Random(4))
    record = store.load("s1", "a")
    assert isinstance(record, CartRecord)
    tombstone = Tombstone("s1", "a", erased_at=1, expires_at=2)
    counters = MemoryDailyCounters()
    records = stream_records([*store.stream, (record, tombstone)])
    figure_tally.handler(
        window_event(records, {}, final=True), FakeLambdaContext(), tally=FigureTally(counters)
    )
    assert counters.read("s1", "2027-01-01", "2027-12-31") == brute_force(store, "s1")


class _Relay:
    """The publisher's relay, reporting recovered revenue in two currencies."""

    def relay(self, carts: Any, remaining_ms: Any = None) -> tuple[list[BaseException | None], RelayReport]:
        report = RelayReport(recovered_revenue={"EUR": "12.50", "USD": "80.00"})
        report.published["cartwatch.cart.recovered"] = 2
        return [None] * len(carts), report


def test_recovered_revenue_is_one_metric_series_per_currency(capsys: pytest.CaptureFixture[str]) -> None:
    store = live([Life("s1", "a", 0, (), "buy_late", "USD", 500)], random.Random(4))
    record = store.load("s1", "a")
    assert isinstance(record, CartRecord)
    event = {"Records": [{**stream_records([(None, record)])[0], "eventSource": "aws:dynamodb"}]}
    publisher.handler(event, FakeLambdaContext(), relay=_Relay())  # type: ignore[arg-type]
    revenue = [m for m in emf_metrics(capsys.readouterr().out) if m["name"] == "RecoveredRevenue"]
    assert {m["dimensions"]["currency"]: Decimal(str(m["value"])) for m in revenue} == {
        "EUR": Decimal("12.5"),
        "USD": Decimal("80"),
    }
    # Never summed across currencies: no series without the dimension.
    assert all("currency" in m["dimensions"] for m in revenue)
