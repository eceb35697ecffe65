"""The emulator's UpdateItem answers exactly as moto's own: the same item, or the same error.

The emulator memoizes moto's parse of an UpdateExpression and walks its tree with a handler
looked up once per (validator, node class) (``update_expression_patches``).  Every update
here — valid or not, on an item that has the attributes it names or lacks them — runs once
on moto as it ships and once with those patches, and must end the same way.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from moto.dynamodb.models import DynamoDBBackend

from cartwatch_tools.local.moto_app import update_expression_patches

PATCHES = update_expression_patches()
_ABSENT = object()

NAMES = {f"#{n}": n for n in ("pk", "a", "b", "c", "l", "m", "k", "cnt", "tags")}
VALUES = {
    ":s": {"S": "text"},
    ":n": {"N": "3"},
    ":empty": {"L": []},
    ":list": {"L": [{"S": "x"}, {"N": "1"}]},
    ":map": {"M": {"k": {"S": "inner"}}},
    ":tags": {"SS": ["red", "blue"]},
}
SETS = [
    "#a = :s",
    "#b = if_not_exists(#b, :n)",
    "#c = #c + :n",
    "#c = :n - :n",
    "#l = list_append(if_not_exists(#l, :empty), :list)",
    "#m = :map",
    "#m.#k = :s",
    "#pk = :s",  # a key attribute: refused
    "#a = :n",  # overlaps ``#a = :s`` when both are drawn
]
REMOVES = ["#a", "#m.#k", "#l[0]", "#b"]
ADDS = ["#cnt :n", "#tags :tags"]
DELETES = ["#tags :tags"]
STARTING = {
    "a": {"S": "old"},
    "b": {"N": "7"},
    "c": {"N": "10"},
    "l": {"L": [{"S": "first"}]},
    "m": {"M": {"k": {"S": "before"}, "z": {"N": "1"}}},
    "cnt": {"N": "1"},
    "tags": {"SS": ["red", "green"]},
}


@contextmanager
def patched() -> Iterator[None]:
    saved = [(owner, name, owner.__dict__.get(name, _ABSENT)) for owner, name, _ in PATCHES]
    for owner, name, value in PATCHES:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, name, value in saved:
            if value is _ABSENT:
                delattr(owner, name)
            else:
                setattr(owner, name, value)


def outcome(expression: str, starting: dict[str, Any] | None) -> tuple[Any, ...]:
    backend = DynamoDBBackend(region_name="us-east-1", account_id="123456789012")
    backend.create_table(
        "t",
        schema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        throughput=None,
        attr=[{"AttributeName": "pk", "AttributeType": "S"}],
        global_indexes=None,
        indexes=None,
        streams={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        billing_mode="PAY_PER_REQUEST",
        sse_specification=None,
        tags=[],
        deletion_protection_enabled=None,
        warm_throughput=None,
    )
    key = {"pk": {"S": "cart"}}
    if starting is not None:
        backend.put_item("t", copy.deepcopy({**key, **starting}))  # moto writes into what it is given
    try:
        item = backend.update_item(
            "t",
            key,
            update_expression=expression,
            expression_attribute_names={n: v for n, v in NAMES.items() if n in expression},
            expression_attribute_values={n: v for n, v in VALUES.items() if n in expression},
        )
    except Exception as error:  # noqa: BLE001 — the error itself is what is compared
        return ("refused", type(error).__name__, str(error))
    stored = backend.get_item("t", key)
    records = [r.to_json() for r in backend.get_table("t").stream_shard.items]  # type: ignore[union-attr]
    images = [
        (r["eventName"], *(r["dynamodb"].get(part) for part in ("Keys", "OldImage", "NewImage")))
        for r in records
    ]
    return ("updated", item.to_json(), stored.to_json() if stored else None, images)


@st.composite
def update_expressions(draw: Any) -> str:
    clauses = []
    if sets := draw(st.lists(st.sampled_from(SETS), unique=True, max_size=5)):
        clauses.append("SET " + ", ".join(sets))
    if removes := draw(st.lists(st.sampled_from(REMOVES), unique=True, max_size=2)):
        clauses.append("REMOVE " + ", ".join(removes))
    if adds := draw(st.lists(st.sampled_from(ADDS), unique=True, max_size=2)):
        clauses.append("ADD " + ", ".join(adds))
    if draw(st.booleans()):
        clauses.append("DELETE " + DELETES[0])
    if draw(st.integers(0, 9)) == 0 and clauses:
        clauses.append(clauses[0])  # the same clause twice: refused
    clauses = draw(st.permutations(clauses))
    return " ".join(clauses) or "SET #a = :s"


@settings(max_examples=200, deadline=None)
@given(
    expression=update_expressions(),
    present=st.one_of(st.none(), st.sets(st.sampled_from(sorted(STARTING)))),
)
def test_an_update_ends_as_it_does_on_moto_itself(expression: str, present: set[str] | None) -> None:
    starting = None if present is None else {name: STARTING[name] for name in present}
    expected = outcome(expression, starting)

    with patched():
        first, again = outcome(expression, starting), outcome(expression, starting)

    assert first == expected
    assert again == expected  # the second parse of the expression is the memoized one


def test_the_patches_leave_moto_as_it_was() -> None:
    with patched():
        pass

    for owner, name, value in PATCHES:
        assert owner.__dict__.get(name) is not value
