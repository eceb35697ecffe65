"""SNS publishing with per-entry results: only what failed is retried."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

# SNS PublishBatch takes at most 10 entries per call.
PUBLISH_BATCH_LIMIT = 10


@dataclass(frozen=True)
class OutgoingMessage:
    body: str
    attributes: dict[str, Any]  # SNS MessageAttributes


@dataclass(frozen=True)
class PublishFailure:
    index: int
    code: str
    message: str


class SnsEventPublisher:
    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn
        self.calls = 0
        self.messages_published = 0

    def publish(self, messages: Sequence[OutgoingMessage]) -> list[PublishFailure]:
        """Publish all messages; return the ones SNS did not accept (by position)."""
        failures: list[PublishFailure] = []
        for start in range(0, len(messages), PUBLISH_BATCH_LIMIT):
            chunk = messages[start : start + PUBLISH_BATCH_LIMIT]
            entries = [
                {"Id": str(start + offset), "Message": message.body, "MessageAttributes": message.attributes}
                for offset, message in enumerate(chunk)
            ]
            self.calls += 1
            try:
                response = self._client.publish_batch(
                    TopicArn=self._topic_arn,
                    PublishBatchRequestEntries=entries,  # type: ignore[arg-type]
                )
            except Exception as error:  # noqa: BLE001 — the whole call failed: every entry is retried
                code = type(error).__name__
                failures += [
                    PublishFailure(start + i, code, "publish_batch call failed") for i in range(len(chunk))
                ]
                continue
            self.messages_published += len(response.get("Successful", []))
            failures += [
                PublishFailure(int(failed["Id"]), failed.get("Code", "Unknown"), failed.get("Message", ""))
                for failed in response.get("Failed", [])
            ]
        return failures
