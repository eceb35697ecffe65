"""What every daily-counters implementation must do: one suite, run against the in-memory
counters (``tests/unit``) and the DynamoDB adapter on moto (``tests/integration``)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cartwatch.domain.daily_figures import DailyCounters

D = Decimal


class DailyCountersContract:
    def test_additions_add_up_per_store_and_day_negative_changes_and_exact_money_included(
        self, counters: DailyCounters
    ) -> None:
        assert counters.add(
            "s1", "2026-11-05", {"created": D(3), "abandoned_value_USD": D("10.10")}, marker="a/1"
        )
        assert counters.add(
            "s1", "2026-11-05", {"created": D(-1), "abandoned_value_USD": D("0.2")}, marker="b/7"
        )
        assert counters.add("s1", "2026-11-05", {"abandoned_value_EUR": D("1.005")}, marker="a/9")
        assert counters.add("s1", "2026-11-06", {"recovered": D(1)}, marker="a/9")
        assert counters.add("s2", "2026-11-05", {"created": D(5)}, marker="a/9")
        fifth = {"created": D(2), "abandoned_value_USD": D("10.30"), "abandoned_value_EUR": D("1.005")}
        assert counters.read("s1", "2026-11-05", "2026-11-05") == {"2026-11-05": fifth}
        assert counters.read("s1", "2026-11-01", "2026-11-30") == {
            "2026-11-05": fifth,
            "2026-11-06": {"recovered": D(1)},
        }
        assert counters.read("s1", "2026-11-07", "2026-12-31") == {}
        assert counters.read("s3", "2026-11-01", "2026-11-30") == {}

    def test_a_retried_addition_of_the_same_window_is_not_added_twice(self, counters: DailyCounters) -> None:
        assert counters.add("s1", "2026-11-05", {"created": D(2)}, marker="shard-1/100")
        assert not counters.add("s1", "2026-11-05", {"created": D(2)}, marker="shard-1/100")
        assert counters.add("s1", "2026-11-05", {"created": D(1)}, marker="shard-1/200")
        assert counters.read("s1", "2026-11-05", "2026-11-05") == {"2026-11-05": {"created": D(3)}}

    def test_only_figures_are_counted(self, counters: DailyCounters) -> None:
        with pytest.raises(ValueError, match="not a figure"):
            counters.add("s1", "2026-11-05", {"tally": D(1)}, marker="m")
        assert counters.read("s1", "2026-11-05", "2026-11-05") == {}
