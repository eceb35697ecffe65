"""The purge job's SQS queue: requests to check an uninstall, and purge steps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# SQS's own limits: ten messages per SendMessageBatch, fifteen minutes of delay.
_BATCH = 10
MAX_DELAY_SECONDS = 900


class PurgeQueueError(RuntimeError):
    """SQS refused some of the messages; the caller fails so its own trigger retries."""


class PurgeQueue:
    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._url = queue_url

    def send(self, bodies: Sequence[str], *, delay_seconds: int = 0) -> None:
        delay = max(0, min(delay_seconds, MAX_DELAY_SECONDS))
        for offset in range(0, len(bodies), _BATCH):
            chunk = bodies[offset : offset + _BATCH]
            result = self._sqs.send_message_batch(
                QueueUrl=self._url,
                Entries=[
                    {"Id": str(index), "MessageBody": body, "DelaySeconds": delay}
                    for index, body in enumerate(chunk)
                ],
            )
            if result.get("Failed"):
                codes = sorted({f.get("Code", "?") for f in result["Failed"]})
                raise PurgeQueueError(
                    f"{len(result['Failed'])} purge message(s) not sent: {', '.join(codes)}"
                )
