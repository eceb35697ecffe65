"""The daily-counters contract against the in-memory counters of the unit tier."""

from __future__ import annotations

import pytest
from tests.daily_counters_contract import DailyCountersContract
from tests.memory_daily_counters import MemoryDailyCounters


class TestMemoryDailyCounters(DailyCountersContract):
    @pytest.fixture
    def counters(self) -> MemoryDailyCounters:
        return MemoryDailyCounters()
