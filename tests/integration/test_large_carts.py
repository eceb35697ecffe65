"""The largest carts go through the whole pipeline within AWS's item and message limits.

A BigCommerce checkout with thousands of line items, every text at BigCommerce's maximum
length and long option values: its stored snapshot fits a DynamoDB item (400 KB — moto
refuses more), its events fit an SNS message (256 KiB with attributes — the limits layer
refuses more), and consumers are told the cart was trimmed and how many items it has.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from bench.capacity import item_size
from tests.integration.bigcommerce.fake_bigcommerce import (
    STORE_HASH,
    TOKEN,
    FakeBigCommerce,
    load_fixture,
    serve,
)
from tests.integration.pipeline_support import subscribed_queue, take_bodies, validate
from tests.support import cart_webhook, unique_name

from cartwatch.domain.cart import SNAPSHOT_MAX_BYTES
from cartwatch.domain.cart_cloud_events import sns_attributes, sns_message_bytes
from cartwatch.domain.cloud_events import parse_event
from cartwatch.domain.stages import StageSchedule
from cartwatch.domain.store import StoreSettings
from cartwatch.resources import DYNAMODB_ITEM_MAX_BYTES, SNS_MESSAGE_MAX_BYTES
from cartwatch.service.intake import Delivery, intake_message
from cartwatch_tools.local.pipeline import LocalPipeline

pytestmark = pytest.mark.integration

HOUR, DAY = 3600, 86400
CART = "267c5d6f-0d27-48ea-b731-e7832a4c5537"  # the guest checkout fixture's cart
ITEMS = 1_000


def huge_checkout() -> dict[str, Any]:
    """The guest checkout with ITEMS line items, each at BigCommerce's text limits.

    BigCommerce documents no limit on line items per cart; product names, SKUs and option
    names are at most 255 characters and URLs 1,024 (its platform limits).  Option values
    (text modifiers such as an engraving) are given 2,000 characters each.
    """
    checkout = load_fixture("checkout_guest_options.json")["data"]
    template = checkout["cart"]["line_items"]["physical_items"][0]
    items = []
    for n in range(ITEMS):
        item = copy.deepcopy(template)
        item.update(
            id=f"item-{n:05d}",
            variant_id=10_000 + n,
            sku=f"{n:05d}" + "S" * 250,
            name=f"{n:05d}" + "N" * 250,
            url="https://store.example/" + "u" * 1_000,
            image_url="https://cdn.example/" + "i" * 1_000,
            options=[
                {
                    "name": f"Option {k}" + "O" * 240,
                    "nameId": 100 + k,
                    "value": f"{n}/{k} " + "v" * 2_000,
                    "valueId": None,
                }
                for k in range(3)
            ],
        )
        items.append(item)
    groups = checkout["cart"]["line_items"]
    groups["physical_items"] = items
    # The fixture's digital and custom items and gift certificates stay: ITEMS + those.
    return checkout


def line_item_count(checkout: dict[str, Any]) -> int:
    return sum(len(group) for group in checkout["cart"]["line_items"].values())


@pytest.fixture
def bigcommerce() -> Iterator[FakeBigCommerce]:
    fake = FakeBigCommerce()
    fake.checkouts[CART] = huge_checkout()
    yield from serve(fake)


@pytest.fixture
def pipeline(moto_endpoint: str, bigcommerce: FakeBigCommerce) -> Iterator[LocalPipeline]:
    pipeline = LocalPipeline(
        moto_endpoint,
        bigcommerce_api_url=bigcommerce.url,
        default_stages=StageSchedule.parse("1h,24h"),
        ssm_prefix=f"/{unique_name('p')}",
        name=unique_name("cw"),
    )
    pipeline.writer().save(
        StoreSettings(STORE_HASH, StageSchedule.parse("1h,24h")),
        access_token=TOKEN,
        client_secret="secret",
        webhook_token="token",
        created_at=0,
    )
    pipeline.gateway.start()
    try:
        yield pipeline
    finally:
        pipeline.stop()


def test_the_largest_cart_is_stored_and_announced_within_aws_limits(pipeline: LocalPipeline) -> None:
    queue = subscribed_queue(pipeline.client("sqs"), pipeline.client("sns"), pipeline.resources.topic_arn)
    started = int(time.time()) - 10
    body = json.dumps(cart_webhook(STORE_HASH, "store/cart/created", CART, started)).encode()
    pipeline.client("sqs").send_message(
        QueueUrl=pipeline.resources.intake_queue_url,
        MessageBody=intake_message(Delivery(STORE_HASH, body, {}), "store/cart/created", started),
    )
    pipeline.process_intake()

    pipeline.drain(now=started + HOUR + 5)
    [stage_one] = take_bodies(pipeline.client("sqs"), queue)
    pipeline.drain(now=started + DAY + 5)
    [stage_two] = take_bodies(pipeline.client("sqs"), queue)

    for text in (stage_one, stage_two):
        event = json.loads(text)
        validate(event)
        assert sns_message_bytes(text, sns_attributes(parse_event(text))) <= SNS_MESSAGE_MAX_BYTES
        data = event["data"]
        assert (data["line_items_truncated"], data["line_item_count"]) == (
            True,
            line_item_count(huge_checkout()),
        )
        assert 0 < len(data["line_items"]) < ITEMS
    # Later stages reuse the stored (trimmed) snapshot: the same items, no new BigCommerce call.
    assert json.loads(stage_two)["data"]["line_items"] == json.loads(stage_one)["data"]["line_items"]

    item = pipeline.client("dynamodb").get_item(
        TableName=pipeline.resources.table_name,
        Key={"pk": {"S": f"CART#{STORE_HASH}#{CART}"}, "sk": {"S": "STATE"}},
        ConsistentRead=True,
    )["Item"]
    assert len(item["snapshot"]["S"].encode()) <= SNAPSHOT_MAX_BYTES
    assert item_size(item) <= DYNAMODB_ITEM_MAX_BYTES
