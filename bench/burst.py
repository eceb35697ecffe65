"""A burst of webhook deliveries against `cartwatch local`, running as a process of its own.

Deliveries are offered open-loop at a fixed rate — request *i* is due at ``i / rate``
seconds, whether or not earlier ones were answered — over fresh connections, signed with
the store's client secret the way BigCommerce signs them.  The ack latency of a delivery
is measured from when it was due, so a server that falls behind shows it in the figure.

Every shopper's click is three webhooks (``created`` and ``lineItem/created`` at second
*t*, ``updated`` at *t* + 1), one cart per click.  After the burst the run waits until the
intake queue is empty and then checks every cart: created at *t*, last active at *t* + 1,
i.e. the first and the last webhook of each cart were applied; the intake DLQ must be empty.

The figures are measurements, not assertions: ``bench/run`` prints them.
"""

from __future__ import annotations

import http.client
import json
import secrets
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.support import signed_headers

from bench.acks import Acks
from bench.local_run import LocalProcess, client, queue_depth, store_writer, wait_for_intake
from cartwatch.domain.stages import StageSchedule
from cartwatch.domain.store import StoreSettings

STORE = "burststore"
WEBHOOKS_PER_CART = 3


@dataclass
class BurstFigures(Acks):
    rate: float
    seconds: float
    offered: int
    statuses: Counter[int] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    send_seconds: float = 0.0
    applied_carts: int = 0
    carts: int = 0
    drain_seconds: float = 0.0
    intake_dead_letters: int = 0
    # CPU seconds spent during the burst and its drain: by `cartwatch local` itself (gateway,
    # handlers, pollers, sandbox) and by its AWS emulator.  Unlike latencies they do not
    # depend on what else the machine is doing.
    cpu_local_seconds: float = 0.0
    cpu_emulator_seconds: float = 0.0

    def lines(self, metric: Any) -> list[dict[str, Any]]:
        end_to_end = self.send_seconds + self.drain_seconds
        per = max(self.accepted, 1)
        return [
            metric("burst_offered_webhooks_per_second", self.rate, "webhooks/s", ">= 200"),
            metric("burst_seconds", self.seconds, "s", None),
            metric(
                "burst_achieved_send_rate", self.offered / max(self.send_seconds, 1e-9), "webhooks/s", None
            ),
            *self.ack_lines("burst", metric),
            metric("burst_carts_applied", self.applied_carts, "carts", f"== {self.carts}"),
            metric("burst_intake_dead_letters", self.intake_dead_letters, "messages", "== 0"),
            metric("burst_drain_seconds_after_last_ack", self.drain_seconds, "s", None),
            metric(
                "burst_applied_webhooks_per_second",
                self.accepted / max(end_to_end, 1e-9),
                "webhooks/s",
                ">= 100",
            ),
            metric("burst_cpu_ms_per_webhook_local", 1000 * self.cpu_local_seconds / per, "ms", None),
            metric("burst_cpu_ms_per_webhook_emulator", 1000 * self.cpu_emulator_seconds / per, "ms", None),
            # What two cores could carry if nothing else ran: the ceiling the figures above
            # approach on an idle machine.
            metric(
                "burst_cpu_bound_webhooks_per_second_2_cores",
                2 * per / max(self.cpu_local_seconds + self.cpu_emulator_seconds, 1e-9),
                "webhooks/s",
                None,
            ),
        ]


@dataclass(frozen=True)
class _Shot:
    index: int
    body: bytes
    headers: dict[str, str]


def run_burst(rate: float, seconds: float, *, drain_timeout: float = 300.0) -> BurstFigures:
    """Start `cartwatch local`, offer ``rate`` webhooks/s for ``seconds`` to one store, measure."""
    with tempfile.TemporaryDirectory(prefix="cartwatch-burst-") as workdir:
        token, secret = secrets.token_hex(12), secrets.token_hex(12)
        local = LocalProcess(Path(workdir), ["--sandbox-store", f"{STORE}:{token}:{secret}"])
        try:
            info = local.start()
            client_secret = _onboard(info)
            shots, expected = _deliveries(rate, seconds, client_secret)
            figures = BurstFigures(rate=rate, seconds=seconds, offered=len(shots), carts=len(expected))
            cpu_before = local.cpu_seconds()
            started = time.perf_counter()
            _offer(urlsplit(info["webhook_base_url"]), shots, rate, figures)
            figures.send_seconds = time.perf_counter() - started
            drained = time.perf_counter()
            wait_for_intake(info, drain_timeout)
            figures.applied_carts = _applied(info, expected)
            figures.drain_seconds = time.perf_counter() - drained
            cpu_after = local.cpu_seconds()
            figures.cpu_local_seconds = cpu_after[0] - cpu_before[0]
            figures.cpu_emulator_seconds = cpu_after[1] - cpu_before[1]
            figures.intake_dead_letters = queue_depth(info, info["intake_dlq_url"])
            return figures
        finally:
            local.stop()


def _onboard(info: dict[str, Any]) -> str:
    """The store's settings and secrets, written as `stores add --local` writes them."""
    client_secret = secrets.token_hex(16)
    store_writer(info).save(
        StoreSettings(STORE, StageSchedule.parse("1h,24h,48h")),
        access_token=secrets.token_hex(16),
        client_secret=client_secret,
        webhook_token=secrets.token_urlsafe(16),
        created_at=int(time.time()),
    )
    return client_secret


def _deliveries(
    rate: float, seconds: float, client_secret: str
) -> tuple[list[_Shot], dict[str, tuple[int, int]]]:
    total = int(rate * seconds)
    start = int(time.time()) - 3600
    shots: list[_Shot] = []
    expected: dict[str, tuple[int, int]] = {}
    for index in range(total):
        cart_number, step = divmod(index, WEBHOOKS_PER_CART)
        cart = str(uuid.UUID(int=cart_number + 1))
        clicked = start + cart_number
        scope, data, at = [
            ("store/cart/created", {"type": "cart", "id": cart}, clicked),
            (
                "store/cart/lineItem/created",
                {"type": "cart_line_item", "id": f"{cart}-1", "cartId": cart},
                clicked,
            ),
            ("store/cart/updated", {"type": "cart", "id": cart}, clicked + 1),
        ][step]
        payload = {
            "scope": scope,
            "store_id": "1025646",
            "data": data,
            "hash": uuid.uuid4().hex,
            "created_at": at,
            "producer": f"stores/{STORE}",
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        shots.append(_Shot(index, body, signed_headers(client_secret, body)))
        first, _ = expected.get(cart, (at, at))
        expected[cart] = (min(first, at), at)
    return shots, expected


def _offer(base: Any, shots: list[_Shot], rate: float, figures: BurstFigures) -> None:
    path = f"{base.path}/{STORE}"
    lock = threading.Lock()

    def send(shot: _Shot, due: float) -> None:
        status = 0
        try:
            connection = http.client.HTTPConnection(base.hostname, base.port, timeout=60)
            connection.request("POST", path, body=shot.body, headers=shot.headers)
            response = connection.getresponse()
            response.read()
            status = response.status
            connection.close()
        except OSError:
            status = 0  # no answer at all: as bad as a 5xx for BigCommerce
        latency = (time.perf_counter() - due) * 1000
        with lock:
            figures.statuses[status] += 1
            figures.latencies_ms.append(latency)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=64, thread_name_prefix="burst") as pool:
        for shot in shots:
            due = started + shot.index / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            pool.submit(send, shot, due)


def _applied(info: dict[str, Any], expected: dict[str, tuple[int, int]]) -> int:
    """How many carts show exactly what their webhooks said: created at t, last active at t + 1."""
    dynamodb = client(info, "dynamodb")
    carts = list(expected)
    applied = 0
    for start in range(0, len(carts), 100):
        keys = [
            {"pk": {"S": f"CART#{STORE}#{cart}"}, "sk": {"S": "STATE"}} for cart in carts[start : start + 100]
        ]
        request = {info["table_name"]: {"Keys": keys, "ConsistentRead": True}}
        while request:
            response = dynamodb.batch_get_item(RequestItems=request)
            for item in response["Responses"].get(info["table_name"], []):
                cart = item["cart_id"]["S"]
                seen = (int(item["cart_created_at"]["N"]), int(item["last_activity_at"]["N"]))
                applied += seen == expected[cart]
            request = response.get("UnprocessedKeys") or {}
    return applied
