"""A cost model: the counted calls of the intake replay, in US dollars per million webhooks.

List prices, AWS us-east-1, on-demand (as published in 2025); Lambda durations are
assumptions stated here, since a local run cannot measure Lambda billing.  The point is
the shape (what dominates), not the cents.
"""

from __future__ import annotations

from dataclasses import dataclass

PRICES = {
    "http_api_request": 1.00 / 1e6,
    "lambda_request": 0.20 / 1e6,
    "lambda_arm_gb_second": 0.0000133334,
    "sqs_request": 0.40 / 1e6,
    "ddb_write_request_unit": 0.625 / 1e6,
    "ddb_read_request_unit": 0.125 / 1e6,
}
RECEIVER = (0.256, 0.020)  # GB, seconds billed per invocation (assumed)
PROCESSOR_PER_BATCH = (0.512, 0.250)  # GB, seconds billed per batch (assumed)


@dataclass
class IntakeCost:
    webhooks: int
    batches: int
    write_units: int
    read_units: int

    def per_million(self) -> dict[str, float]:
        scale = 1e6 / max(self.webhooks, 1)
        batches = self.batches * scale
        parts = {
            "api_gateway": 1e6 * PRICES["http_api_request"],
            "receiver_lambda": 1e6 * (PRICES["lambda_request"] + _gb_s(RECEIVER)),
            # One SendMessage per webhook; the event source mapping's receive + delete per batch.
            "sqs": (1e6 + 2 * batches) * PRICES["sqs_request"],
            "processor_lambda": batches * (PRICES["lambda_request"] + _gb_s(PROCESSOR_PER_BATCH)),
            "dynamodb_writes": self.write_units * scale * PRICES["ddb_write_request_unit"],
            "dynamodb_reads": self.read_units * scale * PRICES["ddb_read_request_unit"],
        }
        parts["total"] = sum(parts.values())
        return parts


def _gb_s(function: tuple[float, float]) -> float:
    memory_gb, seconds = function
    return memory_gb * seconds * PRICES["lambda_arm_gb_second"]
