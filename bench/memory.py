"""Warm memory growth: the processor, sweeper and publisher handlers, warm, over a long replay.

A Lambda container lives for hours and serves many thousands of invocations, and whatever
a handler keeps per request in its cached services grows until the container dies.  This
benchmark runs the three handlers of the state path the way Lambda runs them — each one
building its services through the composition root on its first request, from the same
environment variables the stack sets, and keeping them warm — over a replayed storefront
mix, and measures what the process holds on to.

Everything the handlers talk to runs in a *child process* (moto server, and a loopback
BigCommerce answering every cart, customer and order from the fixtures), so the growth
measured here is the handlers' own, not the emulator's table.  After a warm-up, Python's
``tracemalloc`` traces every allocation; what is still allocated at the end, after a full
collection, is the growth, scaled to 100,000 webhooks.

    python -m bench.memory --webhooks 100000

prints one JSON line per figure, like ``bench/run``.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import secrets
import sys
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from typing import Any

from tests.support import FakeLambdaContext, sqs_event

WEBHOOKS_PER_SHOPPER = 6.9  # the storefront mix's average (bench/storefront.py)
STAGES = "1m,3m,5m"  # short stages: every stage falls due well within the warm-up
STORE_HASH = "abc123"  # the loopback BigCommerce's store (tests/integration/bigcommerce)
BATCH = 100  # the stack's intake batch size
SWEEP_EVERY = 60  # simulated seconds between sweeps (the stack's schedule)
WARM_UP_SHARE = 0.2
START = 1_800_000_000


# --- the child process: AWS and BigCommerce ---------------------------------------------------


def _serve(connection: Any) -> None:
    """Child process: moto server and a BigCommerce that knows every cart, until told to stop."""
    from tests.integration.bigcommerce.fake_bigcommerce import FakeBigCommerce, load_fixture, serve

    from cartwatch_tools.local.moto_server import MotoServer

    class EveryCart(dict[str, Any]):
        """Every cart id has the fixture's guest checkout."""

        def get(self, key: str, default: Any = None) -> Any:
            return {**load_fixture("checkout_guest.json")["data"], "id": key}

    class EveryOrder(dict[int, Any]):
        def get(self, key: int, default: Any = None) -> Any:
            return {**load_fixture("order.json"), "id": key}

    class AnyStore(FakeBigCommerce):
        def __init__(self) -> None:
            super().__init__()
            self.checkouts = EveryCart()
            self.orders = EveryOrder()

        def answer(self, method: str, target: str, headers: dict[str, str], body: Any) -> Any:
            answered = super().answer(method, target, headers, body)
            self.requests.clear()  # a long replay must not fill the child with request logs
            return answered

    moto = MotoServer().start()
    bigcommerce = serve(AnyStore())
    fake = next(bigcommerce)
    connection.send((moto.endpoint_url, fake.url))
    connection.recv()  # the parent is done
    bigcommerce.close()
    moto.stop()


# --- the parent: the handlers, warm ---------------------------------------------------------------


def _environment(bigcommerce_url: str, resources: Any) -> dict[str, str]:
    from cartwatch.resources import RUNTIME_ENVIRONMENT
    from cartwatch.settings import ENV

    return {
        **RUNTIME_ENVIRONMENT,
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "Cartwatch",
        ENV.TABLE_NAME: resources.table_name,
        ENV.TOPIC_ARN: resources.topic_arn,
        ENV.PURGE_QUEUE_URL: resources.purge_queue_url,
        ENV.SSM_PREFIX: "/bench-memory",
        ENV.DEFAULT_STAGES: STAGES,
        ENV.BIGCOMMERCE_API_URL: bigcommerce_url,
    }


def _messages(shoppers: int) -> Iterator[tuple[float, str]]:
    """(replay second, intake message) of the storefront mix, in delivery order."""
    from bench.intake import _data
    from bench.storefront import storefront_mix
    from cartwatch.service.intake import Delivery, intake_message

    for delivery in storefront_mix(shoppers, start=START):
        body = json.dumps(
            {
                "scope": delivery.scope,
                "store_id": "1",
                "producer": f"stores/{STORE_HASH}",
                "created_at": delivery.created_at,
                "hash": delivery.webhook_id,
                "data": _data(delivery),
            }
        ).encode()
        delivered = Delivery(STORE_HASH, body, {"webhook-id": delivery.webhook_id})
        yield delivery.at, intake_message(delivered, delivery.scope, START + delivery.at)


def run_memory(webhooks: int) -> dict[str, float]:
    """Replay about ``webhooks`` webhooks; the growth after the warm-up, per 100k webhooks."""
    context = multiprocessing.get_context("spawn")
    parent_end, child_end = context.Pipe()
    child = context.Process(target=_serve, args=(child_end,), daemon=True)
    child.start()
    try:
        endpoint, bigcommerce_url = parent_end.recv()
        return _WarmHandlers(endpoint, bigcommerce_url).replay(webhooks)
    finally:
        parent_end.send("stop")
        child.join(timeout=30)
        if child.is_alive():
            child.terminate()


class _WarmHandlers:
    """The processor, sweeper and publisher handlers of one process, built as Lambda builds them."""

    def __init__(self, endpoint: str, bigcommerce_url: str) -> None:
        import boto3
        from tests.integration.bigcommerce.fake_bigcommerce import TOKEN

        from cartwatch_tools.local.moto_server import local_environment
        from cartwatch_tools.local.provision import provision

        os.environ.update(local_environment(endpoint))
        session = boto3.Session(region_name="us-east-1")
        resources = provision(session, endpoint, name="bench-memory")
        os.environ.update(_environment(bigcommerce_url, resources))
        _add_store(session, endpoint, resources, TOKEN)

        from cartwatch.handlers import processor, publisher, sweeper
        from cartwatch_tools.local.event_sources import DynamoDBStreamEventSource

        self._context = FakeLambdaContext
        self._processor, self._sweeper = processor.handler, sweeper.handler
        self._stream = DynamoDBStreamEventSource(
            session.client("dynamodbstreams", endpoint_url=endpoint),
            resources.stream_arn,
            lambda event: publisher.handler(event, FakeLambdaContext()),
        )

    def process(self, messages: Sequence[str]) -> None:
        if messages:
            self._processor(sqs_event(*messages), self._context())

    def sweep_and_publish(self, second: float) -> None:
        self._sweeper({}, self._context(), now=int(START + second))
        self._stream.drain(max_rounds=1000)

    def replay(self, webhooks: int) -> dict[str, float]:
        """Growth from the middle of the traced part to its end, per 100k webhooks.

        Tracing starts after the warm-up; the growth is read between two collected points of
        the traced part, halfway and at the end, so what a handler allocates once (a lazily
        imported module, a first model validation) is not mistaken for growth per webhook.
        """
        replay = list(_messages(max(1, round(webhooks / WEBHOOKS_PER_SHOPPER))))
        warm_up = int(len(replay) * WARM_UP_SHARE)
        halfway = (warm_up + len(replay)) // 2
        started = time.monotonic()
        next_sweep = SWEEP_EVERY
        batch: list[str] = []
        traced_at_halfway = 0
        for position, (at, message) in enumerate(replay):
            if position in (warm_up, halfway):
                self.process(batch)
                batch = []
                self.sweep_and_publish(at)
                gc.collect()
                if position == warm_up:
                    tracemalloc.start()
                else:
                    traced_at_halfway = tracemalloc.get_traced_memory()[0]
            batch.append(message)
            if len(batch) == BATCH:
                self.process(batch)
                batch = []
            while at >= next_sweep:
                self.sweep_and_publish(next_sweep)
                next_sweep += SWEEP_EVERY
        self.process(batch)
        self.sweep_and_publish(replay[-1][0] + 3600)  # every open cart past its last stage
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - traced_at_halfway
        for stat in tracemalloc.take_snapshot().statistics("filename")[:3]:
            print(f"bench.memory: {stat}", file=sys.stderr)
        tracemalloc.stop()
        measured = len(replay) - halfway
        return {
            "webhooks": float(len(replay)),
            "measured_webhooks": float(measured),
            "growth_mb_per_100k": grown / 2**20 * 100_000 / max(measured, 1),
            "seconds": time.monotonic() - started,
        }


def warm_memory_growth(webhooks: int) -> dict[str, float]:
    """``run_memory`` in a fresh interpreter: no other benchmark's caches, no shared heap."""
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "bench.memory", "--webhooks", str(webhooks)],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def _add_store(session: Any, endpoint: str, resources: Any, access_token: str) -> None:
    from cartwatch.adapters.store_registry import StoreWriter
    from cartwatch.domain.stages import StageSchedule
    from cartwatch.domain.store import StoreSettings

    StoreWriter(
        session.client("dynamodb", endpoint_url=endpoint),
        session.client("ssm", endpoint_url=endpoint),
        resources.table_name,
        "/bench-memory",
        credentials_table=resources.credentials_table_name,
    ).save(
        StoreSettings(STORE_HASH, StageSchedule.parse(STAGES)),
        access_token=access_token,
        client_secret=secrets.token_hex(16),
        webhook_token=secrets.token_hex(16),
        created_at=0,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory")
    parser.add_argument("--webhooks", type=int, default=100_000)
    args = parser.parse_args(argv)
    figures = run_memory(args.webhooks)
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
