"""In-memory stand-ins for what the write-side services talk to besides the cart store.

The cart store itself is ``tests/memory_cart_store.py``; these are the store directory, the
SNS publisher and a store's BigCommerce API, answering from the fixtures.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cartwatch.adapters.bigcommerce import BigCommerceError
from cartwatch.adapters.event_publisher import OutgoingMessage, PublishFailure
from cartwatch.domain.cart_webhooks import CartWebhook, WebhookKind
from cartwatch.domain.eligibility import EligibilityRules
from cartwatch.domain.shopper import DEFAULT_REMINDERS, ReminderScope
from cartwatch.domain.stages import ChannelStages, StageSchedule
from cartwatch.domain.store import StoreSettings, StoreStatus
from cartwatch.domain.write_planner import WritePlanner

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bigcommerce"
STAGES = StageSchedule.parse("1h,24h,48h")
STORE = "s1"
T0 = 1_800_000_000
HOUR, DAY = 3600, 86400
PLANNER = WritePlanner(due_shards=4, closed_retention_days=30)


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def webhook(cart_id: str, kind: WebhookKind, at: int, key: str | None = None, **data: Any) -> CartWebhook:
    return CartWebhook(STORE, cart_id, kind, at, key or f"{cart_id}:{kind.value}:{at}", **data)


class Stores:
    """The store directory: every store is known, with ``STAGES`` unless given others."""

    def __init__(
        self,
        *,
        stages: StageSchedule = STAGES,
        recovery_links: bool = False,
        eligibility: EligibilityRules | None = None,
        reminders: ReminderScope = DEFAULT_REMINDERS,
        list_active: bool = False,
        channel_stages: tuple[ChannelStages, ...] = (),
    ) -> None:
        self.stages = stages
        self.recovery_links = recovery_links
        self.list_active = list_active
        self.eligibility = eligibility or EligibilityRules()
        self.reminders = reminders
        self.channel_stages = channel_stages
        self.unknown: set[str] = set()
        self.uninstalled: set[str] = set()

    def get(self, store_hash: str) -> StoreSettings | None:
        if store_hash in self.unknown:
            return None
        status = StoreStatus.UNINSTALLED if store_hash in self.uninstalled else StoreStatus.ACTIVE
        return StoreSettings(
            store_hash,
            self.stages,
            recovery_links=self.recovery_links,
            status=status,
            eligibility=self.eligibility,
            reminders=self.reminders,
            list_active=self.list_active,
            channel_stages=self.channel_stages,
        )

    refresh = get

    def stages_for(self, store_hash: str, channel_id: int | None) -> StageSchedule:
        settings = self.get(store_hash)
        return settings.stages_for(channel_id) if settings else self.stages

    def lists_active(self, store_hash: str) -> bool:
        return self.list_active


@dataclass
class Sns:
    """SNS: every message it accepts, and the positions it refuses in the next calls."""

    refuse: list[set[int]] = field(default_factory=list)  # per call: positions that fail
    published: list[dict[str, Any]] = field(default_factory=list)

    def publish(self, messages: Sequence[OutgoingMessage]) -> list[PublishFailure]:
        refused = self.refuse.pop(0) if self.refuse else set()
        self.published += [json.loads(m.body) for i, m in enumerate(messages) if i not in refused]
        return [PublishFailure(i, "InternalError", "refused") for i in sorted(refused) if i < len(messages)]


class BigCommerce:
    """One store's API as enrichment sees it; ``calls`` counts requests as the client does."""

    def __init__(
        self,
        *,
        checkouts: Mapping[str, dict[str, Any] | BigCommerceError] | None = None,
        order: dict[str, Any] | BigCommerceError | None = None,
        bought: Mapping[str, int] | None = None,
    ) -> None:
        self.checkouts = dict(checkouts or {})
        self.order = order if order is not None else fixture("order.json")
        # Carts bought (deleted with their order, whose id this maps them to).
        self.bought = dict(bought or {})
        self.calls = 0
        self.asked: list[str] = []

    def _ask(self, what: str) -> None:
        self.calls += 1
        self.asked.append(what)

    def get_checkout(self, cart_id: str) -> dict[str, Any] | None:
        self._ask(f"checkout {cart_id}")
        answer = self.checkouts.get(cart_id) or guest_checkout(cart_id)
        if isinstance(answer, BigCommerceError):
            raise answer
        return answer if not answer.get("gone") else None

    def cart_is_open(self, cart_id: str) -> bool:
        self._ask(f"cart {cart_id}")
        return cart_id not in self.bought and not self.checkouts.get(cart_id, {}).get("gone")

    def find_order_of_cart(self, cart_id: str) -> dict[str, Any] | None:
        self._ask(f"order of cart {cart_id}")
        order_id = self.bought.get(cart_id)
        if order_id is None:
            return None
        return {**fixture("order.json"), "id": order_id, "cart_id": cart_id}

    def get_customers(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        self._ask("customers")
        return [c for c in fixture("customers.json")["data"] if c["id"] in ids]

    def get_subscribers(self, email: str) -> list[dict[str, Any]]:
        self._ask("subscribers")
        return [s for s in fixture("subscribers.json")["data"] if s["email"] == email]

    def create_cart(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._ask("create cart")
        created: dict[str, Any] = fixture("cart_created.json")["data"]
        return created

    def get_order(self, order_id: int) -> dict[str, Any] | None:
        self._ask(f"order {order_id}")
        if isinstance(self.order, BigCommerceError):
            raise self.order
        return {**self.order, "id": order_id}


def guest_checkout(cart_id: str) -> dict[str, Any]:
    """The guest checkout fixture, as a shopper of its own: each cart's guest typed their own email."""
    checkout: dict[str, Any] = fixture("checkout_guest.json")["data"]
    checkout["cart"]["email"] = f"guest-{cart_id}@example.com"
    return checkout


def clients(api: BigCommerce | None, *, without: Iterable[str] = ()) -> Callable[..., Any]:
    """The per-store client factory: ``api`` for every store, none for stores in ``without``."""
    missing = set(without)
    return lambda store_hash, fresh=False: None if store_hash in missing else api


GONE: dict[str, Any] = {"gone": True}
