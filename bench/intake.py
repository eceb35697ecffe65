"""Replay a storefront mix through the receiver and the processor against moto server."""

from __future__ import annotations

import json
import math
import secrets
from dataclasses import dataclass
from typing import Any

import boto3
from tests.support import FakeLambdaContext, http_api_event, signed_headers

from bench.cost import RATIO_BUDGET, IntakeCost
from bench.counting import CallCounter, WriteUnits
from bench.storefront import storefront_mix
from cartwatch.adapters.store_registry import StoreWriter
from cartwatch.composition import AwsClients, Composition
from cartwatch.domain.stages import StageSchedule
from cartwatch.domain.store import StoreSettings
from cartwatch.handlers import processor as processor_handler
from cartwatch.handlers import receiver
from cartwatch.settings import Settings
from cartwatch_tools.local.event_sources import SqsEventSource
from cartwatch_tools.local.provision import provision

BATCH_SIZE = 100  # the stack's default intake batch size
BATCH_WINDOW_SECONDS = 5.0  # …and batching window
_CLOSING = frozenset({"store/cart/converted", "store/cart/deleted"})


@dataclass
class IntakeFigures:
    webhooks: int
    ack_calls: int
    ack_rejections: int
    table_write_units: int
    index_write_units: int
    carts_written: int
    bigcommerce_calls: int
    batches: int
    read_units: float
    carts: int
    closed_carts: int

    @property
    def write_units_per_webhook(self) -> float:
        return (self.table_write_units + self.index_write_units) / max(self.webhooks, 1)

    @property
    def floor_write_units(self) -> int:
        # What no design that tracks every cart exactly can go below: a cart's first write
        # and its closing write, each entering or leaving the due index (one table unit and
        # one index unit apiece).  Every click between those costs more.
        return 2 * (self.carts + self.closed_carts)

    def cost(self, receiver_cpu_ms: float, processor_cpu_ms: float) -> IntakeCost:
        return IntakeCost(
            webhooks=self.webhooks,
            # At the design's peak every batch is full: 1,000 webhooks/s fill a batch of 100
            # in a tenth of the 5 s window.  The replay's own batches are paced by one store's
            # storefront (processor_batches_per_webhook) and say nothing of a million at peak.
            batches=math.ceil(self.webhooks / BATCH_SIZE),
            write_units=self.table_write_units + self.index_write_units,
            write_calls=self.carts_written,
            read_units=self.read_units,
            floor_write_units=self.floor_write_units,
            floor_write_calls=self.carts + self.closed_carts,
            receiver_cpu_ms=receiver_cpu_ms,
            processor_cpu_ms=processor_cpu_ms,
        )

    def lines(self) -> list[dict[str, Any]]:
        per = max(self.webhooks, 1)
        return [
            metric("ack_aws_calls_per_webhook", self.ack_calls / per, "calls", "== 1"),
            # The budget of issue 14, item 9: exact abandonment, no regression on the mix.
            metric("ddb_write_units_per_webhook", self.write_units_per_webhook, "WCU", "<= 0.66"),
            metric("ddb_table_write_units_per_webhook", self.table_write_units / per, "WCU", None),
            metric("ddb_index_write_units_per_webhook", self.index_write_units / per, "WCU", None),
            metric("ddb_write_units_floor_per_webhook", self.floor_write_units / per, "WCU", None),
            metric("bigcommerce_calls_per_webhook", self.bigcommerce_calls / per, "calls", "== 0"),
            metric("webhooks_replayed", self.webhooks, "webhooks", None),
            metric("processor_batches_per_webhook", self.batches / per, "invocations", None),
        ]

    def cost_lines(self, receiver_cpu_ms: float, processor_cpu_ms: float) -> list[dict[str, Any]]:
        cost = self.cost(receiver_cpu_ms, processor_cpu_ms)
        return [
            *[
                metric(f"cost_usd_per_million_webhooks_{part}", dollars, "USD", None)
                for part, dollars in cost.per_million().items()
            ],
            metric("cost_usd_per_million_webhooks_floor", cost.floor(), "USD", None),
            metric("cost_ratio_to_floor", cost.ratio(), "x floor", f"<= {RATIO_BUDGET:g}"),
        ]


def metric(name: str, value: float, unit: str, budget: str | None) -> dict[str, Any]:
    return {"metric": name, "value": round(value, 4), "unit": unit, "budget": budget}


def run_intake(endpoint: str, shoppers: int = 300) -> IntakeFigures:
    session = boto3.Session(region_name="us-east-1")
    resources = provision(session, endpoint, name="bench-intake")
    prefix = "/bench"
    store_hash, client_secret = "benchstore", secrets.token_hex(16)
    dynamodb, ssm = (
        session.client("dynamodb", endpoint_url=endpoint),
        session.client("ssm", endpoint_url=endpoint),
    )
    StoreWriter(
        dynamodb, ssm, resources.table_name, prefix, credentials_table=resources.credentials_table_name
    ).save(
        StoreSettings(store_hash, StageSchedule.parse("1h,24h,48h")),
        access_token=secrets.token_hex(16),
        client_secret=client_secret,
        webhook_token=secrets.token_urlsafe(16),
        created_at=0,
    )

    # Each function as the composition root builds it, its calls counted on its own clients.
    settings = Settings(
        table_name=resources.table_name,
        ssm_prefix=prefix,
        intake_queue_url=resources.intake_queue_url,
        purge_queue_url=resources.purge_queue_url,
        credentials_table_name=resources.credentials_table_name,
    )
    ack_counter = CallCounter()
    receiver_function = Composition(
        "receiver", settings, AwsClients(endpoint_url=endpoint, event_handlers=ack_counter.handlers)
    )
    processor_counter = CallCounter()
    units = WriteUnits(reader=dynamodb)
    processor_function = Composition(
        "processor",
        settings,
        AwsClients(endpoint_url=endpoint, event_handlers=[*processor_counter.handlers, *units.handlers]),
    )
    processor = processor_function.cart_processor
    batches = 0

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        nonlocal batches
        batches += 1
        response: dict[str, Any] = processor_handler.handler(event, FakeLambdaContext(), processor=processor)
        return response

    source = SqsEventSource(
        session.client("sqs", endpoint_url=endpoint),
        resources.intake_queue_url,
        invoke,
        batch_size=BATCH_SIZE,
    )

    deliveries = storefront_mix(shoppers, start=1_800_000_000)
    rejected = 0
    window_end = BATCH_WINDOW_SECONDS
    for delivery in deliveries:
        while delivery.at >= window_end:  # the batching window closed: Lambda gets a batch
            source.drain()
            window_end += BATCH_WINDOW_SECONDS
        body = json.dumps(
            {
                "scope": delivery.scope,
                "store_id": "1",
                "producer": f"stores/{store_hash}",
                "created_at": delivery.created_at,
                "hash": secrets.token_hex(20),
                "data": _data(delivery),
            }
        ).encode()
        headers = signed_headers(client_secret, body, msg_id=delivery.webhook_id)
        response = receiver.handler(
            http_api_event(store_hash, body, headers),
            FakeLambdaContext(),
            intake=receiver_function.webhook_intake,
        )
        rejected += response["statusCode"] != 200
    source.drain()

    return IntakeFigures(
        webhooks=len(deliveries),
        ack_calls=ack_counter.total,
        ack_rejections=rejected,
        table_write_units=units.table_units,
        index_write_units=units.index_units,
        carts_written=len(units.writes),
        bigcommerce_calls=0,  # the processor holds no BigCommerce client at all
        batches=batches,
        read_units=processor_counter.read_units,
        carts=len({d.cart_id for d in deliveries}),
        closed_carts=len({d.cart_id for d in deliveries if d.scope in _CLOSING}),
    )


def _data(delivery: Any) -> dict[str, Any]:
    if delivery.scope.startswith("store/cart/lineItem/"):
        return {"type": "cart_line_item", "id": delivery.data["item_id"], "cartId": delivery.cart_id}
    return {"type": "cart", "id": delivery.cart_id, **delivery.data}
