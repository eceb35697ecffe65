"""What the answers to a run's deliveries say: shared by the burst and the load run."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable
from typing import Any


class Acks:
    """Mixed into a run's figures, which hold ``statuses`` and ``latencies_ms``."""

    statuses: Counter[int]
    latencies_ms: list[float]
    offered: int

    @property
    def accepted(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    @property
    def server_errors(self) -> int:
        # 0: no answer at all (the connection failed), as bad as a 5xx for BigCommerce.
        return sum(n for status, n in self.statuses.items() if status >= 500 or status == 0)

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0

    def ack_lines(self, prefix: str, metric: Callable[..., dict[str, Any]]) -> list[dict[str, Any]]:
        """Latency percentiles, 5xx and accepted deliveries, as ``{prefix}_…`` figures."""
        return [
            metric(f"{prefix}_ack_p50_ms", self.percentile(0.50), "ms", None),
            metric(f"{prefix}_ack_p99_ms", self.percentile(0.99), "ms", None),
            metric(
                f"{prefix}_ack_mean_ms",
                statistics.fmean(self.latencies_ms) if self.latencies_ms else 0,
                "ms",
                None,
            ),
            metric(f"{prefix}_5xx", self.server_errors, "responses", "== 0"),
            metric(f"{prefix}_accepted", self.accepted, "webhooks", f"== {self.offered}"),
        ]
