"""The event archive's cost per million events, and a replay's reads per event replayed.

Realistic events (stage-1 abandonments built from the BigCommerce fixture, ~3 KB of JSON)
from ``STORES`` stores are archived in full archiver batches (``ARCHIVE_BATCH_SIZE``, what
the queue's batching window gathers at a sustained rate) against moto's S3, by the real
``EventArchive``; its objects and bytes are counted.  Then every store's whole range is
replayed (a dry run: reading is what is measured) and LIST + GET requests are counted per
event replayed.

Prices: AWS us-east-1 list prices (2025).  SNS → SQS deliveries are free; the mapping's
receive and delete are a request per 10 messages each; one archiver invocation per batch.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import boto3

from cartwatch.adapters.event_archive import EventArchive, archived
from cartwatch.domain.bigcommerce_cart import snapshot_from_bigcommerce
from cartwatch.domain.cart import RecoveryLink
from cartwatch.domain.cart_cloud_events import abandoned_event
from cartwatch.domain.lifecycle import CartState, CartStatus
from cartwatch.resources import ARCHIVE_BATCH_SIZE, ARCHIVE_RETENTION_DAYS
from cartwatch.service.replay import ReplayRange, replay

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "bigcommerce" / "checkout_guest.json"
PRICES = {
    "sqs_request": 0.40 / 1e6,
    "lambda_request": 0.20 / 1e6,
    "lambda_arm_gb_second": 0.0000133334,
    "s3_put": 0.005 / 1000,
    "s3_gb_month": 0.023,
}
ARCHIVER = (0.256, 0.300)  # GB, seconds billed per batch of ARCHIVE_BATCH_SIZE (assumed)
STORES = 50
T0 = 1_800_000_000


def _events(count: int, rng: random.Random) -> list[str]:
    checkout = json.loads(FIXTURE.read_text(encoding="utf-8"))["data"]
    bodies = []
    for n in range(count):
        store = f"store{rng.randrange(STORES):03d}"
        at = T0 + n * 2  # a sustained rate: one event every 2 s across the stores
        state = CartState(
            store, f"cart-{n}", CartStatus.ABANDONED, at - 7200, at - 3600, stage=1, abandoned_at=at
        )
        snapshot = snapshot_from_bigcommerce(
            checkout, None, [], at, RecoveryLink(url=None, reason="not_enabled")
        )
        bodies.append(abandoned_event(state, snapshot, stage=1, stage_count=3).to_json())
    return bodies


def run_archive(endpoint: str, events: int = 20_000) -> dict[str, Any]:
    session = boto3.Session(region_name="us-east-1")
    s3 = session.client("s3", endpoint_url=endpoint)
    bucket = "bench-archive"
    s3.create_bucket(Bucket=bucket)
    archive = EventArchive(s3, bucket)
    bodies = _events(events, random.Random(7))
    objects = 0
    for start in range(0, len(bodies), ARCHIVE_BATCH_SIZE):
        batch = [archived(body) for body in bodies[start : start + ARCHIVE_BATCH_SIZE]]
        for group in archive.group(batch).values():
            archive.put(group)
            objects += 1
    stored_bytes = sum(
        item["Size"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for item in page.get("Contents", [])
    )
    replayed = reads = 0
    for n in range(STORES):
        summary = replay(archive, ReplayRange(f"store{n:03d}", 0, T0 + 10 * events), None)
        replayed += summary.events
        reads += summary.reads
    scale = 1e6 / events
    batches = events / ARCHIVE_BATCH_SIZE
    parts = {
        "sqs": 2 * (1e6 / 10) * PRICES["sqs_request"],
        "archiver_lambda": batches
        * scale
        * (PRICES["lambda_request"] + ARCHIVER[0] * ARCHIVER[1] * PRICES["lambda_arm_gb_second"]),
        "s3_puts": objects * scale * PRICES["s3_put"],
        # Kept for the retention period, in GB-months.
        "s3_storage": stored_bytes * scale / 1e9 * (ARCHIVE_RETENTION_DAYS / 30) * PRICES["s3_gb_month"],
    }
    return {
        "cost_per_million": sum(parts.values()),
        "parts": parts,
        "objects_per_event": objects / events,
        "bytes_per_event": stored_bytes / events,
        "replay_reads_per_event": reads / max(replayed, 1),
        "replayed": replayed,
    }
