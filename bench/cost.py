"""A cost model: the counted calls of the intake replay, in US dollars per million webhooks,
and the floor the architecture cannot go below.

List prices, AWS us-east-1, on-demand (as published in 2025).  Lambda durations are the
handlers' measured CPU per webhook (``bench/handler_cpu.py``) plus the round trips a local
run cannot measure (stated in ``bench/capacity_model.py``), billed by the millisecond.

The floor (issue 14, item 9): API Gateway, one receiver invocation at its measured duration
and one SQS send per webhook, the exact design's write floor (a cart's first and closing
writes, decision 26), and processor batches that are always full.  ``ratio`` is what the
replay cost over that floor; its budget is 1.10.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.capacity_model import DYNAMODB_CALL_MS, SQS_SEND_MS
from cartwatch.resources import FUNCTION_MEMORY_MB

PRICES = {
    "http_api_request": 1.00 / 1e6,
    "lambda_request": 0.20 / 1e6,
    "lambda_arm_gb_second": 0.0000133334,
    "sqs_request": 0.40 / 1e6,
    "ddb_write_request_unit": 0.625 / 1e6,
    "ddb_read_request_unit": 0.125 / 1e6,
}
# The stack's memory sizes, in GB as Lambda bills them (1,024 MB each).
RECEIVER_GB = FUNCTION_MEMORY_MB["receiver"] / 1024
PROCESSOR_GB = FUNCTION_MEMORY_MB["processor"] / 1024
BATCH_SIZE = 100
RATIO_BUDGET = 1.10


@dataclass
class IntakeCost:
    webhooks: int
    batches: int
    write_units: int
    write_calls: int
    read_units: float
    floor_write_units: int
    floor_write_calls: int
    receiver_cpu_ms: float
    processor_cpu_ms: float

    def per_million(self) -> dict[str, float]:
        scale = 1e6 / max(self.webhooks, 1)
        batches = self.batches * scale
        processor_seconds = (
            self.webhooks * self.processor_cpu_ms + (self.batches + self.write_calls) * DYNAMODB_CALL_MS
        ) / 1000
        parts = {
            **self._ack(),
            # The event source mapping's receive + delete per batch.
            "sqs_batches": 2 * batches * PRICES["sqs_request"],
            "processor_lambda": batches * PRICES["lambda_request"]
            + processor_seconds * scale * PROCESSOR_GB * PRICES["lambda_arm_gb_second"],
            "dynamodb_writes": self.write_units * scale * PRICES["ddb_write_request_unit"],
            "dynamodb_reads": self.read_units * scale * PRICES["ddb_read_request_unit"],
        }
        parts["total"] = sum(parts.values())
        return parts

    def floor(self) -> float:
        scale = 1e6 / max(self.webhooks, 1)
        batches = math.ceil(self.webhooks / BATCH_SIZE) * scale
        processor_seconds = (
            self.webhooks * self.processor_cpu_ms
            + (math.ceil(self.webhooks / BATCH_SIZE) + self.floor_write_calls) * DYNAMODB_CALL_MS
        ) / 1000
        return (
            sum(self._ack().values())
            + 2 * batches * PRICES["sqs_request"]
            + batches * PRICES["lambda_request"]
            + processor_seconds * scale * PROCESSOR_GB * PRICES["lambda_arm_gb_second"]
            + self.floor_write_units * scale * PRICES["ddb_write_request_unit"]
        )

    def ratio(self) -> float:
        return self.per_million()["total"] / self.floor()

    def _ack(self) -> dict[str, float]:
        """What every webhook costs whatever the design behind the queue: the same in both."""
        billed_seconds = math.ceil(self.receiver_cpu_ms + SQS_SEND_MS) / 1000
        return {
            "api_gateway": 1e6 * PRICES["http_api_request"],
            "receiver_lambda": 1e6
            * (PRICES["lambda_request"] + RECEIVER_GB * billed_seconds * PRICES["lambda_arm_gb_second"]),
            "sqs_send": 1e6 * PRICES["sqs_request"],
        }
