"""The event archive on S3: whole CloudEvents, gzipped JSON lines, by store and hour.

Written by the archiver (an SQS queue subscribed to the topic feeds it batches); read by
``cartwatch events replay``.  Layout and key order: ``domain/event_archive.py``.  The bucket
encrypts at rest, refuses plain HTTP, and expires objects after the retention period.
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cartwatch.domain.event_archive import hour_prefix, key_span, object_key, store_prefix


@dataclass(frozen=True)
class ArchivedEvent:
    body: str  # the CloudEvent as published, byte for byte
    store_hash: str
    time: int  # epoch seconds of its ``time``
    type: str
    subject: str
    id: str


def archived(body: str) -> ArchivedEvent:
    """What the archive keys on, read from a published event's JSON (an error if it is not one)."""
    event = json.loads(body)
    data = event.get("data") if isinstance(event, dict) else None
    if not isinstance(data, dict):
        raise TypeError("not a CloudEvent with data")
    at = int(datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00")).timestamp())
    return ArchivedEvent(
        body, str(data["store_hash"]), at, str(event["type"]), str(event["subject"]), str(event["id"])
    )


class EventArchive:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket
        self.reads = 0  # LIST and GET requests, for the replay's budget

    # --- writing -----------------------------------------------------------------------------

    def group(self, events: Sequence[ArchivedEvent]) -> dict[str, list[ArchivedEvent]]:
        """The batch's events by the hour partition of their store (one object each)."""
        groups: dict[str, list[ArchivedEvent]] = defaultdict(list)
        for event in events:
            groups[hour_prefix(event.store_hash, event.time)].append(event)
        return groups

    def put(self, events: Sequence[ArchivedEvent]) -> str:
        """One object of one store's events of one hour; its key."""
        ordered = sorted(events, key=lambda e: (e.time, e.id))
        key = object_key(ordered[0].store_hash, ordered[0].time, ordered[-1].time, uuid.uuid4().hex[:12])
        body = gzip.compress("".join(e.body + "\n" for e in ordered).encode(), mtime=0)
        self._s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=body,
            ContentType="application/x-ndjson",
            ContentEncoding="gzip",
        )
        return key

    # --- reading -----------------------------------------------------------------------------

    def keys(self, store_hash: str, start: int, end: int) -> Iterator[str]:
        """The keys of the store's objects that may hold events from ``start`` to ``end``, in order."""
        prefix = store_prefix(store_hash)
        # Objects sort by their first event: an object of the hour before ``start`` cannot
        # reach into it (one object, one hour), so listing starts at the first hour's prefix.
        after = hour_prefix(store_hash, start)
        last_hour = hour_prefix(store_hash, end)
        token: str | None = None
        while True:
            request: dict[str, Any] = {"Bucket": self._bucket, "Prefix": prefix, "StartAfter": after}
            if token:
                request["ContinuationToken"] = token
            self.reads += 1
            response = self._s3.list_objects_v2(**request)
            for item in response.get("Contents", []):
                key = str(item["Key"])
                if key[: len(last_hour)] > last_hour:
                    return
                span = key_span(key)
                if span is not None and span[1] >= start and span[0] <= end:
                    yield key
            token = response.get("NextContinuationToken")
            if not response.get("IsTruncated") or not token:
                return

    def events(self, key: str) -> list[ArchivedEvent]:
        self.reads += 1
        body = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        return [archived(line) for line in gzip.decompress(body).decode().splitlines() if line]
