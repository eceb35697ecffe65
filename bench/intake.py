"""Replay a storefront mix through the receiver and the processor against moto server.

The figure tally reads the same writes from the table's stream, its tumbling windows closed
every ``TALLY_WINDOW_SECONDS`` of the replay's time, as Lambda closes them: its counter
writes are part of the write units per webhook, and printed on their own.
"""

from __future__ import annotations

import json
import math
import secrets
from dataclasses import dataclass
from typing import Any

import boto3
from tests.support import FakeLambdaContext, http_api_event, signed_headers

from bench.cost import PRICES, RATIO_BUDGET, IntakeCost
from bench.counting import CallCounter, WriteUnits
from bench.storefront import storefront_mix
from cartwatch.adapters.store_registry import StoreWriter
from cartwatch.composition import AwsClients, Composition
from cartwatch.domain.stages import StageSchedule
from cartwatch.domain.store import StoreSettings
from cartwatch.handlers import figure_tally as tally_handler
from cartwatch.handlers import processor as processor_handler
from cartwatch.handlers import receiver
from cartwatch.resources import FIGURE_TALLY_STREAM, FIGURE_TALLY_STREAM_FILTER
from cartwatch.settings import Settings
from cartwatch_tools.local.event_sources import DynamoDBStreamEventSource, SqsEventSource
from cartwatch_tools.local.provision import provision

BATCH_SIZE = 100  # the stack's default intake batch size
BATCH_WINDOW_SECONDS = 5.0  # …and batching window
TALLY_WINDOW_SECONDS = FIGURE_TALLY_STREAM.tumbling_window_seconds or 900
_CLOSING = frozenset({"store/cart/converted", "store/cart/deleted"})


@dataclass
class IntakeFigures:
    webhooks: int
    ack_calls: int
    ack_rejections: int
    table_write_units: int
    index_write_units: int
    figure_write_units: int  # the figure tally's counter writes (table units; figures are not indexed)
    carts_written: int
    bigcommerce_calls: int
    batches: int
    read_units: float
    carts: int
    closed_carts: int

    variant: str = ""  # a suffix for the figures of a variant run (``_list_active``)

    @property
    def write_units(self) -> int:
        """Table and index units of the processor's writes, and the figure tally's."""
        return self.table_write_units + self.index_write_units + self.figure_write_units

    @property
    def write_units_per_webhook(self) -> float:
        return self.write_units / max(self.webhooks, 1)

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
            # The ingest path the floor is drawn for: the processor's writes.  The figure
            # tally's counters are off that path (decision 57), priced apart in cost_lines.
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
        if self.variant:
            # A variant prints only what it changes: the write units, all and the index's.
            return [
                metric(f"ddb_write_units_per_webhook{self.variant}", self.write_units / per, "WCU", None),
                metric(
                    f"ddb_index_write_units_per_webhook{self.variant}",
                    self.index_write_units / per,
                    "WCU",
                    None,
                ),
            ]
        return [
            metric("ack_aws_calls_per_webhook", self.ack_calls / per, "calls", "== 1"),
            # The budget of issue 14, item 9: exact abandonment, no regression on the mix.
            metric("ddb_write_units_per_webhook", self.write_units_per_webhook, "WCU", "<= 0.66"),
            metric("ddb_table_write_units_per_webhook", self.table_write_units / per, "WCU", None),
            metric("ddb_index_write_units_per_webhook", self.index_write_units / per, "WCU", None),
            # The stats' share: the figure tally's writes, one per store and day per window.
            metric("ddb_stats_write_units_per_webhook", self.figure_write_units / per, "WCU", None),
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
            metric(
                "cost_usd_per_million_webhooks_stats_tally",
                self.figure_write_units / max(self.webhooks, 1) * 1e6 * PRICES["ddb_write_request_unit"],
                "USD",
                None,
            ),
            metric("cost_usd_per_million_webhooks_floor", cost.floor(), "USD", None),
            metric("cost_ratio_to_floor", cost.ratio(), "x floor", f"<= {RATIO_BUDGET:g}"),
        ]


def metric(name: str, value: float, unit: str, budget: str | None) -> dict[str, Any]:
    return {"metric": name, "value": round(value, 4), "unit": unit, "budget": budget}


def run_intake(endpoint: str, shoppers: int = 300, *, list_active: bool = False) -> IntakeFigures:
    """``list_active``: the store lists its active carts (``stores add --list-active``)."""
    session = boto3.Session(region_name="us-east-1")
    resources = provision(
        session, endpoint, name="bench-intake-list-active" if list_active else "bench-intake"
    )
    prefix = "/bench"
    store_hash, client_secret = "benchstore", secrets.token_hex(16)
    dynamodb, ssm = (
        session.client("dynamodb", endpoint_url=endpoint),
        session.client("ssm", endpoint_url=endpoint),
    )
    StoreWriter(
        dynamodb, ssm, resources.table_name, prefix, credentials_table=resources.credentials_table_name
    ).save(
        StoreSettings(store_hash, StageSchedule.parse("1h,24h,48h"), list_active=list_active),
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
    figure_units = WriteUnits(reader=dynamodb)
    tally = Composition(
        "figure_tally", settings, AwsClients(endpoint_url=endpoint, event_handlers=figure_units.handlers)
    ).figure_tally
    figures = DynamoDBStreamEventSource(
        session.client("dynamodbstreams", endpoint_url=endpoint),
        resources.stream_arn,
        lambda event: tally_handler.handler(event, FakeLambdaContext(), tally=tally),
        settings=FIGURE_TALLY_STREAM,
        filter_pattern=FIGURE_TALLY_STREAM_FILTER,
    )

    def close_tally_window() -> None:
        figures.drain()
        figures.close_windows()
        figures.drain()

    deliveries = storefront_mix(shoppers, start=1_800_000_000)
    rejected = 0
    window_end = BATCH_WINDOW_SECONDS
    tally_end = TALLY_WINDOW_SECONDS
    for delivery in deliveries:
        while delivery.at >= window_end:  # the batching window closed: Lambda gets a batch
            source.drain()
            window_end += BATCH_WINDOW_SECONDS
        while delivery.at >= tally_end:  # the tally's window closed: its figures are added
            close_tally_window()
            tally_end += TALLY_WINDOW_SECONDS
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
    close_tally_window()

    return IntakeFigures(
        webhooks=len(deliveries),
        ack_calls=ack_counter.total,
        ack_rejections=rejected,
        table_write_units=units.table_units,
        index_write_units=units.index_units,
        figure_write_units=figure_units.table_units,
        carts_written=len(units.writes),
        bigcommerce_calls=0,  # the processor holds no BigCommerce client at all
        batches=batches,
        read_units=processor_counter.read_units,
        carts=len({d.cart_id for d in deliveries}),
        closed_carts=len({d.cart_id for d in deliveries if d.scope in _CLOSING}),
        variant="_list_active" if list_active else "",
    )


def _data(delivery: Any) -> dict[str, Any]:
    if delivery.scope.startswith("store/cart/lineItem/"):
        return {"type": "cart_line_item", "id": delivery.data["item_id"], "cartId": delivery.cart_id}
    return {"type": "cart", "id": delivery.cart_id, **delivery.data}
