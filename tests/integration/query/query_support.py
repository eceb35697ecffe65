"""A store seeded through the real pipeline, and a brute-force oracle for the listing.

Carts are made by the BigCommerce sandbox's storefront, delivered as webhooks to the local
gateway, processed, swept at chosen times and published — nothing is written to the table
directly.  ``expected`` answers a listing query from the raw cart items with the API's
documented meaning, independently of the listing index and its filter expressions.

A cart's ``modified_at`` is when cartwatch *recorded* its latest transition, not the time in
its history: a cart bought without an abandonment is listed by the publisher, whose write
may fall in a later second than the conversion it announces (and must sort there, or a poll
started in between would miss it).  The oracle therefore takes the item's own
``modified_at`` and checks it against the history instead of deriving it from the history.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tests.integration.pipeline_support import World, make_world

from cartwatch_tools.cli.query_client import ApiCredentials, QueryApiClient
from cartwatch_tools.local.moto_server import LOCAL_ACCESS_KEY, LOCAL_REGION, LOCAL_SECRET_KEY

HOUR, DAY = 3600, 86400
# How long after a transition cartwatch may record it in the listing (pipeline latency).
RECORDING_LAG = 60
LOCAL_CREDENTIALS = ApiCredentials(LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY)
BOUGHT = {"converted", "recovered"}


def api_client(world: World, credentials: ApiCredentials = LOCAL_CREDENTIALS) -> QueryApiClient:
    return QueryApiClient(world.pipeline.gateway.url, credentials, LOCAL_REGION)


@dataclass
class Seeded:
    """A world whose store holds carts of every fate, and what was done to each."""

    world: World
    api: QueryApiClient
    start: int
    fates: dict[str, str] = field(default_factory=dict)  # cart id -> fate
    events_queue: str = ""  # an SQS queue subscribed to every event type
    events: list[dict[str, Any]] = field(default_factory=list)

    def published(self) -> list[dict[str, Any]]:
        """Every event the topic delivered so far."""
        self.events += self.world.received(self.events_queue)
        return self.events

    @property
    def store_hash(self) -> str:
        return self.world.store_hash

    def settle(self, now: int | None = None) -> None:
        """Deliver what the sandbox fired, then run the pipeline to quiescence."""
        self.world.deliver()
        self.world.pipeline.drain(now=now, sweep=now is not None)

    def sweep(self, now: int) -> None:
        self.world.pipeline.drain(now=now)

    def items(self) -> list[dict[str, Any]]:
        """Every cart item of the store (a scan: the test's brute force, never the API's)."""
        dynamodb = self.world.pipeline.client("dynamodb")
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {"TableName": self.world.pipeline.resources.table_name}
        while True:
            page = dynamodb.scan(**request)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        prefix = f"CART#{self.store_hash}#"
        return [i for i in items if i["pk"]["S"].startswith(prefix)]


def seed_store(world: World) -> Seeded:
    """About thirty carts: abandoned (stages 1-3), recovered, converted, reactivated, deleted,
    expired, suppressed; registered shoppers, guests with and without an email."""
    shop = world.shop
    seeded = Seeded(world, api_client(world), start=int(time.time()))
    seeded.events_queue = world.consumer_queue(
        "cartwatch.cart.abandoned", "cartwatch.cart.recovered", "cartwatch.cart.converted"
    )
    t0 = seeded.start
    shoppers = [
        shop.add_customer(f"shopper{i}@example.com", f"Shopper{i}", "Query", phone=f"+1 555 010{i}")
        for i in range(3)
    ]
    products = [(88, 1), (104, 2), (111, 3), (112, 1), (88, 4), (111, 1)]

    def open_cart(fate: str, index: int) -> str:
        product, quantity = products[index % len(products)]
        who = index % 4
        cart_id = shop.storefront_add_to_cart(
            product, quantity, customer_id=shoppers[who] if who < len(shoppers) else None
        )
        if who == 3 and index % 8 != 3:  # most guests give an email; some never do
            shop.storefront_set_guest_email(cart_id, f"Guest{index}@Example.com", first_name="Guest")
        seeded.fates[cart_id] = fate
        return cart_id

    # Phase A: abandoned long ago, then expired after BigCommerce's 30 days.
    expiring = [open_cart("expired", i) for i in range(2)]
    seeded.settle()
    seeded.sweep(t0 + HOUR + 5)
    seeded.sweep(t0 + 31 * DAY)
    assert all(seeded.fates[c] == "expired" for c in expiring)

    # Phase B: every other fate.
    plan = (
        ["converted"] * 4
        + ["recovered"] * 3
        + ["reactivated"] * 2
        + ["deleted"] * 2
        + ["stage3"] * 4
        + ["suppressed"] * 3
    )
    carts = [open_cart(fate, i + 2) for i, fate in enumerate(plan)]
    seeded.settle()
    for cart_id in carts:
        if seeded.fates[cart_id] == "converted":
            shop.storefront_convert(cart_id)
    seeded.settle()
    seeded.sweep(t0 + HOUR + 5)  # stage 1 for every open cart
    for cart_id in carts:
        fate = seeded.fates[cart_id]
        if fate == "recovered":
            shop.storefront_convert(cart_id)
        elif fate == "deleted":
            shop.delete_cart(cart_id)
        elif fate == "suppressed":
            assert seeded.api.suppress(seeded.store_hash, cart_id).status == 200
    seeded.settle()
    seeded.sweep(t0 + DAY + 5)  # stage 2
    seeded.sweep(t0 + 2 * DAY + 5)  # stage 3

    # Phase C: carts found idle past stage 2 at once (the sweep announces only that stage).
    for i in range(3):
        open_cart("stage2", 30 + i)
    seeded.settle()
    seeded.sweep(t0 + DAY + 10)

    # Phase D: fresh abandonments at stage 1 only.
    for i in range(4):
        open_cart("stage1", 40 + i)
    seeded.settle()
    seeded.sweep(t0 + HOUR + 10)

    # Last: abandoned carts whose shoppers come back (active again, and no sweep after) —
    # in a later second than they left (BigCommerce's times have 1-second resolution).
    time.sleep(max(0.0, seeded.start + 3 - time.time()))
    for cart_id, fate in list(seeded.fates.items()):
        if fate == "reactivated":
            shop.storefront_add_to_cart(111, 1, cart_id=cart_id)
    seeded.settle()
    return seeded


def make_seeded(moto_endpoint: str) -> Iterator[Seeded]:
    for world in make_world(moto_endpoint):
        yield seed_store(world)


# --- the oracle --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Truth:
    """A cart as the API documents it, derived from its raw item."""

    cart_id: str
    status: str
    created: int
    modified: int
    activity: int  # the last activity the listing shows (see ``truths``)
    abandoned: int | None
    stage_reached: int
    suppressed: bool
    customer_id: int | None
    email: str | None
    total: Decimal | None
    currency: str | None


def truths(items: list[dict[str, Any]]) -> list[Truth]:
    found = []
    for item in items:
        if item.get("kind", {}).get("S") != "cart":
            continue
        status = item["status"]["S"]
        stage_reached = int(item["last_abandoned_stage"]["N"])
        suppressed = "suppressed_at" in item
        if not (stage_reached > 0 or suppressed or status in BOUGHT):
            continue  # never abandoned, never suppressed, not bought: not listed
        history = [int(entry["S"].split("|")[0]) for entry in item.get("history", {}).get("L", [])]
        assert "modified_at" in item, f"listed cart {item['cart_id']['S']} has no modified_at"
        modified = int(item["modified_at"]["N"])
        created = int(item["cart_created_at"]["N"])
        abandoned = int(item["abandoned_at"]["N"]) if "abandoned_at" in item else None
        # Never earlier than any transition, its creation or its abandonment (the key range
        # relies on it), and recorded soon after the latest transition.
        latest = max(history, default=created)
        assert latest <= modified <= latest + RECORDING_LAG, (item["cart_id"]["S"], history, modified)
        assert created <= modified and (abandoned is None or abandoned <= modified)
        snapshot = json.loads(item["snapshot"]["S"]) if "snapshot" in item else None
        order = json.loads(item["order"]["S"]) if "order" in item else None
        customer = snapshot["customer"] if snapshot else {}
        total, currency = None, None
        if order and order.get("total") is not None:
            total, currency = Decimal(order["total"]), order.get("currency")
        elif snapshot:
            total, currency = Decimal(snapshot["totals"]["cart_amount"]), snapshot["currency"]
        found.append(
            Truth(
                cart_id=item["cart_id"]["S"],
                status=status,
                created=created,
                modified=modified,
                activity=listed_activity(item),
                abandoned=abandoned,
                stage_reached=stage_reached,
                suppressed=suppressed,
                customer_id=customer.get("id"),
                email=customer["email"].casefold() if customer.get("email") else None,
                total=total,
                currency=currency,
            )
        )
    return found


def daily_truths(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The stats' figures per UTC day, counted over the raw cart items (docs/query-api.md, Stats):
    created carts by creation day, abandoned by their latest abandonment's start (valued at the
    captured cart total), recovered and converted by purchase day (valued at the order total)."""
    days: dict[str, dict[str, Any]] = {}

    def count(at: int, name: str, worth: tuple[str, Decimal] | None = None, valued: bool = False) -> None:
        figures = days.setdefault(datetime.fromtimestamp(at, UTC).date().isoformat(), {})
        figures[name] = figures.get(name, 0) + 1
        if valued and worth is None:
            figures[f"{name}_unvalued"] = figures.get(f"{name}_unvalued", 0) + 1
        elif worth is not None:
            key = f"{name}_value_{worth[0]}"
            figures[key] = figures.get(key, Decimal(0)) + worth[1]

    for item in items:
        if item.get("kind", {}).get("S") != "cart" or "recovery_of" in item:
            continue
        if "no_activity" not in item:
            count(int(item["cart_created_at"]["N"]), "created")
        if int(item["last_abandoned_stage"]["N"]) > 0:
            snapshot = json.loads(item["snapshot"]["S"]) if "snapshot" in item else None
            worth = (snapshot["currency"], Decimal(snapshot["totals"]["cart_amount"])) if snapshot else None
            count(int(item["abandoned_at"]["N"]), "abandoned", worth, valued=True)
        status = item["status"]["S"]
        if status in BOUGHT:
            order = json.loads(item["order"]["S"]) if "order" in item else None
            known = order and order.get("total") is not None and order.get("currency")
            worth = (order["currency"], Decimal(order["total"])) if known and order else None
            count(int(item["closed_at"]["N"]), status, worth, valued=True)
    return days


def listed_activity(item: dict[str, Any]) -> int:
    """The cart's last activity as its latest listing write saw it: exactly its last activity,
    except for an open cart, which may have been active since (never earlier than that)."""
    listed, last = int(item["listed_activity_at"]["N"]), int(item["last_activity_at"]["N"])
    if item["status"]["S"] == "active":
        assert listed <= last, item["cart_id"]["S"]
    else:
        assert listed == last, item["cart_id"]["S"]
    return listed


def _between(value: int | Decimal | None, low: Any, high: Any) -> bool:
    if low is None and high is None:
        return True
    return value is not None and (low is None or value >= low) and (high is None or value <= high)


def expected(carts: list[Truth], params: dict[str, Any]) -> set[str]:
    """The cart ids a listing with ``params`` must return (every page together)."""
    statuses = set(params.get("status") or [])
    stages = set(params.get("stage") or [])

    def keep(t: Truth) -> bool:
        return all(
            (
                not statuses or t.status in statuses,
                _between(t.created, params.get("created_from"), params.get("created_to")),
                _between(t.modified, params.get("transitioned_from"), params.get("transitioned_to")),
                _between(t.activity, params.get("modified_from"), params.get("modified_to")),
                _between(t.abandoned, params.get("abandoned_from"), params.get("abandoned_to")),
                "customer_id" not in params or t.customer_id == params["customer_id"],
                "customer_email" not in params or t.email == params["customer_email"].casefold(),
                not params.get("skip_empty_email") or bool(t.email),
                _between(t.total, _decimal(params.get("min_total")), _decimal(params.get("max_total"))),
                "currency" not in params or t.currency == params["currency"],
                not stages or t.stage_reached in stages,
                "suppressed" not in params or t.suppressed == params["suppressed"],
            )
        )

    return {t.cart_id for t in carts if keep(t)}


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def list_all(
    api: QueryApiClient, store_hash: str, params: dict[str, Any], limit: int
) -> list[dict[str, Any]]:
    """Every page of a listing, in order."""
    carts: list[dict[str, Any]] = []
    cursor = None
    for _page in range(200):
        response = api.list_carts(store_hash, **params, limit=limit, cursor=cursor)
        assert response.status == 200, response.body
        carts += response.body["carts"]
        cursor = response.body["next_cursor"]
        if cursor is None:
            return carts
    raise AssertionError("listing did not end")
