"""Cart records to and from DynamoDB items (low-level attribute-value format).

An item holds exactly what its record says — absent values are absent attributes, never
nulls — so two records that differ in one field render to items that differ in the
attributes of that field alone; ``rendering`` writes only those.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cartwatch.adapters.cart_table import attributes as attr
from cartwatch.domain.cart_record import (
    CartRecord,
    CartSummary,
    DueEntry,
    DueSlot,
    OutboxEvent,
    OutboxSlot,
    ShopperSlot,
    Tombstone,
)
from cartwatch.domain.history import Transition
from cartwatch.domain.lifecycle import CartState, CartStatus
from cartwatch.domain.listing import ListedCart

Item = dict[str, Any]

_OPTIONAL_NUMBERS = (
    attr.ABANDONED_AT,
    attr.ABANDONED_HINT_AT,
    attr.CHANNEL_ID,
    attr.ORDER_ID,
    attr.CLOSED_AT,
    attr.SUPPRESSED_AT,
    attr.SHOPPER_BOUGHT_AT,
)
_NUMBERS = (attr.VERSION, attr.CART_CREATED_AT, attr.LAST_ACTIVITY_AT, attr.STAGE, attr.LAST_ABANDONED_STAGE)


def _n(value: int | Decimal) -> dict[str, str]:
    return {"N": str(value)}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _number(item: Item, name: str) -> int | None:
    value = item.get(name)
    return int(value["N"]) if value else None


def _text(item: Item, name: str) -> str | None:
    value = item.get(name)
    return str(value["S"]) if value else None


# --- records -------------------------------------------------------------------------------------


def state_attributes(state: CartState) -> Item:
    item: Item = {
        attr.STORE_HASH: _s(state.store_hash),
        attr.CART_ID: _s(state.cart_id),
        attr.STATUS: _s(state.status.value),
    }
    if state.abandoned_token:
        item[attr.ABANDONED_TOKEN] = _s(state.abandoned_token)
    if not state.activity_seen:
        item[attr.NO_ACTIVITY] = {"BOOL": True}
    for name in _NUMBERS:
        item[name] = _n(getattr(state, name))
    for name in _OPTIONAL_NUMBERS:
        value = getattr(state, name)
        if value is not None:
            item[name] = _n(value)
    return item


def record_item(record: CartRecord) -> Item:
    """The whole item of a cart record, key included."""
    state = record.state
    item: Item = {
        **attr.cart_key(state.store_hash, state.cart_id),
        attr.KIND: _s(attr.CART_KIND),
        **state_attributes(state),
        **summary_attributes(record.summary),
    }
    if record.due is not None:
        item[attr.DUE_SHARD] = _s(record.due.shard)
        item[attr.DUE_AT] = _n(record.due.at)
    if record.history:
        item[attr.HISTORY] = history_value(record.history)
    if record.listed_at is not None:
        item[attr.LISTING_KEY] = _s(attr.listing_partition(state.store_hash, state.status.value))
        item[attr.MODIFIED_AT] = _n(record.listed_at)
        if record.listed_activity_at is not None:
            item[attr.LISTED_ACTIVITY_AT] = _n(record.listed_activity_at)
    for name, text in (
        (attr.SNAPSHOT, record.snapshot),
        (attr.ORDER, record.order),
        (attr.RECOVERY_OF, record.recovery_of),
    ):
        if text is not None:
            item[name] = _s(text)
    if record.shopper is not None:
        item.update(shopper_attributes(state.store_hash, record.shopper))
    if record.expires_at is not None:
        item[attr.EXPIRES_AT] = _n(record.expires_at)
    if record.outbox is not None:
        item[attr.PENDING_EVENT] = _s(record.outbox.to_json())
    if record.unpublished is not None:
        item.update(slot_attributes(record.unpublished))
    return item


def slot_attributes(slot: OutboxSlot) -> Item:
    item: Item = {attr.UNPUBLISHED: _s(slot.event.to_json()), attr.OUTBOX_DUE: _n(slot.due)}
    if slot.shard is not None:  # absent: the due-index entry holds the slot (no outbox entry)
        item[attr.OUTBOX_SHARD] = _s(slot.shard)
    if slot.parked is not None:
        item[attr.PARKED_REASON] = _s(slot.parked)
    return item


def shopper_attributes(store_hash: str, shopper: ShopperSlot) -> Item:
    return {
        attr.SHOPPER: _s(attr.shopper_partition(store_hash, shopper.key)),
        attr.SHOPPER_AT: _n(shopper.at),
    }


def shopper_from_item(item: Item) -> ShopperSlot | None:
    partition, at = _text(item, attr.SHOPPER), _number(item, attr.SHOPPER_AT)
    if partition is None or at is None:
        return None
    return ShopperSlot(attr.shopper_key_of(partition), at)


def summary_attributes(summary: CartSummary) -> Item:
    item: Item = {}
    if summary.customer_id is not None:
        item[attr.CUSTOMER_ID] = _n(summary.customer_id)
    if summary.customer_email:
        item[attr.CUSTOMER_EMAIL] = _s(summary.customer_email)
    if summary.total is not None:
        item[attr.CART_TOTAL] = _n(summary.total)
    if summary.currency:
        item[attr.CURRENCY] = _s(summary.currency)
    return item


def history_value(history: tuple[Transition, ...]) -> Item:
    return {"L": [_s(entry.encode()) for entry in history]}


def state_from_item(item: Item) -> CartState:
    return CartState(
        store_hash=item[attr.STORE_HASH]["S"],
        cart_id=item[attr.CART_ID]["S"],
        status=CartStatus(item[attr.STATUS]["S"]),
        cart_created_at=int(item[attr.CART_CREATED_AT]["N"]),
        last_activity_at=int(item[attr.LAST_ACTIVITY_AT]["N"]),
        stage=int(item[attr.STAGE]["N"]),
        last_abandoned_stage=int(item[attr.LAST_ABANDONED_STAGE]["N"]),
        abandoned_at=_number(item, attr.ABANDONED_AT),
        abandoned_token=_text(item, attr.ABANDONED_TOKEN),
        abandoned_hint_at=_number(item, attr.ABANDONED_HINT_AT),
        channel_id=_number(item, attr.CHANNEL_ID),
        order_id=_number(item, attr.ORDER_ID),
        closed_at=_number(item, attr.CLOSED_AT),
        suppressed_at=_number(item, attr.SUPPRESSED_AT),
        shopper_bought_at=_number(item, attr.SHOPPER_BOUGHT_AT),
        activity_seen=attr.NO_ACTIVITY not in item,
        version=int(item[attr.VERSION]["N"]),
    )


def record_from_item(item: Item) -> CartRecord:
    shard, due_at = _text(item, attr.DUE_SHARD), _number(item, attr.DUE_AT)
    outbox = _text(item, attr.PENDING_EVENT)
    return CartRecord(
        state=state_from_item(item),
        due=DueSlot(shard, due_at) if shard is not None and due_at is not None else None,
        history=tuple(Transition.decode(entry["S"]) for entry in item.get(attr.HISTORY, {}).get("L", [])),
        listed_at=_number(item, attr.MODIFIED_AT) if attr.LISTING_KEY in item else None,
        listed_activity_at=_number(item, attr.LISTED_ACTIVITY_AT) if attr.LISTING_KEY in item else None,
        snapshot=_text(item, attr.SNAPSHOT),
        order=_text(item, attr.ORDER),
        summary=summary_from_item(item),
        recovery_of=_text(item, attr.RECOVERY_OF),
        shopper=shopper_from_item(item),
        expires_at=_number(item, attr.EXPIRES_AT),
        outbox=OutboxEvent.from_json(outbox) if outbox else None,
        unpublished=slot_from_item(item),
    )


def slot_from_item(item: Item) -> OutboxSlot | None:
    event, shard, due = (
        _text(item, attr.UNPUBLISHED),
        _text(item, attr.OUTBOX_SHARD),
        _number(item, attr.OUTBOX_DUE),
    )
    if event is None or due is None:
        return None
    return OutboxSlot(OutboxEvent.from_json(event), shard, due, _text(item, attr.PARKED_REASON))


def summary_from_item(item: Item) -> CartSummary:
    total = item.get(attr.CART_TOTAL)
    return CartSummary(
        customer_id=_number(item, attr.CUSTOMER_ID),
        customer_email=_text(item, attr.CUSTOMER_EMAIL),
        total=Decimal(total["N"]) if total else None,
        currency=_text(item, attr.CURRENCY),
    )


# --- tombstones ----------------------------------------------------------------------------------


def is_tombstone(item: Item) -> bool:
    return _text(item, attr.KIND) == attr.TOMBSTONE_KIND


def tombstone_item(tombstone: Tombstone) -> Item:
    """An erased cart: no personal data, no index keys — only enough to refuse its webhooks."""
    return {
        **attr.cart_key(tombstone.store_hash, tombstone.cart_id),
        attr.KIND: _s(attr.TOMBSTONE_KIND),
        attr.STORE_HASH: _s(tombstone.store_hash),
        attr.CART_ID: _s(tombstone.cart_id),
        attr.ERASED_AT: _n(tombstone.erased_at),
        attr.EXPIRES_AT: _n(tombstone.expires_at),
    }


def stored_from_item(item: Item) -> CartRecord | Tombstone:
    if is_tombstone(item):
        return Tombstone(
            item[attr.STORE_HASH]["S"],
            item[attr.CART_ID]["S"],
            erased_at=_number(item, attr.ERASED_AT) or 0,
            expires_at=int(item[attr.EXPIRES_AT]["N"]),
        )
    return record_from_item(item)


# --- index items ---------------------------------------------------------------------------------


def due_entry_from_item(item: Item) -> DueEntry:
    """A due-index item (its projected attributes)."""
    return DueEntry(
        store_hash=item[attr.STORE_HASH]["S"],
        cart_id=item[attr.CART_ID]["S"],
        status=CartStatus(item[attr.STATUS]["S"]),
        stage=int(item[attr.STAGE]["N"]),
        due=DueSlot(item[attr.DUE_SHARD]["S"], int(item[attr.DUE_AT]["N"])),
        abandoned_at=_number(item, attr.ABANDONED_AT),
        channel_id=_number(item, attr.CHANNEL_ID),
    )


def listed_cart_from_item(item: Item) -> ListedCart:
    """A listing-index item (its projected attributes) as a ``ListedCart``."""
    summary = summary_from_item(item)
    return ListedCart(
        store_hash=item[attr.STORE_HASH]["S"],
        cart_id=item[attr.CART_ID]["S"],
        status=CartStatus(item[attr.STATUS]["S"]),
        stage=int(item[attr.STAGE]["N"]),
        stage_reached=_number(item, attr.LAST_ABANDONED_STAGE) or 0,
        created_at=int(item[attr.CART_CREATED_AT]["N"]),
        modified_at=int(item[attr.MODIFIED_AT]["N"]),
        abandoned_at=_number(item, attr.ABANDONED_AT),
        last_activity_at=_number(item, attr.LISTED_ACTIVITY_AT),
        closed_at=_number(item, attr.CLOSED_AT),
        order_id=_number(item, attr.ORDER_ID),
        channel_id=_number(item, attr.CHANNEL_ID),
        suppressed_at=_number(item, attr.SUPPRESSED_AT),
        customer_id=summary.customer_id,
        customer_email=summary.customer_email,
        total=summary.total,
        currency=summary.currency,
        snapshot_json=_text(item, attr.SNAPSHOT),
        order_json=_text(item, attr.ORDER),
    )
