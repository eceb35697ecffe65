"""The load run: the storefront mix across many stores against `cartwatch local`, end to end.

What a vendor with many stores puts on cartwatch, on one 2-core machine:

* ``cartwatch local`` runs as a process of its own (its emulator in another), with short
  stages (``20s,40s``) so that carts are abandoned *during* the run and the publisher
  enriches and announces them while deliveries keep coming;
* BigCommerce is the sandbox, in this process, with every store and every cart the mix
  touches (created through its management API without hooks, so the sandbox itself sends
  nothing): enrichment reads real carts, checkouts and orders;
* ``stores`` stores are onboarded as ``stores add`` does (row, secrets), and the mix's carts
  are spread over them; the functions keep store settings and tokens five minutes, as
  deployed (``--cache-seconds 300``), not a second as ``cartwatch local`` does by default;
* deliveries are the storefront mix (``bench/storefront.py``: ~5 % delivered twice), signed
  with each store's client secret, offered open-loop at ``rate`` per second over fresh
  connections; one in ten is held back 0.5 to 3 s, so deliveries arrive out of order;
* a purchase or an emptied cart happens in the sandbox when its webhook is sent, as it
  would in the store.

Afterwards (the intake queue drained, the last stage-1 announcements given time to go
out) every cart is checked against what its webhooks said, every published event is read
from a queue subscribed to the topic, and the emulator's tally gives the AWS calls.

* ``lost_webhooks``: webhooks whose effect is missing from their cart's state (the cart's
  first creation time, its last activity, its close), plus anything in the intake DLQ and
  any delivery that was not accepted;
* ``duplicate_events``: event ids published with different data, plus carts announced with
  two different ids for one and the same transition (a stage of one idle period, or one
  purchase);
* ``rate``: with ``find_rate`` the highest offered rate, in steps of 20/s, whose 20-second
  probe is *sustained* — every delivery accepted, ack p99 under a second, and the intake
  queue empty within two seconds of the last delivery (the processor keeps up; a probe that
  left a backlog of five seconds' work passed at a rate the full run then fell behind at) —
  before the full run at it.
"""

from __future__ import annotations

import functools
import http.client
import json
import random
import secrets
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.support import signed_headers, subscribed_queue

from bench.acks import Acks
from bench.local_run import LocalProcess, aws_calls, client, queue_depth, store_writer, wait_for_intake
from bench.storefront import Delivery, storefront_mix
from cartwatch.domain.stages import StageSchedule
from cartwatch.domain.store import StoreSettings
from cartwatch_tools.sandbox import BigCommerceSandbox

STAGES = "20s,40s"
WEBHOOKS_PER_SHOPPER = 7.1  # the storefront mix's average, duplicates included
REORDERED_SHARE = 0.1
REORDER_DELAY = (0.5, 3.0)
PRODUCT = 88  # a simple product of the sandbox's catalog
ACK_P99_SUSTAINED_MS = 1000.0
DRAIN_SUSTAINED_SECONDS = 2.0
_CLOSING = {"store/cart/converted", "store/cart/deleted"}
_ACTIVITY_FREE = {"store/cart/converted", "store/cart/deleted", "store/cart/abandoned"}


@dataclass
class LoadFigures(Acks):
    stores: int
    rate: float
    seconds: float
    offered: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    send_seconds: float = 0.0
    drain_seconds: float = 0.0
    lost_webhooks: int = 0
    carts: int = 0
    events: int = 0
    duplicate_events: int = 0
    aws_calls: Counter[str] = field(default_factory=Counter)
    emulator_cpu_by_call: Counter[str] = field(default_factory=Counter)
    cpu_local_seconds: float = 0.0
    cpu_emulator_seconds: float = 0.0
    probes: list[tuple[float, bool]] = field(default_factory=list)

    def calls_per_webhook(self, prefix: str = "") -> float:
        calls = sum(n for name, n in self.aws_calls.items() if name.startswith(prefix))
        return calls / max(self.accepted, 1)

    def lines(self, metric: Callable[..., dict[str, Any]]) -> list[dict[str, Any]]:
        per = max(self.accepted, 1)
        return [
            metric("load_stores", self.stores, "stores", ">= 1000"),
            metric("load_offered_webhooks_per_second", self.rate, "webhooks/s", None),
            metric("load_seconds", self.seconds, "s", ">= 60"),
            *[
                metric(f"load_probe_{int(rate)}_per_second_sustained", float(ok), "1 = yes", None)
                for rate, ok in self.probes
            ],
            # Accepted webhooks over the time from the first delivery until the last one was
            # applied: what the whole pipeline carried, not only the ack path.
            metric(
                "load_webhooks_per_second",
                self.accepted / max(self.send_seconds + self.drain_seconds, 1e-9),
                "webhooks/s",
                ">= 100",
            ),
            metric("load_lost_webhooks", self.lost_webhooks, "webhooks", "== 0"),
            metric("load_duplicate_events", self.duplicate_events, "events", "== 0"),
            *self.ack_lines("load", metric),
            metric("load_carts", self.carts, "carts", None),
            metric("load_events_published", self.events, "events", None),
            metric("load_drain_seconds_after_last_ack", self.drain_seconds, "s", None),
            metric("load_aws_calls_per_webhook", self.calls_per_webhook(), "calls", None),
            *[
                metric(f"load_aws_calls_per_webhook_{s}", self.calls_per_webhook(f"{s}."), "calls", None)
                for s in ("sqs", "dynamodb", "dynamodbstreams", "sns", "ssm")
            ],
            # The ack path's own share: one SendMessage per accepted delivery.
            metric(
                "load_aws_calls_per_webhook_ack",
                self.aws_calls["sqs.SendMessage"] / per,
                "calls",
                "== 1",
            ),
            metric("load_cpu_ms_per_webhook_local", 1000 * self.cpu_local_seconds / per, "ms", None),
            metric("load_cpu_ms_per_webhook_emulator", 1000 * self.cpu_emulator_seconds / per, "ms", None),
        ]


def run_load(
    *,
    stores: int,
    seconds: float,
    rate: float,
    find_rate: bool = False,
    settle: bool = True,
    seed: int = 11,
) -> LoadFigures:
    """Onboard ``stores`` stores, offer the mix for ``seconds`` (at the highest sustained rate
    from ``rate`` up when ``find_rate``), check every cart and event."""
    with (
        tempfile.TemporaryDirectory(prefix="cartwatch-load-") as workdir,
        BigCommerceSandbox(allow_http_destinations=True, seed=seed, abandon_after=None) as sandbox,
    ):
        # Store settings and tokens kept as a deployed function keeps them (`cartwatch local`
        # re-reads them every second by default, for `stores update --local`).
        arguments = ["--bigcommerce-api-url", sandbox.url, "--stages", STAGES, "--cache-seconds", "300"]
        local = LocalProcess(Path(workdir), arguments)
        try:
            info = local.start()
            run = _Run(info, sandbox, _onboard(info, sandbox, stores), random.Random(seed))
            probes: list[tuple[float, bool]] = []
            if find_rate:
                rate = run.highest_sustained_rate(rate)
                probes = run.probes
            figures = LoadFigures(stores=stores, rate=rate, seconds=seconds, probes=probes)
            (calls_before, emulated_before), cpu_before = aws_calls(info), local.cpu_seconds()
            run.offer(rate, seconds, figures)
            drained = time.perf_counter()
            wait_for_intake(info, 300)
            figures.drain_seconds = time.perf_counter() - drained
            (calls_after, emulated_after), cpu_after = aws_calls(info), local.cpu_seconds()
            figures.aws_calls = Counter(calls_after) - Counter(calls_before)
            figures.emulator_cpu_by_call = Counter(emulated_after) - Counter(emulated_before)
            figures.cpu_local_seconds = cpu_after[0] - cpu_before[0]
            figures.cpu_emulator_seconds = cpu_after[1] - cpu_before[1]
            if settle:
                # The last carts' first stage falls due a stage after their last click.
                time.sleep(StageSchedule.parse(STAGES).delays[0] + 5)
                wait_for_intake(info, 60)
            figures.carts = len(run.expected)
            figures.lost_webhooks = run.lost_webhooks(figures)
            figures.events, figures.duplicate_events = run.events()
            return figures
        finally:
            local.stop()


@dataclass(frozen=True)
class _Store:
    store_hash: str
    client_secret: str


def _onboard(info: dict[str, Any], sandbox: BigCommerceSandbox, count: int) -> list[_Store]:
    """``count`` stores in the sandbox and in cartwatch (row and secrets, as `stores add`)."""
    writer = store_writer(info)
    stages = StageSchedule.parse(STAGES)

    def add(number: int) -> _Store:
        store = _Store(f"load{number:05d}", secrets.token_hex(16))
        token = secrets.token_hex(16)
        sandbox.add_store(store.store_hash, access_token=token, client_secret=store.client_secret)
        writer.save(
            StoreSettings(store.store_hash, stages),
            access_token=token,
            client_secret=store.client_secret,
            webhook_token=secrets.token_urlsafe(16),
            created_at=int(time.time()),
        )
        return store

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(add, range(count)))


@dataclass
class _Cart:
    store: _Store
    cart_id: str  # the sandbox's id, which the webhooks carry
    created_at: int | None = None  # the earliest webhook's time
    last_activity_at: int | None = None
    closed_by: str | None = None  # the scope of its closing webhook
    webhooks: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class _Shot:
    due: float
    store: _Store
    webhook_id: str
    # Made when the delivery is sent, not when it is planned: its purchase or its emptied
    # cart happens in the sandbox then, as in the store.  (Made at planning, every order of a
    # run predated the webhooks of its cart, and an order found at stage 1 moved the cart's
    # creation time back to the run's start.)
    body: Callable[[], bytes]


class _Run:
    """One `cartwatch local`: the stores, the carts made so far, the topic's consumer queue."""

    def __init__(
        self, info: dict[str, Any], sandbox: BigCommerceSandbox, stores: list[_Store], rng: random.Random
    ) -> None:
        self.info = info
        self.sandbox = sandbox
        self.stores = stores
        self.rng = rng
        self.expected: dict[str, _Cart] = {}
        self.probes: list[tuple[float, bool]] = []
        self._mix_offset = 0
        self._bodies: dict[str, bytes] = {}
        self._sending = threading.Lock()
        self._orders: dict[str, int] = {}
        self._events_queue = subscribed_queue(
            client(self.info, "sqs"), client(self.info, "sns"), self.info["topic_arn"]
        )

    # --- finding the rate -------------------------------------------------------------------

    def highest_sustained_rate(
        self, start: float, step: float = 20.0, probe_seconds: float = 20.0, floor: float = 10.0
    ) -> float:
        """Short probes from ``start``: up by ``step`` while each is sustained; if ``start``
        is not, down by a fifth of ``step`` until one is.  The highest sustained rate wins
        (``floor`` if none is) — never a rate that was not sustained."""
        rate = start
        if not self._sustains(rate, probe_seconds):
            while rate - step / 5 >= floor:
                rate -= step / 5
                if self._sustains(rate, probe_seconds):
                    return rate
            return floor
        best = rate
        while rate + step <= 8 * start:
            rate += step
            if not self._sustains(rate, probe_seconds):
                break
            best = rate
        return best

    def _sustains(self, rate: float, seconds: float) -> bool:
        probe = LoadFigures(stores=len(self.stores), rate=rate, seconds=seconds)
        self.offer(rate, seconds, probe)
        drained = time.perf_counter()
        wait_for_intake(self.info, 120)
        drain = time.perf_counter() - drained
        sustained = (
            probe.accepted == probe.offered
            and probe.percentile(0.99) <= ACK_P99_SUSTAINED_MS
            and drain <= DRAIN_SUSTAINED_SECONDS
        )
        self.probes.append((rate, sustained))
        return sustained

    # --- offering deliveries ----------------------------------------------------------------

    def offer(self, rate: float, seconds: float, figures: LoadFigures) -> None:
        shots = self._shots(rate, seconds)
        figures.offered = len(shots)
        base = urlsplit(self.info["webhook_base_url"])
        lock = threading.Lock()

        def send(shot: _Shot) -> None:
            status = 0
            body = shot.body()
            headers = signed_headers(shot.store.client_secret, body, msg_id=shot.webhook_id)
            try:
                connection = http.client.HTTPConnection(base.hostname, base.port, timeout=60)
                path = f"{base.path}/{shot.store.store_hash}"
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                status = response.status
                connection.close()
            except OSError:
                status = 0  # no answer: as bad as a 5xx for BigCommerce
            latency = (time.perf_counter() - started - shot.due) * 1000
            with lock:
                figures.statuses[status] += 1
                figures.latencies_ms.append(latency)

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=64, thread_name_prefix="load") as pool:
            for shot in shots:
                pause = started + shot.due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                pool.submit(send, shot)
        figures.send_seconds = time.perf_counter() - started

    def _shots(self, rate: float, seconds: float) -> list[_Shot]:
        """The next slice of the mix: ``rate * seconds`` deliveries, due at a steady rate, some held back."""
        total = int(rate * seconds)
        shoppers = int(total / WEBHOOKS_PER_SHOPPER) + 1
        mix = storefront_mix(shoppers, start=0, seed=self.rng.randrange(1 << 30))[:total]
        now = int(time.time())
        carts: dict[str, _Cart] = {}
        shots = []
        for index, delivery in enumerate(mix):
            cart = carts.get(delivery.cart_id) or carts.setdefault(delivery.cart_id, self._new_cart())
            due = index / rate
            if self.rng.random() < REORDERED_SHARE:
                due += self.rng.uniform(*REORDER_DELAY)
            body = functools.partial(self._body, cart, delivery, now + int(index / rate))
            shots.append(_Shot(due, cart.store, delivery.webhook_id, body))
        shots.sort(key=lambda shot: shot.due)
        return shots

    def _new_cart(self) -> _Cart:
        store = self.rng.choice(self.stores)
        cart_id = self.sandbox.store(store.store_hash).storefront_add_to_cart(PRODUCT, 1)
        cart = self.expected[cart_id] = _Cart(store, cart_id)
        return cart

    def _body(self, cart: _Cart, delivery: Delivery, created_at: int) -> bytes:
        """The delivery's body; a redelivery (same webhook id) repeats the first one exactly."""
        with self._sending:  # the senders' threads share the sandbox and the expectations
            return self._bodies.get(delivery.webhook_id) or self._first_body(cart, delivery, created_at)

    def _first_body(self, cart: _Cart, delivery: Delivery, created_at: int) -> bytes:
        scope = delivery.scope
        if scope.startswith("store/cart/lineItem/"):
            data: dict[str, Any] = {
                "type": "cart_line_item",
                "id": delivery.data["item_id"],
                "cartId": cart.cart_id,
            }
        else:
            data = {"type": "cart", "id": cart.cart_id}
        if scope == "store/cart/couponApplied":
            data["couponId"] = delivery.data["couponId"]
        if scope == "store/cart/converted":
            data["orderId"] = self._order(cart)
        if scope == "store/cart/deleted":
            self._delete(cart)
        body = json.dumps(
            {
                "scope": scope,
                "store_id": "1",
                "data": data,
                "hash": secrets.token_hex(20),
                "created_at": created_at,
                "producer": f"stores/{cart.store.store_hash}",
            },
            separators=(",", ":"),
        ).encode()
        self._bodies[delivery.webhook_id] = body
        _expect(cart, scope, created_at, delivery.webhook_id)
        return body

    def _order(self, cart: _Cart) -> int:
        """The cart is bought in the sandbox (once), as the shopper's checkout does."""
        if cart.cart_id not in self._orders:
            store = self.sandbox.store(cart.store.store_hash)
            email = f"{cart.cart_id[:8]}@example.com"
            self._orders[cart.cart_id] = store.storefront_convert(cart.cart_id, email=email)
        return self._orders[cart.cart_id]

    def _delete(self, cart: _Cart) -> None:
        store = self.sandbox.store(cart.store.store_hash)
        if cart.cart_id in store.cart_ids():
            store.delete_cart(cart.cart_id)

    # --- checking ---------------------------------------------------------------------------

    def lost_webhooks(self, figures: LoadFigures) -> int:
        """Webhooks whose effect is not in their cart's state, plus the intake DLQ and refusals."""
        dynamodb = client(self.info, "dynamodb")
        table = self.info["table_name"]
        stored: dict[str, dict[str, Any]] = {}
        carts = list(self.expected.values())
        for start in range(0, len(carts), 100):
            keys = [
                {"pk": {"S": f"CART#{c.store.store_hash}#{c.cart_id}"}, "sk": {"S": "STATE"}}
                for c in carts[start : start + 100]
            ]
            request: dict[str, Any] = {table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                response = dynamodb.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(table, []):
                    stored[item["cart_id"]["S"]] = item
                request = response.get("UnprocessedKeys") or {}
        lost = sum(_missing(cart, stored.get(cart.cart_id)) for cart in carts)
        refused = figures.offered - figures.accepted
        return lost + queue_depth(self.info, self.info["intake_dlq_url"]) + refused

    def events(self) -> tuple[int, int]:
        """(events published, duplicates): ids with different data, transitions with two ids."""
        data_by_id: dict[str, set[str]] = defaultdict(set)
        ids_by_transition: dict[tuple[str, ...], set[str]] = defaultdict(set)
        published = 0
        for event in self._drain_events():
            published += 1
            data_by_id[event["id"]].add(json.dumps(event["data"], sort_keys=True))
            data = event["data"]
            transition: tuple[str, ...] = (event["subject"], event["type"])
            if event["type"] == "cartwatch.cart.abandoned":
                # One id per stage of one idle period (a cart revived and abandoned again is new).
                transition += (str(data["stage"]), str(data["last_activity_at"]))
            ids_by_transition[transition].add(event["id"])
        duplicates = sum(len(variants) - 1 for variants in data_by_id.values())
        duplicates += sum(len(ids) - 1 for ids in ids_by_transition.values())
        return published, duplicates

    def _drain_events(self) -> Iterator[dict[str, Any]]:
        sqs = client(self.info, "sqs")
        while True:
            messages = sqs.receive_message(
                QueueUrl=self._events_queue, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            if not messages:
                return
            for message in messages:
                yield json.loads(message["Body"])
            sqs.delete_message_batch(
                QueueUrl=self._events_queue,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )


def _expect(cart: _Cart, scope: str, created_at: int, webhook_id: str) -> None:
    cart.webhooks.add(webhook_id)
    # The lifecycle's creation time is the earliest of all its events.
    cart.created_at = created_at if cart.created_at is None else min(cart.created_at, created_at)
    if scope not in _ACTIVITY_FREE:
        cart.last_activity_at = max(cart.last_activity_at or 0, created_at)
    if scope in _CLOSING and cart.closed_by != "store/cart/converted":
        cart.closed_by = scope  # a purchase outranks a deletion


def _missing(cart: _Cart, item: dict[str, Any] | None) -> int:
    """How many of the cart's webhooks show nowhere in its stored state."""
    if item is None:
        return len(cart.webhooks)
    missing = 0
    if cart.created_at is not None and int(item["cart_created_at"]["N"]) != cart.created_at:
        missing += 1
    if cart.last_activity_at is not None and int(item["last_activity_at"]["N"]) != cart.last_activity_at:
        missing += 1
    status = item["status"]["S"]
    if cart.closed_by == "store/cart/converted" and status not in {"converted", "recovered"}:
        missing += 1
    if cart.closed_by == "store/cart/deleted" and status not in {"deleted", "converted", "recovered"}:
        missing += 1
    return missing
