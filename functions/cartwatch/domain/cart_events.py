"""Cart events as the lifecycle sees them: what happened to which cart, and when.

Plain dataclasses, no validation library: the sweeper and the lifecycle need these
types but never parse a webhook, so their cold start should not pay for pydantic.
Parsing BigCommerce's bodies into them is ``cartwatch.domain.webhooks``' job.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# The CloudEvents types cartwatch publishes (the external contract, DESIGN.md §3).
EVENT_ABANDONED = "cartwatch.cart.abandoned"
EVENT_RECOVERED = "cartwatch.cart.recovered"
EVENT_CONVERTED = "cartwatch.cart.converted"


class CartEventKind(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    LINE_ITEM_CREATED = "lineItem/created"
    LINE_ITEM_UPDATED = "lineItem/updated"
    LINE_ITEM_DELETED = "lineItem/deleted"
    COUPON_APPLIED = "couponApplied"
    ABANDONED = "abandoned"
    CONVERTED = "converted"
    DELETED = "deleted"

    @property
    def is_activity(self) -> bool:
        return self in _ACTIVITY


_ACTIVITY = frozenset(
    {
        CartEventKind.CREATED,
        CartEventKind.UPDATED,
        CartEventKind.LINE_ITEM_CREATED,
        CartEventKind.LINE_ITEM_UPDATED,
        CartEventKind.LINE_ITEM_DELETED,
        CartEventKind.COUPON_APPLIED,
    }
)


@dataclass(frozen=True)
class CartWebhook:
    """One cart webhook, reduced to what the lifecycle needs."""

    store_hash: str
    cart_id: str
    kind: CartEventKind
    occurred_at: int
    dedupe_key: str
    channel_id: int | None = None
    order_id: int | None = None
    token: str | None = None
    line_item_id: str | None = None


@dataclass(frozen=True)
class AppUninstalled:
    store_hash: str
    dedupe_key: str


@dataclass(frozen=True)
class IgnoredWebhook:
    """A scope cartwatch does not track (acknowledged and counted, not an error)."""

    store_hash: str
    scope: str


Webhook = CartWebhook | AppUninstalled | IgnoredWebhook
