"""What a function's AWS calls cost, counted by botocore event handlers.

Benchmarks and tests install these on the clients the composition root builds
(``AwsClients(event_handlers=...)``); the production objects keep no accounts of their own,
so a warm container holds nothing per request.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.capacity import read_units, write_units
from cartwatch.adapters.cart_table import attributes as attr
from cartwatch.composition import EventHandler

_READS = ("GetItem", "BatchGetItem", "Query", "Scan")
_WRITES = ("PutItem", "UpdateItem")


class CallCounter:
    """Calls per ``service.Operation``; the items DynamoDB reads returned, the items its queries
    evaluated (``ScannedCount``), the read units they cost (``bench/capacity.read_units``:
    absent items and item sizes counted, as DynamoDB bills), and the DynamoDB writes that
    succeeded (a write whose condition failed changed nothing)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.items_read = 0
        self.items_scanned = 0
        self.read_units = 0.0
        self.writes = 0
        # Queries per index ("" for the table itself): the sweep's due-index queries apart from
        # the STORE partition its store directory reads.
        self.queries_by_index: Counter[str] = Counter()

    @property
    def handlers(self) -> list[EventHandler]:
        asked = [(f"before-parameter-build.dynamodb.{op}", self._remember_request) for op in _READS]
        reads = [(f"after-call.dynamodb.{op}", self._count_items) for op in _READS]
        writes = [(f"after-call.dynamodb.{op}", self._count_write) for op in _WRITES]
        return [("before-call", self._count_call), *asked, *reads, *writes]

    def attach(self, client: Any) -> Any:
        for event, handler in self.handlers:
            client.meta.events.register(event, handler)
        return client

    def _count_call(self, model: Any, **_: Any) -> None:
        self.calls[f"{model.service_model.service_name}.{model.name}"] += 1

    def _remember_request(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["cartwatch_read"] = params
        if "KeyConditionExpression" in params:
            self.queries_by_index[str(params.get("IndexName", ""))] += 1

    def _count_items(self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if "Error" not in parsed:
            self.read_units += read_units(model.name, context.pop("cartwatch_read", {}), parsed)
        if "Item" in parsed:
            self.items_read += 1
        self.items_read += len(parsed.get("Items", []))
        self.items_read += sum(len(items) for items in parsed.get("Responses", {}).values())
        self.items_scanned += int(parsed.get("ScannedCount", 0))

    def _count_write(self, http_response: Any, **_: Any) -> None:
        if http_response.status_code < 300:
            self.writes += 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())


@dataclass
class WriteUnits:
    """Table and index write units of each successful ``PutItem``/``UpdateItem``.

    DynamoDB's sizing rules (``bench/capacity.py``) applied to the item before and after each
    write: the item before is read just before the call, with ``reader`` — a client that
    carries no handlers, so the read is counted nowhere — and the item after is the write's
    ``ALL_NEW`` answer, or read just after it when the write asked for none (the figure
    tally's counters).
    """

    reader: Any
    writes: list[tuple[int, int]] = field(default_factory=list)  # (table, index) units per write

    @property
    def handlers(self) -> list[EventHandler]:
        return [
            *((f"before-parameter-build.dynamodb.{op}", self._read_before) for op in _WRITES),
            *((f"after-call.dynamodb.{op}", self._account) for op in _WRITES),
        ]

    @property
    def table_units(self) -> int:
        return sum(table for table, _ in self.writes)

    @property
    def index_units(self) -> int:
        return sum(index for _, index in self.writes)

    def _read_before(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        item = params.get("Item")
        key = {name: item[name] for name in (attr.PK, attr.SK)} if item is not None else params["Key"]
        before = self.reader.get_item(TableName=params["TableName"], Key=key, ConsistentRead=True).get("Item")
        context["cartwatch_write"] = (before, item, params["TableName"], key)

    def _account(self, http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        before, put_item, table, key = context.pop("cartwatch_write", (None, None, None, None))
        if http_response.status_code >= 300 or "Error" in parsed:
            return
        after = put_item if put_item is not None else parsed.get("Attributes")
        if after is None and table is not None:
            after = self.reader.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        if after is not None:
            self.writes.append(write_units(before, after))
