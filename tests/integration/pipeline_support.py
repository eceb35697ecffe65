"""A whole pipeline for integration tests: sandbox store → gateway → … → SNS → consumer SQS."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import requests
from tests.support import signed_headers, subscribed_queue, unique_name

from cartwatch.adapters.bigcommerce import BigCommerceClient
from cartwatch.adapters.cart_table.store import DynamoCartStore
from cartwatch.composition import EventHandler
from cartwatch.domain.cart_record import CartRecord, Tombstone
from cartwatch.domain.eligibility import EligibilityRules
from cartwatch.domain.stages import ChannelStages, StageSchedule
from cartwatch.domain.store import StoreSettings
from cartwatch.service.store_hooks import hook_destination, reconcile_hooks
from cartwatch_tools.local.pipeline import LocalPipeline
from cartwatch_tools.sandbox import BigCommerceSandbox
from cartwatch_tools.sandbox.delivery import DeliveryRecord

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@dataclass
class World:
    sandbox: BigCommerceSandbox
    pipeline: LocalPipeline
    store_hash: str
    shop: Any  # the sandbox Store
    webhook_token: str
    client_secret: str = ""
    queues: dict[str, str] = field(default_factory=dict)

    def stored(self, cart_id: str) -> CartRecord | Tombstone | None:
        """The cart as the table holds it now (read outside every function)."""
        carts = DynamoCartStore(self.pipeline.client("dynamodb"), self.pipeline.resources.table_name)
        return carts.load(self.store_hash, cart_id)

    def deliver(self) -> None:
        """Let the sandbox deliver everything it fired, then let the pipeline take it in."""
        assert self.sandbox.wait_idle(10.0)
        self.pipeline.process_intake()

    def post(self, body: bytes, headers: dict[str, str]) -> int:
        """A delivery to the local gateway, as BigCommerce makes it (over HTTP)."""
        url = f"{self.pipeline.gateway.url}/webhooks/bigcommerce/{self.store_hash}"
        return requests.post(url, data=body, headers=headers, timeout=10).status_code

    def redeliver(self, record: DeliveryRecord) -> int:
        """One of the sandbox's deliveries again: same webhook-id, same body, signed anew
        (BigCommerce signs every attempt with that attempt's timestamp)."""
        body = json.dumps(record.payload, separators=(",", ":")).encode()
        return self.post(body, signed_headers(self.client_secret, body, msg_id=record.webhook_id))

    def consumer_queue(self, *event_types: str) -> str:
        """An SQS queue subscribed to the topic with a filter policy on ``type``."""
        return subscribed_queue(
            self.pipeline.client("sqs"),
            self.pipeline.client("sns"),
            self.pipeline.resources.topic_arn,
            event_types,
        )

    def received(self, queue_url: str) -> list[dict[str, Any]]:
        return [json.loads(body) for body in take_bodies(self.pipeline.client("sqs"), queue_url)]


def take_bodies(sqs: Any, queue_url: str) -> list[str]:
    """Every message body waiting in the queue, deleted as read."""
    bodies: list[str] = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
        "Messages", []
    ):
        for message in batch:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def validate(event: dict[str, Any]) -> None:
    schema = json.loads((SCHEMAS / f"{event['type']}.json").read_text())
    jsonschema.validate(event, schema)


# The sandbox storefront's carts are anonymous guests unless a test gives them an email; the
# tests of a world are about the lifecycle, so its store announces every abandoned cart.
# Eligibility (the default rules included) has tests of its own: tests/unit/test_eligibility.py
# and tests/integration/test_eligibility.py.
LIFECYCLE_RULES = EligibilityRules(require_email=False)


def make_world(
    moto_endpoint: str,
    *,
    stages: str = "1h,24h,48h",
    recovery_links: bool = False,
    client_event_handlers: Callable[[str], Sequence[EventHandler]] | None = None,
    eligibility: EligibilityRules = LIFECYCLE_RULES,
    channel_stages: tuple[ChannelStages, ...] = (),
) -> Iterator[World]:
    sandbox = BigCommerceSandbox(
        time_scale=0.001, allow_http_destinations=True, seed=3, abandon_after=None
    ).start()
    pipeline = LocalPipeline(
        moto_endpoint,
        bigcommerce_api_url=sandbox.url,
        default_stages=StageSchedule.parse(stages),
        ssm_prefix=f"/{unique_name('p')}",
        name=unique_name("cw"),
        client_event_handlers=client_event_handlers,
    )
    pipeline.gateway.start()
    world = join(
        sandbox,
        pipeline,
        stages=stages,
        recovery_links=recovery_links,
        eligibility=eligibility,
        channel_stages=channel_stages,
    )
    try:
        yield world
    finally:
        pipeline.stop()
        sandbox.stop()


def join(
    sandbox: BigCommerceSandbox,
    pipeline: LocalPipeline,
    *,
    stages: str = "1h,24h,48h",
    recovery_links: bool = False,
    eligibility: EligibilityRules = LIFECYCLE_RULES,
    channel_stages: tuple[ChannelStages, ...] = (),
) -> World:
    """A new sandbox store onboarded onto the pipeline as `cartwatch stores add` onboards one."""
    store_hash = unique_name("s")
    access_token, client_secret, webhook_token = (secrets.token_hex(16) for _ in range(3))
    shop = sandbox.add_store(store_hash, access_token=access_token, client_secret=client_secret)
    settings = StoreSettings(
        store_hash,
        StageSchedule.parse(stages),
        recovery_links=recovery_links,
        eligibility=eligibility,
        channel_stages=channel_stages,
    )
    pipeline.writer().save(
        settings,
        access_token=access_token,
        client_secret=client_secret,
        webhook_token=webhook_token,
        created_at=0,
    )
    # Hooks registered the way `cartwatch stores add` registers them.
    client = BigCommerceClient(store_hash, access_token, api_url=sandbox.url)
    destination = hook_destination(f"{pipeline.gateway.url}/webhooks/bigcommerce", store_hash)
    reconcile_hooks(client, destination, webhook_token, settings.hook_scopes)
    return World(sandbox, pipeline, store_hash, shop, webhook_token, client_secret)
