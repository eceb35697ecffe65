"""The emulator's partition query answers exactly as moto's own ``Table.query`` does."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

from cartwatch_tools.local.moto_app import partition_query

MOTO_QUERY = Table.query
FAST_QUERY = partition_query(MOTO_QUERY)
PARTITIONS = ("STORE", "CART#a", "CART#b")


def an_empty_table(attributes: dict[str, str], **options: Any) -> Table:
    """A moto table keyed ``pk`` / ``sk``, with these attribute types and options (indexes)."""
    return Table(
        "t",
        account_id="123456789012",
        region="us-east-1",
        schema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        attr=[{"AttributeName": name, "AttributeType": kind} for name, kind in attributes.items()],
        **options,
    )


def a_table(sort_type: str, keys: list[tuple[str, int]]) -> Table:
    table = an_empty_table({"pk": "S", "sk": sort_type})
    for partition, number in keys:
        sort_value = {"S": f"k{number:03d}"} if sort_type == "S" else {"N": str(number - 50)}
        table.put_item({"pk": {"S": partition}, "sk": sort_value, "n": {"N": str(number)}})
    return table


def answer(query: Any, table: Table, request: dict[str, Any]) -> tuple[Any, ...]:
    items, scanned, last = query(table, **request)
    last_key = {name: value.to_json() for name, value in (last or {}).items()}
    return [item.to_json() for item in items], scanned, last_key


@settings(max_examples=150, deadline=None)
@given(
    sort_type=st.sampled_from(["S", "N"]),
    keys=st.lists(st.tuples(st.sampled_from(PARTITIONS), st.integers(0, 99)), max_size=60),
    partition=st.sampled_from(PARTITIONS),
    limit=st.one_of(st.none(), st.integers(1, 8)),
    start=st.one_of(st.none(), st.integers(0, 99)),
    forward=st.booleans(),
    condition=st.sampled_from([None, "GT", "BETWEEN"]),
)
def test_a_partition_query_is_answered_as_moto_answers_it(
    sort_type: str,
    keys: list[tuple[str, int]],
    partition: str,
    limit: int | None,
    start: int | None,
    forward: bool,
    condition: str | None,
) -> None:
    table = a_table(sort_type, keys)

    def sort_value(number: int) -> dict[str, str]:
        return {"S": f"k{number:03d}"} if sort_type == "S" else {"N": str(number - 50)}

    request: dict[str, Any] = {
        "hash_key": DynamoType({"S": partition}),
        "range_comparison": condition,
        "range_objs": {
            None: [],
            "GT": [DynamoType(sort_value(20))],
            "BETWEEN": [DynamoType(sort_value(10)), DynamoType(sort_value(70))],
        }[condition],
        "limit": limit,
        "exclusive_start_key": None if start is None else {"pk": {"S": partition}, "sk": sort_value(start)},
        "scan_index_forward": forward,
        "projection_expressions": None,
    }
    assert answer(FAST_QUERY, table, request) == answer(MOTO_QUERY, table, request)
    assert "all_items" not in vars(table)  # moto's own method again once the query is answered


def test_paging_through_a_partition_reaches_each_item_once_in_order() -> None:
    table = a_table("S", [("STORE", n) for n in range(100)] + [("CART#a", n) for n in range(100)])
    seen: list[str] = []
    start = None
    while True:
        items, _, start = FAST_QUERY(table, DynamoType({"S": "STORE"}), None, [], 7, start, True, None)
        seen += [item.to_json()["Attributes"]["sk"]["S"] for item in items]
        if not start:
            break
        start = {name: value.to_json() for name, value in start.items()}
    assert seen == [f"k{n:03d}" for n in range(100)]


# --- index queries ----------------------------------------------------------------------------

INDEX_PARTITIONS = ("DUE#00", "DUE#01")
PROJECTIONS = (
    {"ProjectionType": "KEYS_ONLY"},
    {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["n"]},
    {"ProjectionType": "ALL"},
)


def an_indexed_table(projection: dict[str, Any], rows: list[tuple[int, str | None, int | None]]) -> Table:
    """A table with a sparse index (``g`` / ``r``): a row without ``g`` or ``r`` is not in it."""
    table = an_empty_table(
        {"pk": "S", "sk": "S", "g": "S", "r": "N"},
        global_indexes=[
            {
                "IndexName": "due",
                "KeySchema": [
                    {"AttributeName": "g", "KeyType": "HASH"},
                    {"AttributeName": "r", "KeyType": "RANGE"},
                ],
                "Projection": projection,
            }
        ],
    )
    for number, partition, due in rows:
        item: dict[str, Any] = {
            "pk": {"S": f"CART#{number:03d}"},
            "sk": {"S": "STATE"},
            "n": {"N": str(number)},
            "snapshot": {"M": {"items": {"L": [{"S": "a line"}] * (number % 4)}}},
        }
        if partition is not None:
            item["g"] = {"S": partition}
        if due is not None:
            item["r"] = {"N": str(due)}
        table.put_item(item)
    return table


@settings(max_examples=150, deadline=None)
@given(
    projection=st.sampled_from(PROJECTIONS),
    rows=st.lists(
        st.tuples(
            st.integers(0, 99),
            st.one_of(st.none(), st.sampled_from(INDEX_PARTITIONS)),
            st.one_of(st.none(), st.integers(0, 50)),
        ),
        max_size=60,
    ),
    partition=st.sampled_from(INDEX_PARTITIONS),
    limit=st.one_of(st.none(), st.integers(1, 8)),
    forward=st.booleans(),
    condition=st.sampled_from([None, "LE", "BETWEEN"]),
    projected=st.booleans(),
)
def test_an_index_query_is_answered_as_moto_answers_it(
    projection: dict[str, Any],
    rows: list[tuple[int, str | None, int | None]],
    partition: str,
    limit: int | None,
    forward: bool,
    condition: str | None,
    projected: bool,
) -> None:
    table = an_indexed_table(projection, rows)
    range_objs = {
        None: [],
        "LE": [DynamoType({"N": "30"})],
        "BETWEEN": [DynamoType({"N": "10"}), DynamoType({"N": "40"})],
    }[condition]
    request: dict[str, Any] = {
        "hash_key": DynamoType({"S": partition}),
        "range_comparison": condition,
        "range_objs": range_objs,
        "limit": limit,
        "exclusive_start_key": None,
        "scan_index_forward": forward,
        "projection_expressions": [["pk"], ["n"]] if projected else None,
        "index_name": "due",
        "hash_key_conditions": [("g", DynamoType({"S": partition}))],
        "range_key_conditions": [("r", condition, range_objs)] if condition else [],
    }
    # Page to the end both ways: every page and every LastEvaluatedKey must be moto's.
    while True:
        fast, moto = answer(FAST_QUERY, table, request), answer(MOTO_QUERY, table, request)
        assert fast == moto
        assert "all_items" not in vars(table)
        if not moto[2]:
            break
        request["exclusive_start_key"] = moto[2]
