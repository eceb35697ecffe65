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


def a_table(sort_type: str, keys: list[tuple[str, int]]) -> Table:
    table = Table(
        "t",
        account_id="123456789012",
        region="us-east-1",
        schema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        attr=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": sort_type},
        ],
    )
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
