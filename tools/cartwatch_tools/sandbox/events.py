"""Webhook events and the JSON envelope BigCommerce wraps them in.

Each cart or order change is one ``Event`` for the store-wide scope (``store/cart/created``,
``data`` = ``{type, id, ...}``) plus its channel-scoped twin (``store/channel/{id}/cart/created``,
``data`` = snake_case ids without ``type``, docs/integrations/webhooks/events/channels.mdx).
Only hooks registered on a matching scope receive either.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Event:
    scope: str
    data: dict[str, Any]


def cart_events(kind: str, cart_id: str, channel_id: int, **extra: Any) -> list[Event]:
    """``kind``: created, updated, deleted, couponApplied, abandoned, converted."""
    return [
        Event(f"store/cart/{kind}", {"type": "cart", "id": cart_id, **extra}),
        Event(f"store/channel/{channel_id}/cart/{kind}", {"cart_id": cart_id}),
    ]


def line_item_events(kind: str, cart_id: str, item_id: str, channel_id: int) -> list[Event]:
    """``kind``: created, updated, deleted."""
    return [
        Event(f"store/cart/lineItem/{kind}", {"type": "cart_line_item", "id": item_id, "cartId": cart_id}),
        Event(
            f"store/channel/{channel_id}/cart/lineItem/{kind}", {"cart_id": cart_id, "cart_item_id": item_id}
        ),
    ]


def order_events(kind: str, order_id: int, channel_id: int, **extra: Any) -> list[Event]:
    """``kind``: created, updated, statusUpdated, ..."""
    return [
        Event(f"store/order/{kind}", {"type": "order", "id": order_id, **extra}),
        Event(f"store/channel/{channel_id}/order/{kind}", {"order_id": order_id}),
    ]


def envelope(
    event: Event, *, store_id: str, store_hash: str, created_at: int, event_id: str
) -> dict[str, Any]:
    """The callback body, keys in the order of BigCommerce's examples.

    ``hash`` identifies the event: BigCommerce describes it as a SHA-1 that is the same when one
    event is delivered twice, so it covers a per-event id and not only ``data`` (two real
    ``store/cart/updated`` events of one cart must not collide).
    """
    digest = hashlib.sha1(  # noqa: S324 - an identifier, as BigCommerce's is, not a signature
        json.dumps(
            {"event": event_id, "scope": event.scope, "data": event.data, "created_at": created_at},
            sort_keys=True,
        ).encode()
    ).hexdigest()
    return {
        "scope": event.scope,
        "store_id": store_id,
        "data": event.data,
        "hash": digest,
        "created_at": created_at,
        "producer": f"stores/{store_hash}",
    }
