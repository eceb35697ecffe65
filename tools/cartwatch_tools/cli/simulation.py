"""Shoppers against a BigCommerce store (the sandbox), and the events they should cause.

Each simulated shopper drives the store through BigCommerce's management API, as a
headless storefront would; the store fires its webhooks at cartwatch.  The simulation
listens on its own SQS queue subscribed to cartwatch's topic and compares what arrives
with what each shopper's story must produce:

    abandons   fills a cart and walks away      -> one abandoned event per stage
    buys       checks out straight away          -> one converted event
    returns    walks away, comes back after the  -> abandoned (stage 1), then recovered
               first reminder and buys
    empties    fills a cart, then deletes it     -> nothing
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import requests

from cartwatch.domain.event_types import ABANDONED, CONVERTED, EVENT_TYPES, RECOVERED, TYPE_ATTRIBUTE

# Products of the sandbox catalog without required options (BigCommerce's sample store).
PRODUCTS = (86, 88, 104, 112)


class Role(StrEnum):
    ABANDONS = "abandons"
    BUYS = "buys"
    RETURNS = "returns"
    EMPTIES = "empties"


_MIX = (Role.ABANDONS, Role.BUYS, Role.RETURNS, Role.ABANDONS, Role.EMPTIES, Role.BUYS, Role.RETURNS)


class SimulationError(RuntimeError):
    """The store refused a shopper's action."""


@dataclass
class Shopper:
    role: Role
    cart_id: str = ""
    email: str = ""
    converted: bool = False

    def expected(self, stage_count: int) -> Counter[str]:
        expected: dict[Role, Counter[str]] = {
            Role.ABANDONS: Counter({ABANDONED: stage_count}),
            Role.BUYS: Counter({CONVERTED: 1}),
            Role.RETURNS: Counter({ABANDONED: 1, RECOVERED: 1}),
            Role.EMPTIES: Counter(),
        }
        return expected[self.role]


@dataclass
class SimulationResult:
    shoppers: list[Shopper]
    stage_count: int
    received: dict[str, Counter[str]] = field(default_factory=dict)  # cart id -> type -> count

    def expected_totals(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for shopper in self.shoppers:
            total += shopper.expected(self.stage_count)
        return total

    def received_totals(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for counts in self.received.values():
            total += counts
        return total

    def mismatches(self) -> list[str]:
        problems = []
        for shopper in self.shoppers:
            got = self.received.get(shopper.cart_id, Counter())
            want = shopper.expected(self.stage_count)
            if got != want:
                problems.append(f"{shopper.cart_id} ({shopper.role}): expected {dict(want)}, got {dict(got)}")
        return problems

    @property
    def ok(self) -> bool:
        return not self.mismatches()

    def to_json(self) -> dict[str, Any]:
        return {
            "stage_count": self.stage_count,
            "carts": [
                {
                    "cart_id": s.cart_id,
                    "role": s.role.value,
                    "expected": dict(s.expected(self.stage_count)),
                    "received": dict(self.received.get(s.cart_id, Counter())),
                }
                for s in self.shoppers
            ],
            "expected": dict(self.expected_totals()),
            "received": dict(self.received_totals()),
            "ok": self.ok,
        }


# The channel the simulated storefront's carts belong to: BigCommerce's default storefront.
STOREFRONT_CHANNEL = 1


class Storefront:
    """A headless storefront on BigCommerce's REST management API, on :data:`STOREFRONT_CHANNEL`."""

    def __init__(self, api_url: str, store_hash: str, access_token: str, rng: random.Random) -> None:
        self._base = f"{api_url.rstrip('/')}/stores/{store_hash}/v3"
        self._session = requests.Session()
        self._session.headers.update(
            {"X-Auth-Token": access_token, "Accept": "application/json", "Content-Type": "application/json"}
        )
        self._rng = rng

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        for _attempt in range(8):
            response = self._session.request(method, self._base + path, json=body, timeout=10)
            if response.status_code == 429:  # the store's quota: wait for its window to reset
                time.sleep(int(response.headers.get("X-Rate-Limit-Time-Reset-Ms", "1000")) / 1000)
                continue
            if response.status_code >= 400:
                raise SimulationError(f"{method} {path} answered {response.status_code}")
            return response.json() if response.content else {}
        raise SimulationError(f"{method} {path} stayed rate-limited")

    def open_cart(self) -> str:
        items = [{"product_id": self._rng.choice(PRODUCTS), "quantity": self._rng.randint(1, 3)}]
        cart = self._call("POST", "/carts", {"line_items": items, "channel_id": STOREFRONT_CHANNEL})
        cart_id: str = cart["data"]["id"]
        if self._rng.random() < 0.5:
            self.add_item(cart_id)
        return cart_id

    def add_item(self, cart_id: str) -> None:
        item = {"product_id": self._rng.choice(PRODUCTS), "quantity": 1}
        self._call("POST", f"/carts/{cart_id}/items", {"line_items": [item]})

    def enter_email(self, cart_id: str, email: str) -> None:
        address = {"email": email, "first_name": "Sam", "last_name": "Shopper", "country_code": "US"}
        self._call("POST", f"/checkouts/{cart_id}/billing-address", address)

    def place_order(self, cart_id: str) -> None:
        self._call("POST", f"/checkouts/{cart_id}/orders")

    def delete(self, cart_id: str) -> None:
        self._call("DELETE", f"/carts/{cart_id}")


class EventInbox:
    """An SQS queue subscribed to cartwatch's topic, as a consumer would subscribe one."""

    def __init__(self, session: Any, endpoint_url: str, topic_arn: str) -> None:
        self._sqs = session.client("sqs", endpoint_url=endpoint_url)
        sns = session.client("sns", endpoint_url=endpoint_url)
        self.queue_url = self._sqs.create_queue(QueueName=f"simulate-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self._subscription = sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={
                "FilterPolicy": json.dumps({TYPE_ATTRIBUTE: list(EVENT_TYPES)}),
                "RawMessageDelivery": "true",
            },
        )["SubscriptionArn"]
        self._sns = sns

    def poll(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        while True:
            messages = self._sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                return events
            for message in messages:
                events.append(json.loads(message["Body"]))
                self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def close(self) -> None:
        self._sns.unsubscribe(SubscriptionArn=self._subscription)
        self._sqs.delete_queue(QueueUrl=self.queue_url)


def plan(carts: int, seed: int) -> list[Shopper]:
    rng = random.Random(seed)  # noqa: S311 — a reproducible shopper mix, not a secret
    offset = rng.randrange(len(_MIX))
    return [Shopper(_MIX[(offset + n) % len(_MIX)]) for n in range(carts)]


def simulate(
    storefront: Storefront,
    inbox: EventInbox,
    shoppers: list[Shopper],
    *,
    stage_count: int,
    deadline_seconds: float,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> SimulationResult:
    """Run every shopper's story and collect events until all expected ones arrived."""
    result = SimulationResult(shoppers, stage_count)
    by_cart: dict[str, Shopper] = {}
    for n, shopper in enumerate(shoppers):
        shopper.cart_id = storefront.open_cart()
        shopper.email = f"shopper{n}@example.com"
        by_cart[shopper.cart_id] = shopper
        # Every shopper types an email: a store requires one by default before it announces
        # an abandoned cart (eligibility rules), and the tally expects every reminder.
        storefront.enter_email(shopper.cart_id, shopper.email)
        if shopper.role is Role.BUYS:
            storefront.place_order(shopper.cart_id)
            shopper.converted = True
        elif shopper.role is Role.EMPTIES:
            storefront.delete(shopper.cart_id)
    expected_total = sum(result.expected_totals().values())
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        for event in inbox.poll():
            owner = by_cart.get(event.get("subject", ""))
            if owner is None:
                continue  # another cart of the same store
            result.received.setdefault(owner.cart_id, Counter())[event["type"]] += 1
            if on_event:
                on_event(event)
            if owner.role is Role.RETURNS and event["type"] == ABANDONED and not owner.converted:
                # The reminder worked: the shopper comes back, adds something and buys.
                storefront.add_item(owner.cart_id)
                storefront.place_order(owner.cart_id)
                owner.converted = True
        received_total = sum(result.received_totals().values())
        if on_progress:
            on_progress(received_total, expected_total)
        if received_total >= expected_total and result.ok:
            # Everything expected arrived; wait one more beat so a duplicate would show.
            time.sleep(1.0)
            for event in inbox.poll():
                late = by_cart.get(event.get("subject", ""))
                if late is not None:
                    result.received.setdefault(late.cart_id, Counter())[event["type"]] += 1
            return result
        time.sleep(0.25)
    return result
