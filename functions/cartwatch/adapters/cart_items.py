"""How a cart's state is laid out as a DynamoDB item (low-level attribute-value format).

    pk = CART#<store>#<cart>   sk = STATE           the cart's lifecycle state
    pk = CART#<store>#<cart>   sk = EVENT#<…>       outbox: events to publish (stream → publisher)

Only attributes that *change* are written on update (see ``changed_attributes``): the due
index projects a few slow-moving attributes, and a write that leaves them alone costs no
index write units.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from cartwatch.domain.lifecycle import CartState, CartStatus

STATE_SK = "STATE"
CART_KIND = "cart"
OUTBOX_KIND = "outbox"

Item = dict[str, Any]

_OPTIONAL_NUMBERS = ("abandoned_at", "abandoned_hint_at", "channel_id", "order_id", "closed_at")
_NUMBERS = ("version", "cart_created_at", "last_activity_at", "stage", "last_abandoned_stage")


def cart_pk(store_hash: str, cart_id: str) -> str:
    return f"CART#{store_hash}#{cart_id}"


def cart_key(store_hash: str, cart_id: str) -> Item:
    return {"pk": {"S": cart_pk(store_hash, cart_id)}, "sk": {"S": STATE_SK}}


def due_shard(cart_id: str, shards: int) -> str:
    """A cart's due-index shard: stable for the cart, spread evenly over ``shards``."""
    return f"DUE#{zlib.crc32(cart_id.encode()) % shards:02d}"


@dataclass(frozen=True)
class StoredCart:
    """A cart as stored: its lifecycle state plus what only storage knows."""

    state: CartState
    due_at: int | None
    due_shard: str | None
    snapshot: str | None  # JSON of the CartSnapshot captured at stage 1, while abandoned


def state_attributes(state: CartState) -> Item:
    attributes: Item = {
        "store_hash": {"S": state.store_hash},
        "cart_id": {"S": state.cart_id},
        "status": {"S": state.status.value},
        "abandoned_token": {"S": state.abandoned_token} if state.abandoned_token else None,
        # Stored only in the rare "no activity seen yet" case, to keep items small.
        "no_activity": {"BOOL": True} if not state.activity_seen else None,
    }
    for name in _NUMBERS:
        attributes[name] = {"N": str(getattr(state, name))}
    for name in _OPTIONAL_NUMBERS:
        value = getattr(state, name)
        attributes[name] = {"N": str(value)} if value is not None else None
    return attributes


def state_from_item(item: Item) -> CartState:
    def number(name: str) -> int | None:
        value = item.get(name)
        return int(value["N"]) if value else None

    token = item.get("abandoned_token")
    return CartState(
        store_hash=item["store_hash"]["S"],
        cart_id=item["cart_id"]["S"],
        status=CartStatus(item["status"]["S"]),
        cart_created_at=int(item["cart_created_at"]["N"]),
        last_activity_at=int(item["last_activity_at"]["N"]),
        stage=int(item["stage"]["N"]),
        last_abandoned_stage=int(item["last_abandoned_stage"]["N"]),
        abandoned_at=number("abandoned_at"),
        abandoned_token=token["S"] if token else None,
        abandoned_hint_at=number("abandoned_hint_at"),
        channel_id=number("channel_id"),
        order_id=number("order_id"),
        closed_at=number("closed_at"),
        activity_seen="no_activity" not in item,
        version=int(item["version"]["N"]),
    )


def stored_cart_from_item(item: Item) -> StoredCart:
    due_at = item.get("due_at")
    shard = item.get("due_shard")
    snapshot = item.get("snapshot")
    return StoredCart(
        state=state_from_item(item),
        due_at=int(due_at["N"]) if due_at else None,
        due_shard=shard["S"] if shard else None,
        snapshot=snapshot["S"] if snapshot else None,
    )


def changed_attributes(before: Item, after: Item) -> tuple[Item, list[str]]:
    """(attributes to SET, attribute names to REMOVE) turning ``before`` into ``after``.

    ``None`` in ``after`` means "absent".
    """
    to_set = {name: value for name, value in after.items() if value is not None and before.get(name) != value}
    to_remove = [name for name, value in after.items() if value is None and before.get(name) is not None]
    return to_set, to_remove


def update_expression(to_set: Item, to_remove: list[str]) -> tuple[str, dict[str, str], Item]:
    names: dict[str, str] = {}
    values: Item = {}
    set_parts: list[str] = []
    for index, (name, value) in enumerate(sorted(to_set.items())):
        names[f"#s{index}"] = name
        values[f":s{index}"] = value
        set_parts.append(f"#s{index} = :s{index}")
    remove_parts: list[str] = []
    for index, name in enumerate(sorted(to_remove)):
        names[f"#r{index}"] = name
        remove_parts.append(f"#r{index}")
    expression = ""
    if set_parts:
        expression += "SET " + ", ".join(set_parts)
    if remove_parts:
        expression += " REMOVE " + ", ".join(remove_parts)
    return expression.strip(), names, values
