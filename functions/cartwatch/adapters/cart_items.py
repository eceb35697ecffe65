"""How a cart's state is laid out as a DynamoDB item (low-level attribute-value format).

    pk = CART#<store>#<cart>   sk = STATE           the cart's lifecycle state (kind "cart"),
                                                    or its tombstone once erased (kind "erased")
    pk = CART#<store>#<cart>   sk = EVENT#<…>       outbox: events to publish (stream → publisher)

Only attributes that *change* are written on update (see ``changed_attributes``): the due
and listing indexes project a few slow-moving attributes, and a write that leaves them
alone costs no index write units.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cartwatch.domain.history import Transition
from cartwatch.domain.lifecycle import CartState, CartStatus
from cartwatch.domain.listing import ListedCart, is_listed

STATE_SK = "STATE"
CART_KIND = "cart"
OUTBOX_KIND = "outbox"
# What is left of an erased cart: its key, for the processor to recognize, and a TTL.
TOMBSTONE_KIND = "erased"
HISTORY = "history"
ORDER = "order"
LISTING_KEY = "listing_key"
MODIFIED_AT = "modified_at"

Item = dict[str, Any]

_OPTIONAL_NUMBERS = (
    "abandoned_at",
    "abandoned_hint_at",
    "channel_id",
    "order_id",
    "closed_at",
    "suppressed_at",
)
_NUMBERS = ("version", "cart_created_at", "last_activity_at", "stage", "last_abandoned_stage")


RECOVERY_OF = "recovery_of"


def cart_pk(store_hash: str, cart_id: str) -> str:
    return f"CART#{store_hash}#{cart_id}"


def cart_key(store_hash: str, cart_id: str) -> Item:
    return {"pk": {"S": cart_pk(store_hash, cart_id)}, "sk": {"S": STATE_SK}}


def listing_key(store_hash: str, status: CartStatus) -> str:
    """A cart's partition in the listing index: one per store and status."""
    return f"CARTS#{store_hash}#{status.value}"


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
    history: tuple[Transition, ...] = ()
    modified_at: int | None = None  # listed carts only: the listing index's sort key
    order: str | None = None  # JSON of the OrderSummary the publisher recorded
    # Set on the copy BigCommerce made of an abandoned cart for its recovery link: the
    # original cart's id.  A copy is never scheduled; buying it recovers the original.
    recovery_of: str | None = None

    @property
    def order_recorded(self) -> bool:
        return self.order is not None


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
        suppressed_at=number("suppressed_at"),
        activity_seen="no_activity" not in item,
        version=int(item["version"]["N"]),
    )


def stored_cart_from_item(item: Item) -> StoredCart:
    due_at = item.get("due_at")
    shard = item.get("due_shard")
    snapshot = item.get("snapshot")
    modified = item.get(MODIFIED_AT)
    order = item.get(ORDER)
    return StoredCart(
        state=state_from_item(item),
        due_at=int(due_at["N"]) if due_at else None,
        due_shard=shard["S"] if shard else None,
        snapshot=snapshot["S"] if snapshot else None,
        history=history_from_item(item),
        modified_at=int(modified["N"]) if modified else None,
        order=order["S"] if order else None,
        recovery_of=item[RECOVERY_OF]["S"] if RECOVERY_OF in item else None,
    )


def is_tombstone(item: Item) -> bool:
    kind: str | None = item.get("kind", {}).get("S")
    return kind == TOMBSTONE_KIND


def tombstone_item(store_hash: str, cart_id: str, *, erased_at: int, expires_at: int) -> Item:
    """An erased cart: no personal data, no index keys — only enough to refuse its webhooks."""
    return {
        **cart_key(store_hash, cart_id),
        "kind": {"S": TOMBSTONE_KIND},
        "store_hash": {"S": store_hash},
        "cart_id": {"S": cart_id},
        "erased_at": {"N": str(erased_at)},
        "expires_at": {"N": str(expires_at)},
    }


# --- history and listing ---------------------------------------------------------------------


def history_from_item(item: Item) -> tuple[Transition, ...]:
    entries = item.get(HISTORY, {}).get("L", [])
    return tuple(Transition.decode(entry["S"]) for entry in entries)


def history_value(history: tuple[Transition, ...]) -> Item:
    return {"L": [{"S": entry.encode()} for entry in history]}


def listing_attributes(state: CartState, modified_at: int, *, order_recorded: bool) -> Item:
    """The listing index's keys for a cart after a transition (None: not listed)."""
    if not is_listed(state, order_recorded=order_recorded):
        return {LISTING_KEY: None, MODIFIED_AT: None}
    return {
        LISTING_KEY: {"S": listing_key(state.store_hash, state.status)},
        MODIFIED_AT: {"N": str(modified_at)},
    }


def summary_attributes(
    customer_id: int | None, customer_email: str | None, total: Decimal | None, currency: str | None
) -> Item:
    """The filterable figures of a cart, flattened for the listing index's filters."""
    return {
        "customer_id": {"N": str(customer_id)} if customer_id is not None else None,
        "customer_email": {"S": customer_email} if customer_email else None,
        "cart_total": {"N": str(total)} if total is not None else None,
        "currency": {"S": currency} if currency else None,
    }


def listed_cart_from_item(item: Item) -> ListedCart:
    """A listing-index item (its projected attributes), or a whole cart item, as a ``ListedCart``.

    A cart that is not listed has no ``modified_at``: its latest transition is then the
    last one in its history, or its creation.
    """

    def number(name: str) -> int | None:
        value = item.get(name)
        return int(value["N"]) if value else None

    def text(name: str) -> str | None:
        value = item.get(name)
        return str(value["S"]) if value else None

    total = item.get("cart_total")
    modified = number(MODIFIED_AT)
    if modified is None:
        history = history_from_item(item)
        modified = history[-1].at if history else int(item["cart_created_at"]["N"])
    return ListedCart(
        store_hash=item["store_hash"]["S"],
        cart_id=item["cart_id"]["S"],
        status=CartStatus(item["status"]["S"]),
        stage=int(item["stage"]["N"]),
        stage_reached=number("last_abandoned_stage") or 0,
        created_at=int(item["cart_created_at"]["N"]),
        modified_at=modified,
        abandoned_at=number("abandoned_at"),
        closed_at=number("closed_at"),
        order_id=number("order_id"),
        channel_id=number("channel_id"),
        suppressed_at=number("suppressed_at"),
        customer_id=number("customer_id"),
        customer_email=text("customer_email"),
        total=Decimal(total["N"]) if total else None,
        currency=text("currency"),
        snapshot_json=text("snapshot"),
        order_json=text(ORDER),
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
