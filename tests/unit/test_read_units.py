"""The benchmark counts DynamoDB read units as DynamoDB bills them (bench/capacity.read_units)."""

from __future__ import annotations

from bench.capacity import read_units


def cart(pad: int = 0) -> dict[str, dict[str, str]]:
    return {"pk": {"S": "CART#s#c"}, "sk": {"S": "STATE"}, "pad": {"S": "x" * pad}}


def test_a_key_not_there_costs_as_much_as_a_small_item() -> None:
    assert read_units("GetItem", {"ConsistentRead": True}, {}) == 1.0
    assert read_units("GetItem", {}, {"Item": cart()}) == 0.5  # eventually consistent by default


def test_a_batch_read_bills_every_key_asked_for_by_its_item_size() -> None:
    keys = [{"pk": {"S": f"CART#s#{n}"}, "sk": {"S": "STATE"}} for n in range(4)]
    request = {"RequestItems": {"t": {"Keys": keys, "ConsistentRead": False}}}
    answer = {
        # Two found (one of 5 KiB: two units), one not there, one left for a retry.
        "Responses": {"t": [cart(), cart(5000)]},
        "UnprocessedKeys": {"t": {"Keys": keys[3:]}},
    }
    assert read_units("BatchGetItem", request, answer) == 0.5 * (1 + 2 + 1)


def test_a_query_rounds_its_items_up_together() -> None:
    answer = {"Items": [cart(1000) for _ in range(5)]}  # ~5.2 KB in all: two units, not five
    assert read_units("Query", {"ConsistentRead": True}, answer) == 2.0
    assert read_units("Query", {}, {"Items": []}) == 0.5
