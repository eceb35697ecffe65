"""A Powertools batch processor that applies a whole batch at once.

Powertools' ``BatchProcessor`` handles one record at a time.  cartwatch needs the whole
batch: the processor coalesces every webhook of one cart into one write, the relay
publishes up to ten events per SNS call.  This subclass keeps everything Powertools
does with the *results* — partial batch failure responses for SQS and DynamoDB streams,
and raising when every record failed — and changes only how records are processed:
first each record is parsed on its own (a record that cannot be parsed fails alone,
poison goes to the DLQ), then all parsed records are applied together and each gets the
outcome of its own part.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

__all__ = ["BatchApplyProcessor", "EventType"]

ApplyBatch = Callable[[Sequence[Any]], Sequence[BaseException | None]]


class BatchApplyProcessor(BatchProcessor):
    def __init__(self, event_type: EventType, apply_batch: ApplyBatch) -> None:
        super().__init__(event_type)
        self._apply_batch = apply_batch

    def process(self) -> list[tuple[Any, ...]]:
        results: list[tuple[Any, ...]] = []
        parsed: list[tuple[Any, Any]] = []  # (record as data class, parse result)
        for record in self.records:
            data = self._to_batch_type(record=record, event_type=self.event_type, model=self.model)
            try:
                parsed.append((data, self.handler(record=data)))
            except Exception:  # noqa: BLE001 — Powertools records the failure for this record only
                results.append(self.failure_handler(record=data, exception=sys.exc_info()))
        outcomes = self._apply_batch([value for _, value in parsed]) if parsed else []
        for (data, value), error in zip(parsed, outcomes, strict=True):
            if error is None:
                results.append(self.success_handler(record=data, result=value))
            else:
                results.append(
                    self.failure_handler(record=data, exception=(type(error), error, error.__traceback__))
                )
        return results
