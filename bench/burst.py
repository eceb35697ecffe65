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
import os
import secrets
import signal
import statistics
import subprocess
import sys
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

import boto3
from tests.support import signed_headers

from cartwatch.adapters.store_registry import StoreWriter
from cartwatch.domain.stages import StageSchedule
from cartwatch.domain.store import StoreSettings

STORE = "burststore"
WEBHOOKS_PER_CART = 3


@dataclass
class BurstFigures:
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

    @property
    def accepted(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500 or status == 0)

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def lines(self, metric: Any) -> list[dict[str, Any]]:
        end_to_end = self.send_seconds + self.drain_seconds
        per = max(self.accepted, 1)
        return [
            metric("burst_offered_webhooks_per_second", self.rate, "webhooks/s", ">= 200"),
            metric("burst_seconds", self.seconds, "s", None),
            metric(
                "burst_achieved_send_rate", self.offered / max(self.send_seconds, 1e-9), "webhooks/s", None
            ),
            metric("burst_ack_p50_ms", self.percentile(0.50), "ms", None),
            metric("burst_ack_p99_ms", self.percentile(0.99), "ms", None),
            metric(
                "burst_ack_mean_ms",
                statistics.fmean(self.latencies_ms) if self.latencies_ms else 0,
                "ms",
                None,
            ),
            metric("burst_5xx", self.server_errors, "responses", "== 0"),
            metric("burst_accepted", self.accepted, "webhooks", f"== {self.offered}"),
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
        local = _LocalProcess(Path(workdir))
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
            _wait_for_intake(info, drain_timeout)
            figures.applied_carts = _applied(info, expected)
            figures.drain_seconds = time.perf_counter() - drained
            cpu_after = local.cpu_seconds()
            figures.cpu_local_seconds = cpu_after[0] - cpu_before[0]
            figures.cpu_emulator_seconds = cpu_after[1] - cpu_before[1]
            figures.intake_dead_letters = _queue_depth(info, info["intake_dlq_url"])
            return figures
        finally:
            local.stop()


class _LocalProcess:
    """`cartwatch local --port 0` in a child process, quiet, stopped with Ctrl-C (SIGINT)."""

    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        self._info_file = workdir / "local.json"
        self._process: subprocess.Popen[bytes] | None = None
        self._log = workdir / "local.log"

    def start(self) -> dict[str, Any]:
        cartwatch = str(Path(sys.executable).with_name("cartwatch"))
        token, secret = secrets.token_hex(12), secrets.token_hex(12)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT")}
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    cartwatch,
                    "local",
                    "--port",
                    "0",
                    "--sweep-every",
                    "1s",
                    "--info-file",
                    str(self._info_file),
                    "--sandbox-store",
                    f"{STORE}:{token}:{secret}",
                ],
                cwd=self._workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + 90
        while not self._info_file.exists():
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"cartwatch local did not start:\n{self._log.read_text()[-4000:]}")
            time.sleep(0.1)
        info: dict[str, Any] = json.loads(self._info_file.read_text())
        return info

    def cpu_seconds(self) -> tuple[float, float]:
        """(CPU seconds of `cartwatch local`, of all its child processes) so far (Linux /proc)."""
        if self._process is None:
            return 0.0, 0.0
        own = _process_cpu(self._process.pid)
        return own, sum(_process_cpu(child) for child in _descendants(self._process.pid))

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.send_signal(signal.SIGINT)
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def _process_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # utime and stime: fields 14 and 15 of proc(5), counted from the state (field 3).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
        for child in children:
            found += [child, *_descendants(child)]
    return found


def _session(info: dict[str, Any]) -> boto3.Session:
    return boto3.Session(
        aws_access_key_id=info["aws_access_key_id"],
        aws_secret_access_key=info["aws_secret_access_key"],
        region_name=info["region"],
    )


def _client(info: dict[str, Any], service: str) -> Any:
    return _session(info).client(service, endpoint_url=info["aws_endpoint_url"])  # type: ignore[call-overload]


def _onboard(info: dict[str, Any]) -> str:
    """The store's settings and secrets, written as `stores add --local` writes them."""
    client_secret = secrets.token_hex(16)
    StoreWriter(_client(info, "dynamodb"), _client(info, "ssm"), info["table_name"], info["ssm_prefix"]).save(
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


def _queue_depth(info: dict[str, Any], queue_url: str) -> int:
    attributes = _client(info, "sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def _wait_for_intake(info: dict[str, Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _queue_depth(info, info["intake_queue_url"]) and time.monotonic() < deadline:
        time.sleep(0.2)


def _applied(info: dict[str, Any], expected: dict[str, tuple[int, int]]) -> int:
    """How many carts show exactly what their webhooks said: created at t, last active at t + 1."""
    dynamodb = _client(info, "dynamodb")
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
