"""Where an archived event lives: the archive's object layout, by store and hour.

Every published CloudEvent is kept whole in S3 (``adapters/event_archive.py``), as gzipped
JSON lines, one object per archiver batch, store and hour of the events' ``time``::

    events/<store_hash>/<YYYY-MM-DDTHH>/<first epoch>-<last epoch>-<batch id>.jsonl.gz

Keys sort by store, then time, so a store's time range is one contiguous key range: a
replay lists it from the first hour's prefix and stops after the last — it reads the
objects of the range and nothing else.

Pure: no I/O.
"""

from __future__ import annotations

from datetime import UTC, datetime

ARCHIVE_PREFIX = "events/"


def store_prefix(store_hash: str) -> str:
    return f"{ARCHIVE_PREFIX}{store_hash}/"


def hour_prefix(store_hash: str, epoch_seconds: int) -> str:
    hour = datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H")
    return f"{store_prefix(store_hash)}{hour}/"


def object_key(store_hash: str, first: int, last: int, batch_id: str) -> str:
    """The key of one object holding a store's events from ``first`` to ``last`` (one hour)."""
    return f"{hour_prefix(store_hash, first)}{first:010d}-{last:010d}-{batch_id}.jsonl.gz"


def key_span(key: str) -> tuple[int, int] | None:
    """The (first, last) event times an object's key names; None for a key of another shape."""
    name = key.rsplit("/", 1)[-1]
    parts = name.split("-", 2)
    if len(parts) != 3 or not (parts[0].isdigit() and parts[1].isdigit()):
        return None
    return int(parts[0]), int(parts[1])
