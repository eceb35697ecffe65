"""Webhook delivery the way BigCommerce does it: at least once, signed, retried, then given up.

One worker thread sends from an ordered queue.  A delivery succeeds only on a 2xx (redirects are
not followed: a 3xx is a failure); failures and timeouts are retried on BigCommerce's schedule
(scaled by ``time_scale``) and, after the last retry, the hook is deactivated.  Every attempt is
signed afresh with Standard Webhooks headers keyed by base64 of the API account's client secret;
``webhook-id`` stays the same across the retries and duplicates of one delivery.

Chaos knobs, drawn from one seeded ``random.Random`` when events are queued (so a given seed and
sequence of actions always gives the same deliveries): ``duplicate_rate`` sends some deliveries
twice, ``reorder`` shuffles deliveries within small windows.
"""

from __future__ import annotations

import base64
import heapq
import itertools
import json
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import requests
from standardwebhooks import Webhook

from cartwatch_tools.sandbox.hooks import Hook, HookRegistry
from cartwatch_tools.sandbox.ids import IdFactory

logger = logging.getLogger(__name__)

# Seconds between attempts after each failure (docs/integrations/webhooks/overview.mdx): about 48 h.
RETRY_SCHEDULE_S = (60, 180, 300, 600, 900, 1800, 3600, 7200, 21600, 50400, 86400)
REORDER_WINDOW = 4

# (url, body, headers, timeout seconds) -> HTTP status; raises OSError/RequestException when no answer.
Sender = Callable[[str, str, Mapping[str, str], float], int]


def signing_key(client_secret: str) -> str:
    """BigCommerce's documented verifier key: ``Webhook(base64(client_secret))``."""
    return base64.b64encode(client_secret.encode()).decode()


@dataclass(frozen=True)
class Target:
    """Where one event goes: a hook, its owner's secret, and the registry that can deactivate it."""

    hook: Hook
    client_secret: str = field(repr=False)
    registry: HookRegistry = field(repr=False)


@dataclass
class _Delivery:
    webhook_id: str
    target: Target
    payload: Mapping[str, Any]
    body: str
    duplicate: bool = False
    attempts: int = 0


@dataclass(frozen=True)
class DeliveryRecord:
    """One attempt, for tests and ``cartwatch local`` to inspect.  Holds no headers (they carry secrets)."""

    webhook_id: str
    hook_id: int
    destination: str
    scope: str
    payload: Mapping[str, Any]
    attempt: int  # 1 for the first try
    status: int | None  # None when there was no HTTP answer
    error: str | None
    duplicate: bool
    sent_at: float

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def http_sender(session: requests.Session) -> Sender:
    def send(url: str, body: str, headers: Mapping[str, str], timeout: float) -> int:
        response = session.post(
            url, data=body.encode(), headers=dict(headers), timeout=timeout, allow_redirects=False
        )
        response.close()
        return response.status_code

    return send


class WebhookDispatcher:
    def __init__(
        self,
        *,
        time_scale: float = 1.0,
        duplicate_rate: float = 0.0,
        reorder: bool = False,
        seed: int | None = None,
        timeout: float = 5.0,
        send: Sender | None = None,
    ) -> None:
        if time_scale < 0 or not 0.0 <= duplicate_rate <= 1.0:
            raise ValueError("time_scale must be >= 0 and duplicate_rate within [0, 1]")
        self.time_scale = time_scale
        self.duplicate_rate = duplicate_rate
        self.reorder = reorder
        self.timeout = timeout
        self._rng = random.Random(seed)  # noqa: S311 - reproducible chaos, not secrecy
        self._ids = IdFactory(f"{seed}:webhooks" if seed is not None else None)
        self._session: requests.Session | None = None
        if send is None:
            self._session = requests.Session()
            # Deliveries go to the address registered, never through a proxy from the environment.
            self._session.trust_env = False
            send = http_sender(self._session)
        self._send = send
        self._cond = threading.Condition()
        self._pending: deque[_Delivery] = deque()
        self._retries: list[tuple[float, int, _Delivery]] = []
        self._retry_seq = itertools.count()
        self._in_flight = 0
        self._records: list[DeliveryRecord] = []
        self._stopping = False
        self._worker: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._worker is not None:
            return
        self._worker = threading.Thread(target=self._run, name="bigcommerce-sandbox-webhooks", daemon=True)
        self._worker.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop sending; whatever is still queued or waiting for a retry is dropped."""
        with self._cond:
            self._stopping = True
            self._pending.clear()
            self._retries.clear()
            self._cond.notify_all()
        if self._worker is not None:
            self._worker.join(timeout)
            self._worker = None
        if self._session is not None:
            self._session.close()

    # -- queueing --------------------------------------------------------------------------

    def enqueue(self, events: Sequence[tuple[Mapping[str, Any], Target]]) -> None:
        """Queue one action's deliveries, in order; the chaos knobs apply within the batch."""
        with self._cond:
            if self._stopping:
                return
            batch: list[_Delivery] = []
            for payload, target in events:
                body = json.dumps(payload, separators=(",", ":"))
                delivery = _Delivery(self._ids.message_id(), target, payload, body)
                batch.append(delivery)
                if self.duplicate_rate and self._rng.random() < self.duplicate_rate:
                    batch.append(replace(delivery, duplicate=True))
            if self.reorder:
                for start in range(0, len(batch), REORDER_WINDOW):
                    window = batch[start : start + REORDER_WINDOW]
                    self._rng.shuffle(window)
                    batch[start : start + REORDER_WINDOW] = window
            self._pending.extend(batch)
            self._cond.notify_all()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """True once nothing is queued, in flight or waiting for a retry; False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: not self._pending and not self._retries and self._in_flight == 0, timeout
            )

    @property
    def deliveries(self) -> list[DeliveryRecord]:
        with self._cond:
            return list(self._records)

    def clear_log(self) -> None:
        with self._cond:
            self._records.clear()

    # -- the worker ------------------------------------------------------------------------

    def _next_ready(self) -> _Delivery | None:
        if self._retries and self._retries[0][0] <= time.monotonic():
            return heapq.heappop(self._retries)[2]
        if self._pending:
            return self._pending.popleft()
        return None

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopping:
                        return
                    delivery = self._next_ready()
                    if delivery is not None:
                        self._in_flight += 1
                        break
                    wait = self._retries[0][0] - time.monotonic() if self._retries else None
                    self._cond.wait(wait)
            try:
                self._attempt(delivery)
            finally:
                with self._cond:
                    self._in_flight -= 1
                    self._cond.notify_all()

    def _attempt(self, delivery: _Delivery) -> None:
        hook = delivery.target.hook
        if not delivery.target.registry.is_active(hook.id):
            # Deleted, switched off or deactivated since the event fired: BigCommerce stops sending.
            logger.debug("dropping %s for inactive hook %s", delivery.payload.get("scope"), hook.id)
            return
        delivery.attempts += 1
        status, error = self._post(delivery)
        record = DeliveryRecord(
            webhook_id=delivery.webhook_id,
            hook_id=hook.id,
            destination=hook.destination,
            scope=str(delivery.payload.get("scope")),
            payload=delivery.payload,
            attempt=delivery.attempts,
            status=status,
            error=error,
            duplicate=delivery.duplicate,
            sent_at=time.time(),
        )
        logger.debug(
            "webhook %s to hook %s attempt %d: %s", record.scope, hook.id, record.attempt, status or error
        )
        with self._cond:
            self._records.append(record)
            if record.ok:
                return
            if delivery.attempts <= len(RETRY_SCHEDULE_S):
                due = time.monotonic() + RETRY_SCHEDULE_S[delivery.attempts - 1] * self.time_scale
                heapq.heappush(self._retries, (due, next(self._retry_seq), delivery))
                return
        logger.info("hook %s deactivated after %d failed attempts", hook.id, delivery.attempts)
        delivery.target.registry.deactivate(hook.id)

    def _post(self, delivery: _Delivery) -> tuple[int | None, str | None]:
        hook = delivery.target.hook
        now = datetime.now(UTC)
        signature = Webhook(signing_key(delivery.target.client_secret)).sign(
            delivery.webhook_id, now, delivery.body
        )
        headers = {
            **(hook.headers or {}),
            "Content-Type": "application/json",
            "webhook-id": delivery.webhook_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature,
        }
        try:
            return self._send(hook.destination, delivery.body, headers, self.timeout), None
        except (requests.RequestException, OSError) as exc:
            return None, type(exc).__name__
