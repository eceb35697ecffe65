"""DynamoDB capacity accounting from the items a call read or a write left behind.

moto does not meter capacity, so the benchmark applies DynamoDB's published rules to the
exact before/after items of every write:

* base table: one write unit per started KiB of the larger of the old and new item;
* each global secondary index: nothing when the write changed neither the index's key
  nor a projected attribute; one write when the item enters or leaves the index or a
  projected attribute changes; two (delete + put) when the index key changes;

and to every read (``read_units``): one unit per started 4 KiB of each item a GetItem or
BatchGetItem asked for — an item that is not there costs one too — and of all the items a
Query or Scan returned together; half as much for an eventually consistent read.
"""

from __future__ import annotations

import math
from typing import Any

from cartwatch.resources import TABLE, GlobalIndex

Item = dict[str, Any]


def item_size(item: Item | None) -> int:
    """Item size in bytes: attribute names plus values, per DynamoDB's sizing rules."""
    if not item:
        return 0
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(str(inner).encode())
    if kind == "N":
        digits = str(inner).lstrip("-").replace(".", "").lstrip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind in {"BOOL", "NULL"}:
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in inner)
    return len(str(inner).encode())


def _units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def read_units(operation: str, request: dict[str, Any], answer: dict[str, Any]) -> float:
    """Read units of one DynamoDB read, from its request and its answer."""

    def scale(consistent: bool | None) -> float:
        return 1.0 if consistent else 0.5

    if operation == "GetItem":
        return scale(request.get("ConsistentRead")) * _read_units(item_size(answer.get("Item")))
    if operation == "BatchGetItem":
        units = 0.0
        for table, asked in request.get("RequestItems", {}).items():
            found = answer.get("Responses", {}).get(table, [])
            unprocessed = answer.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
            missing = len(asked["Keys"]) - len(unprocessed) - len(found)
            sizes = sum(_read_units(item_size(item)) for item in found) + missing
            units += scale(asked.get("ConsistentRead")) * sizes
        return units
    # Query and Scan: the items together, rounded up once (items a filter dropped are not seen here).
    total = sum(item_size(item) for item in answer.get("Items", []))
    return scale(request.get("ConsistentRead")) * _read_units(total)


def _read_units(size: int) -> int:
    return max(1, math.ceil(size / 4096))


def _index_view(index: GlobalIndex, item: Item | None) -> tuple[tuple[Any, ...] | None, Item]:
    if not item or index.partition_key.name not in item or index.sort_key.name not in item:
        return None, {}
    key = (item[index.partition_key.name], item[index.sort_key.name])
    if index.projection == "ALL":
        projected = dict(item)
    elif index.projection == "INCLUDE":
        projected = {n: item[n] for n in index.non_key_attributes if n in item}
    else:
        projected = {}
    base_keys = {k: item[k] for k in (TABLE.partition_key.name, TABLE.sort_key.name)}
    return key, {**projected, **base_keys}


def write_units(before: Item | None, after: Item) -> tuple[int, int]:
    """(table write units, index write units) for one write from ``before`` to ``after``."""
    table = _units(max(item_size(before), item_size(after)))
    index_units = 0
    for index in TABLE.indexes:
        old_key, old_projection = _index_view(index, before)
        new_key, new_projection = _index_view(index, after)
        if old_key is None and new_key is None:
            continue
        if old_key is None or new_key is None:
            index_units += _units(item_size(new_projection or old_projection))
        elif old_key != new_key:
            index_units += _units(item_size(old_projection)) + _units(item_size(new_projection))
        elif old_projection != new_projection:
            index_units += _units(item_size(new_projection))
    return table, index_units
