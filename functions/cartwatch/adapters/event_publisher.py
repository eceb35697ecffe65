"""SNS publishing with per-entry results: only what failed is retried."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cartwatch.domain.cart_cloud_events import sns_message_bytes
from cartwatch.resources import SNS_BATCH_MAX_BYTES, SNS_BATCH_MAX_ENTRIES, SNS_MESSAGE_MAX_BYTES

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient


@dataclass(frozen=True)
class OutgoingMessage:
    body: str
    attributes: dict[str, Any]  # SNS MessageAttributes

    @property
    def size(self) -> int:
        return sns_message_bytes(self.body, self.attributes)


@dataclass(frozen=True)
class PublishFailure:
    index: int
    code: str
    message: str


def publish_batches(messages: Sequence[OutgoingMessage]) -> Iterator[list[int]]:
    """Positions of ``messages`` grouped into PublishBatch calls SNS accepts.

    In order, as many as fit: at most 10 entries and 256 KiB of bodies and attributes per
    call.  A message over SNS's per-message limit is in no batch (see ``SnsEventPublisher``).
    """
    batch: list[int] = []
    batch_bytes = 0
    for index, message in enumerate(messages):
        size = message.size
        if size > SNS_MESSAGE_MAX_BYTES:
            continue
        if batch and (len(batch) == SNS_BATCH_MAX_ENTRIES or batch_bytes + size > SNS_BATCH_MAX_BYTES):
            yield batch
            batch, batch_bytes = [], 0
        batch.append(index)
        batch_bytes += size
    if batch:
        yield batch


class SnsEventPublisher:
    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def publish(self, messages: Sequence[OutgoingMessage]) -> list[PublishFailure]:
        """Publish all messages; return the ones SNS did not accept (by position)."""
        # Events are built to fit (domain.cloud_events); one that does not would fail its whole
        # batch at SNS, so it fails alone, here.
        failures = [
            PublishFailure(
                index, "MessageTooLong", f"{message.size} bytes exceed SNS's {SNS_MESSAGE_MAX_BYTES}"
            )
            for index, message in enumerate(messages)
            if message.size > SNS_MESSAGE_MAX_BYTES
        ]
        for batch in publish_batches(messages):
            entries = [
                {
                    "Id": str(index),
                    "Message": messages[index].body,
                    "MessageAttributes": messages[index].attributes,
                }
                for index in batch
            ]
            try:
                response = self._client.publish_batch(
                    TopicArn=self._topic_arn,
                    PublishBatchRequestEntries=entries,  # type: ignore[arg-type]
                )
            except Exception as error:  # noqa: BLE001 — the whole call failed: every entry is retried
                code = type(error).__name__
                failures += [PublishFailure(index, code, "publish_batch call failed") for index in batch]
                continue
            failures += [
                PublishFailure(int(failed["Id"]), failed.get("Code", "Unknown"), failed.get("Message", ""))
                for failed in response.get("Failed", [])
            ]
        return failures
