"""Sweep read amplification: items a sweep reads per due cart, as tracked carts grow.

The table is seeded with carts exactly as the processor stores them (same item layout,
same due-index fields); ``due`` of them fall due before the sweep, the rest later.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import boto3

from bench.counting import CallCounter
from cartwatch.adapters.cart_items import cart_key, due_shard, state_attributes
from cartwatch.adapters.cart_repository import CartRepository
from cartwatch.adapters.store_registry import StoreDirectory
from cartwatch.domain.lifecycle import CartState, CartStatus
from cartwatch.domain.stages import StageSchedule
from cartwatch.service.sweeping import AbandonmentSweep
from cartwatch_tools.local.provision import provision

STAGES = StageSchedule.parse("1h,24h,48h")
SHARDS = 16
NOW = 1_800_000_000


def _cart_item(store_hash: str, index: int, due: bool) -> dict[str, Any]:
    cart_id = str(uuid.UUID(int=index + 1))
    # Due carts went quiet 1h05m ago; the others are still being shopped.
    last = NOW - 3900 if due else NOW - 60 - (index % 1800)
    state = CartState(store_hash, cart_id, CartStatus.ACTIVE, last - 300, last, version=1)
    item = {name: value for name, value in state_attributes(state).items() if value is not None}
    item.update(cart_key(store_hash, cart_id))
    item["kind"] = {"S": "cart"}
    item["due_shard"] = {"S": due_shard(cart_id, SHARDS)}
    item["due_at"] = {"N": str(last + STAGES.delay(1))}
    return item


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
    sweep_client = counter.attach(session.client("dynamodb", endpoint_url=endpoint))
    repository = CartRepository(
        sweep_client, resources.table_name, due_shards=SHARDS, closed_retention_days=30
    )
    directory = StoreDirectory(sweep_client, resources.table_name, STAGES)
    started = time.perf_counter()
    report = AbandonmentSweep(repository, directory).run(NOW)
    elapsed = time.perf_counter() - started
    items_read = repository.usage.items_read + directory.items_read
    return {
        "due": report.due_seen,
        "abandoned": report.abandoned_total,
        "items_read": items_read,
        "amplification": items_read / max(report.due_seen, 1),
        "queries": counter.calls["dynamodb.Query"],
        "budget": 1.1 + SHARDS / due,
        "seconds": elapsed,
    }
