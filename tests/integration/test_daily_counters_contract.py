"""The daily-counters contract against the DynamoDB adapter, on moto server."""

from __future__ import annotations

import pytest
from tests.daily_counters_contract import DailyCountersContract
from tests.integration.conftest import Aws

from cartwatch.adapters.daily_counters import DynamoDailyCounters


@pytest.mark.integration
class TestDynamoDailyCounters(DailyCountersContract):
    @pytest.fixture
    def counters(self, aws: Aws) -> DynamoDailyCounters:
        return DynamoDailyCounters(aws.client("dynamodb"), aws.resources.table_name)
