"""The purge job: a store's data deleted in bounded, resumable, idempotent steps, off the hot path.

An uninstall (the app's verified callback, or a ``store/app/uninstalled`` webhook that
BigCommerce confirmed) only *records* the purge and queues one message per scan segment
(``service/uninstall.py``).  Each message is one step of its segment: read the segment's
cursor from the store's row, delete the store's cart items page by page until the step's
budget (pages, or the invocation's remaining time) is spent, advance the cursor with a
write conditioned on the version it started from, and queue the next step.  A duplicate
message loses that condition and stops; a step that fails is retried by SQS from the
persisted cursor; deleting is idempotent.  The last segment to finish deletes the store's
secrets (again — the uninstall already did) and leaves the row as the store's tombstone.

Messages on the purge queue (JSON): ``{"kind": "check-uninstall", "store_hash"}`` from the
processor, and ``{"kind": "purge-step", "store_hash", "purge_id", "segment", "segments"}``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from cartwatch.adapters.cart_table.purge import CartPurge
from cartwatch.adapters.purge_queue import PurgeQueue
from cartwatch.adapters.purge_records import PurgeRecords
from cartwatch.adapters.store_registry import StoreWriter
from cartwatch.domain.store import is_store_hash

# Deliveries already queued for the store must find its tombstone: the intake queue keeps a
# message 4 days and its DLQ 14, so the finished row outlives both.
TOMBSTONE_SECONDS = 15 * 86400
CHECK_UNINSTALL = "check-uninstall"
PURGE_STEP = "purge-step"


class PoisonPurgeMessage(ValueError):
    """Not a purge-queue message; it belongs in the DLQ."""


@dataclass(frozen=True)
class CheckUninstall:
    """A ``store/app/uninstalled`` webhook arrived: ask BigCommerce whether it is true."""

    store_hash: str


@dataclass(frozen=True)
class PurgeStep:
    store_hash: str
    purge_id: str
    segment: int
    segments: int


PurgeMessage = CheckUninstall | PurgeStep


def encode(message: PurgeMessage) -> str:
    if isinstance(message, CheckUninstall):
        return json.dumps({"v": 1, "kind": CHECK_UNINSTALL, "store_hash": message.store_hash})
    return json.dumps(
        {
            "v": 1,
            "kind": PURGE_STEP,
            "store_hash": message.store_hash,
            "purge_id": message.purge_id,
            "segment": message.segment,
            "segments": message.segments,
        }
    )


def decode(body: str) -> PurgeMessage:
    try:
        raw = json.loads(body)
        kind, store_hash = raw["kind"], raw["store_hash"]
    except (ValueError, KeyError, TypeError):
        raise PoisonPurgeMessage("not a purge-queue message") from None
    if not isinstance(store_hash, str) or not is_store_hash(store_hash):
        raise PoisonPurgeMessage("purge-queue message without a valid store hash")
    if kind == CHECK_UNINSTALL:
        return CheckUninstall(store_hash)
    if kind == PURGE_STEP:
        purge_id, segment, segments = raw.get("purge_id"), raw.get("segment"), raw.get("segments")
        if (
            isinstance(purge_id, str)
            and isinstance(segment, int)
            and isinstance(segments, int)
            and 0 <= segment < segments <= 64
        ):
            return PurgeStep(store_hash, purge_id, segment, segments)
    raise PoisonPurgeMessage(f"malformed {kind!r} message")


def uninstall_checks(queue: PurgeQueue) -> Callable[[str], None]:
    """The processor's part: a ``store/app/uninstalled`` webhook becomes a check to make."""

    def request(store_hash: str) -> None:
        queue.send([encode(CheckUninstall(store_hash))])

    return request


class StepOutcome(StrEnum):
    CONTINUED = "continued"  # the next step is queued
    SEGMENT_DONE = "segment-done"  # this segment is finished, others are not
    PURGED = "purged"  # the last segment finished: the store is purged
    STALE = "stale"  # another delivery moved the segment first, or the purge is over


@dataclass(frozen=True)
class StepReport:
    outcome: StepOutcome
    deleted: int = 0
    total_deleted: int | None = None  # when PURGED: every item the purge deleted


class PurgeJob:
    # A step stops after this many pages (about 1,000 items evaluated each) …
    MAX_PAGES = 20
    # … or when the invocation has less than this left, whichever comes first.
    RESERVE_MS = 15_000

    def __init__(
        self,
        records: PurgeRecords,
        carts: CartPurge,
        writer: StoreWriter,
        queue: PurgeQueue,
        *,
        max_pages: int = MAX_PAGES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._records = records
        self._carts = carts
        self._writer = writer
        self._queue = queue
        self._max_pages = max_pages
        self._clock = clock

    def step(self, step: PurgeStep, remaining_ms: Callable[[], int] | None = None) -> StepReport:
        progress = self._records.progress(step.store_hash, step.purge_id)
        if progress is None:
            return StepReport(StepOutcome.STALE)
        cursor = progress.get(step.segment)
        if cursor is None:
            return StepReport(StepOutcome.STALE)
        if cursor.done:
            # Every segment done but the purge not recorded as finished: the step that should
            # have finished it failed after its advance.  Finishing is idempotent.
            if all(c.done for c in progress.values()):
                return self._finish(step, 0)
            return StepReport(StepOutcome.STALE)
        start, deleted, pages = cursor.start, 0, 0
        while True:
            count, start = self._carts.page(
                step.store_hash, segment=step.segment, segments=step.segments, start=start
            )
            deleted += count
            pages += 1
            if start is None or pages >= self._max_pages:
                break
            if remaining_ms is not None and remaining_ms() < self.RESERVE_MS:
                break
        all_done = self._records.advance(
            step.store_hash, step.purge_id, step.segment, version=cursor.version, start=start, deleted=deleted
        )
        if all_done is None:
            return StepReport(StepOutcome.STALE, deleted)
        if start is not None:
            self._queue.send([encode(step)])
            return StepReport(StepOutcome.CONTINUED, deleted)
        if all_done:
            return self._finish(step, deleted)
        return StepReport(StepOutcome.SEGMENT_DONE, deleted)

    def _finish(self, step: PurgeStep, deleted: int) -> StepReport:
        self._writer.delete_secrets(step.store_hash)
        now = int(self._clock())
        total = self._records.finish(
            step.store_hash, step.purge_id, now=now, expires_at=now + TOMBSTONE_SECONDS
        )
        if total is None:
            return StepReport(StepOutcome.STALE, deleted)
        return StepReport(StepOutcome.PURGED, deleted, total)
