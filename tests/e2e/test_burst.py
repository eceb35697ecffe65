"""A short burst against `cartwatch local` (the full 30-second one is in bench/run).

Deliveries offered open-loop to one store over fresh connections: none may get a 5xx (or
no answer), and every accepted webhook must be applied — each cart's first and last
webhook show in its state, and nothing is left in the intake queue or its DLQ.  How fast
is a figure bench/run prints (ack p50/p99), never asserted here.
"""

from __future__ import annotations

import pytest
from bench.burst import run_burst

pytestmark = pytest.mark.e2e


def test_a_burst_gets_no_5xx_and_every_accepted_webhook_is_applied() -> None:
    figures = run_burst(rate=100.0, seconds=3.0)
    assert figures.server_errors == 0, dict(figures.statuses)
    assert figures.accepted == figures.offered == 300
    assert figures.applied_carts == figures.carts == 100
    assert figures.intake_dead_letters == 0
