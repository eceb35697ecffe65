"""Sweep read amplification: items a sweep reads per due cart, as tracked carts grow.

The table is seeded with carts exactly as the processor stores them (same item layout,
same due-index fields); ``due`` of them fall due before the sweep, the rest later.

The lag of every shard (decision 54) is the head of the page the sweep reads from each
shard anyway, so it adds no query: ``queries`` counts the due-index queries, one per shard
while a shard's due entries fit a page.  Their cost at the schedule is priced at DynamoDB's
minimum per query (half a read unit, eventually consistent); it does not grow with stores.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import boto3

from bench.cost import PRICES
from bench.counting import CallCounter
from cartwatch.adapters.cart_table.items import record_item
from cartwatch.composition import AwsClients, Composition
from cartwatch.domain.cart_record import CartRecord, DueSlot, due_shard
from cartwatch.domain.lifecycle import CartState, CartStatus
from cartwatch.domain.stages import StageSchedule
from cartwatch.resources import DUE_INDEX
from cartwatch.settings import Settings
from cartwatch_tools.local.provision import provision

STAGES = StageSchedule.parse("1h,24h,48h")
SHARDS = 16
NOW = 1_800_000_000
SWEEPS_PER_MONTH = 30 * 24 * 60  # the default schedule: one sweep a minute
QUERY_MIN_READ_UNITS = 0.5  # an eventually consistent Query bills at least half a read unit


def _cart_item(store_hash: str, index: int, due: bool) -> dict[str, Any]:
    cart_id = str(uuid.UUID(int=index + 1))
    # Due carts went quiet 1h05m ago; the others are still being shopped.
    last = NOW - 3900 if due else NOW - 60 - (index % 1800)
    state = CartState(store_hash, cart_id, CartStatus.ACTIVE, last - 300, last, version=1)
    return record_item(CartRecord(state, due=DueSlot(due_shard(cart_id, SHARDS), last + STAGES.delay(1))))


def seed(client: Any, table: str, tracked: int, due: int) -> None:
    items = [_cart_item("benchstore", n, n < due) for n in range(tracked)]
    for start in range(0, len(items), 25):
        request: dict[str, Any] = {table: [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}


def read_amplification(endpoint: str, tracked: int, due: int) -> dict[str, float]:
    session = boto3.Session(region_name="us-east-1")
    resources = provision(session, endpoint, name=f"bench-sweep-{tracked}")
    dynamodb = session.client("dynamodb", endpoint_url=endpoint)
    seed(dynamodb, resources.table_name, tracked, due)
    counter = CallCounter()
    sweeper = Composition(
        "sweeper",
        Settings(table_name=resources.table_name, default_stages=STAGES, due_shards=SHARDS),
        AwsClients(endpoint_url=endpoint, event_handlers=counter.handlers),
    )
    started = time.perf_counter()
    report = sweeper.abandonment_sweep().run(NOW)
    elapsed = time.perf_counter() - started
    items_read = counter.items_read
    return {
        "due": report.due_seen,
        "abandoned": report.abandoned_total,
        "items_read": items_read,
        "amplification": items_read / max(report.due_seen, 1),
        "queries": counter.queries_by_index[DUE_INDEX.name],
        "queries_per_shard": counter.queries_by_index[DUE_INDEX.name] / SHARDS,
        # The per-shard queries alone, every minute for a month (the items they return are
        # the due carts', counted above).
        "shard_queries_usd_per_month": counter.queries_by_index[DUE_INDEX.name]
        * SWEEPS_PER_MONTH
        * QUERY_MIN_READ_UNITS
        * PRICES["ddb_read_request_unit"],
        "budget": 1.1 + SHARDS / due,
        "seconds": elapsed,
    }
