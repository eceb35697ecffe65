"""The intake queue: where the ack path stores each accepted delivery (one SendMessage)."""

from __future__ import annotations

from typing import Any


class IntakeQueue:
    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    def send(self, message: str) -> None:
        self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=message)
