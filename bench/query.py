"""Query API read amplification: listing-index items DynamoDB evaluates per cart it lists.

A store's carts are made by the real processor and sweeper over three simulated days
(new carts every hour; some bought within minutes, some abandoned and recovered later,
some revived, some emptied), with the publisher's snapshot and order writes replayed for
abandoned and bought carts.  Then filtered listings are paged through ``CartQueries``
exactly as the API pages them, and ``ScannedCount`` is summed.

Two mixes are reported: the consumer mix (statuses and "modified since T" — the
API2Cart-style poll for abandoned carts, recoveries since T, a time window over every
status), which the index's keys serve, and the evaluated mix (abandoned since T, one
customer's email, a minimum total), whose filters the index evaluates within the status
and time range it is given, so it reads what lies in that range.
"""

from __future__ import annotations

import json
import random
import uuid
from decimal import Decimal
from typing import Any

import boto3

from bench.counting import CallCounter
from cartwatch.adapters.store_registry import store_to_item
from cartwatch.composition import AwsClients, Composition, Observers
from cartwatch.domain.cart_record import CartRecord, CartSummary
from cartwatch.domain.lifecycle import CartStatus, SweepAction, SweepDecision
from cartwatch.domain.listing import CartFilter
from cartwatch.domain.stages import StageSchedule
from cartwatch.domain.store import StoreSettings
from cartwatch.domain.webhooks import CartWebhook, WebhookKind
from cartwatch.service.cart_queries import CartQueries
from cartwatch.settings import Settings
from cartwatch_tools.local.provision import provision

STORE = "benchquery"
STAGES = StageSchedule.parse("1h,24h,48h")
START = 1_800_000_000
HOUR, DAY = 3600, 86400


class _Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return float(self.now)


def _snapshot(cart_id: str, email: str | None, customer_id: int | None, total: Decimal) -> str:
    consent = {"abandoned_cart_emails": None, "marketing_newsletter": None, "source": "unknown"}
    return json.dumps(
        {
            "cart_id": cart_id,
            "channel_id": 1,
            "currency": "USD",
            "totals": {
                "base_amount": str(total),
                "discount_amount": "0.00",
                "coupon_amount": None,
                "cart_amount": str(total),
                "tax_included": None,
            },
            "line_items": [],
            "coupons": [],
            "customer": {
                "id": customer_id,
                "email": email,
                "first_name": None,
                "last_name": None,
                "phone": None,
                "is_guest": customer_id is None,
                "consent": consent,
            },
            "recovery_link": {"url": None, "reason": "not requested"},
            "captured_at": START,
        }
    )


class _Store:
    """The simulated store: what each cart's shopper is, and the pipeline writes they cause."""

    def __init__(self, endpoint: str, hours: int, carts_per_hour: int) -> None:
        session = boto3.Session(region_name="us-east-1")
        resources = provision(session, endpoint, name="bench-query")
        self.dynamodb = session.client("dynamodb", endpoint_url=endpoint)
        self.table = resources.table_name
        self.clock = _Clock()
        self.settings = Settings(
            table_name=self.table,
            ssm_prefix="/bench-query",
            default_stages=STAGES,
            purge_queue_url=resources.purge_queue_url,
        )
        # One process plays the processor, the sweeper and (its writes) the publisher.
        self.pipeline = Composition(
            "processor",
            self.settings,
            AwsClients(endpoint_url=endpoint),
            observers=Observers(sweep=self.record_stage_one),
            clock=self.clock,
        )
        self.carts, self.planner = self.pipeline.carts, self.pipeline.planner
        self.processor = self.pipeline.cart_processor
        self.rng = random.Random(11)
        self.hours = hours
        self.carts_per_hour = carts_per_hour
        self.shoppers: dict[str, tuple[str | None, int | None, Decimal]] = {}
        self.plans: list[tuple[int, str, WebhookKind]] = []  # (when, cart, what)

    def webhook(self, cart_id: str, kind: WebhookKind, at: int) -> CartWebhook:
        order = 5000 + len(self.plans) if kind is WebhookKind.CONVERTED else None
        return CartWebhook(
            STORE, cart_id, kind, at, f"wh:{uuid.UUID(int=self.rng.getrandbits(128))}", order_id=order
        )

    def open_carts(self, hour: int) -> None:
        for n in range(self.carts_per_hour):
            cart_id = str(uuid.UUID(int=self.rng.getrandbits(128)))
            t = START + hour * HOUR + self.rng.randint(0, HOUR - 1)
            who = self.rng.random()
            email = None if who < 0.25 else f"shopper{self.rng.randint(0, 400)}@example.com"
            customer = self.rng.randint(1, 400) if who > 0.6 else None
            self.shoppers[cart_id] = (email, customer, Decimal(self.rng.randint(500, 40000)) / 100)
            self.plans.append((t, cart_id, WebhookKind.CREATED))
            fate = self.rng.random()
            if fate < 0.30:
                self.plans.append((t + self.rng.randint(120, 1800), cart_id, WebhookKind.CONVERTED))
            elif fate < 0.36:
                self.plans.append((t + self.rng.randint(60, 900), cart_id, WebhookKind.DELETED))
            elif fate < 0.46:
                self.plans.append((t + self.rng.randint(2 * HOUR, 2 * DAY), cart_id, WebhookKind.CONVERTED))
            elif fate < 0.52:
                self.plans.append((t + self.rng.randint(2 * HOUR, DAY), cart_id, WebhookKind.UPDATED))
            del n

    def record_stage_one(self, decision: SweepDecision) -> None:
        # What the publisher does after publishing a stage-1 event: keep the snapshot.
        if decision.action is not SweepAction.ABANDON or decision.stage != 1:
            return
        loaded = self.carts.load(STORE, decision.after.cart_id)
        if not isinstance(loaded, CartRecord):
            return
        state = loaded.state
        email, customer, total = self.shoppers[state.cart_id]
        summary = CartSummary(customer, email, total, "USD")
        self.carts.apply(
            self.planner.snapshot(state, _snapshot(state.cart_id, email, customer, total), summary)
        )

    def record_orders(self, cart_ids: set[str]) -> None:
        # What the publisher does after publishing a conversion: keep the order (and list it).
        for cart_id in cart_ids:
            loaded = self.carts.load(STORE, cart_id)
            if not isinstance(loaded, CartRecord):
                continue
            state = loaded.state
            if state.status not in (CartStatus.CONVERTED, CartStatus.RECOVERED):
                continue
            total = self.shoppers[cart_id][2]
            order = {
                "id": state.order_id,
                "total": str(total),
                "currency": "USD",
                "status_id": 11,
                "status": "Paid",
            }
            plan = self.planner.order(
                state, json.dumps(order), CartSummary(total=total, currency="USD"), recorded_at=self.clock.now
            )
            if plan is not None:
                self.carts.apply(plan)

    def run(self) -> None:
        for hour in range(self.hours):
            self.open_carts(hour)
        self.plans.sort()
        sweep = self.pipeline.abandonment_sweep()
        cursor = 0
        for tick in range(START + 30 * 60, START + (self.hours + 72) * HOUR, 30 * 60):
            batch: list[CartWebhook] = []
            while cursor < len(self.plans) and self.plans[cursor][0] < tick:
                at, cart_id, kind = self.plans[cursor]
                batch.append(self.webhook(cart_id, kind, at))
                cursor += 1
            self.clock.now = tick
            if batch:
                self.processor.apply(batch)
                self.record_orders({w.cart_id for w in batch if w.kind is WebhookKind.CONVERTED})
            if tick % (2 * HOUR) == 0:
                sweep.run(tick)


def _page_through(
    queries: CartQueries, counter: CallCounter, cart_filter: CartFilter, limit: int
) -> tuple[int, int]:
    scanned_before, listed = counter.items_scanned, 0
    cursor = None
    while True:
        page = queries.list_carts(STORE, cart_filter, limit=limit, cursor=cursor)
        listed += len(page.carts)
        cursor = page.next_cursor
        if cursor is None:
            return counter.items_scanned - scanned_before, listed


def read_per_listed_cart(endpoint: str, *, hours: int = 24, carts_per_hour: int = 40) -> dict[str, Any]:
    store = _Store(endpoint, hours, carts_per_hour)
    store.dynamodb.put_item(
        TableName=store.table, Item=store_to_item(StoreSettings(STORE, STAGES), created_at=0)
    )
    store.run()
    counter = CallCounter()
    query_api = Composition(
        "query_api", store.settings, AwsClients(endpoint_url=endpoint, event_handlers=counter.handlers)
    )
    queries = query_api.cart_queries
    day = START + (hours // 2) * HOUR
    # What consumers poll: statuses and "modified since T" — the index's own keys.
    consumer = [
        (CartFilter(statuses=(CartStatus.ABANDONED,), transitioned_from=day), 100),
        (CartFilter(statuses=(CartStatus.RECOVERED, CartStatus.CONVERTED), transitioned_from=day), 50),
        (CartFilter(transitioned_from=day + 6 * HOUR, transitioned_to=day + 18 * HOUR), 25),
        (
            CartFilter(
                statuses=(CartStatus.ABANDONED, CartStatus.ACTIVE), transitioned_from=day, stages=(1, 2, 3)
            ),
            50,
        ),
    ]
    # Filters the index evaluates within the status and time range rather than keys on.
    email = next(e for e, _, _ in store.shoppers.values() if e)
    evaluated = [
        (CartFilter(statuses=(CartStatus.ABANDONED,), abandoned_from=day + 6 * HOUR), 50),
        (CartFilter(customer_email=email), 50),
        (CartFilter(statuses=(CartStatus.ABANDONED,), min_total=Decimal(300), transitioned_from=day), 50),
    ]
    figures: dict[str, Any] = {}
    for name, mix in (("consumer", consumer), ("evaluated", evaluated)):
        scanned = listed = 0
        for cart_filter, limit in mix:
            s, n = _page_through(queries, counter, cart_filter, limit)
            scanned, listed = scanned + s, listed + n
        figures[name] = {"scanned": scanned, "listed": listed, "ratio": scanned / max(listed, 1)}
    return figures
