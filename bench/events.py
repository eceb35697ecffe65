"""BigCommerce calls per abandoned cart and SNS publishes per event, through the whole pipeline.

Shoppers (registered customers, guests who typed an email, anonymous guests, buyers) fill
carts in the BigCommerce sandbox; its signed webhooks reach the local gateway; sweeps
run past every stage; the publisher enriches and publishes.  Calls are counted by the
clients themselves.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from typing import Any

from bench.counting import CallCounter
from cartwatch.adapters.bigcommerce import BigCommerceClient
from cartwatch.domain.cloud_events import CloudEvent
from cartwatch.domain.eligibility import EligibilityRules
from cartwatch.domain.stages import StageSchedule
from cartwatch.domain.store import StoreSettings
from cartwatch.service.store_hooks import hook_destination, reconcile_hooks
from cartwatch_tools.local.pipeline import LocalPipeline, PipelineObserver
from cartwatch_tools.sandbox import BigCommerceSandbox

HOUR, DAY = 3600, 86400


def run_events(endpoint: str, shoppers: int = 40) -> dict[str, Any]:
    sandbox = BigCommerceSandbox(
        time_scale=0.001, allow_http_destinations=True, seed=5, abandon_after=None
    ).start()
    published: Counter[str] = Counter()

    def count(event: CloudEvent) -> None:
        published[event.type] += 1

    publisher_calls = CallCounter()
    pipeline = LocalPipeline(
        endpoint,
        bigcommerce_api_url=sandbox.url,
        default_stages=StageSchedule.parse("1h,24h,48h"),
        name="bench-events",
        observer=PipelineObserver(published=count),
        client_event_handlers=lambda function: publisher_calls.handlers if function == "publisher" else (),
    )
    relay = pipeline.functions["publisher"].outbox_relay
    try:
        pipeline.gateway.start()
        store_hash, token, secret = "benchevents", secrets.token_hex(16), secrets.token_hex(16)
        hook_token = secrets.token_hex(16)
        shop = sandbox.add_store(store_hash, access_token=token, client_secret=secret)
        pipeline.writer().save(
            # Every abandoned cart announced (anonymous guests too): the figure is the cost of
            # enriching an abandoned cart, whatever the store's eligibility rules decide after.
            StoreSettings(
                store_hash,
                StageSchedule.parse("1h,24h,48h"),
                eligibility=EligibilityRules(require_email=False),
            ),
            access_token=token,
            client_secret=secret,
            webhook_token=hook_token,
            created_at=0,
        )
        client = BigCommerceClient(store_hash, token, api_url=sandbox.url)
        reconcile_hooks(
            client, hook_destination(f"{pipeline.gateway.url}/webhooks/bigcommerce", store_hash), hook_token
        )
        for n in range(shoppers):
            kind = n % 4
            customer = None
            if kind == 0:
                customer = shop.add_customer(f"c{n}@example.com", "Reg", f"Shopper{n}")
                shop.add_subscriber(f"c{n}@example.com", consents=["abandoned_cart"])
            cart_id = shop.storefront_add_to_cart(86 if n % 2 else 88, 1 + n % 3, customer_id=customer)
            if kind == 1:
                shop.storefront_set_guest_email(cart_id, f"g{n}@example.com", first_name="Guest")
            if kind == 3:
                shop.storefront_convert(cart_id, email=f"b{n}@example.com")
        sandbox.wait_idle(30.0)
        now = int(time.time())
        pipeline.drain(now=now + HOUR + 5)
        stage_one_calls = relay.bigcommerce_calls
        stage_one_events = published["cartwatch.cart.abandoned"]
        pipeline.drain(now=now + DAY + 5)
        pipeline.drain(now=now + 2 * DAY + 5)
        if stage_one_events == 0:
            # A silent zero would read as "free"; no abandonment means the replay is broken.
            raise RuntimeError(
                "the events benchmark saw no abandoned cart: deliveries did not reach the pipeline"
            )
        events = sum(published.values())
        return {
            "abandoned_carts": stage_one_events,
            "stage1_calls": stage_one_calls,
            "later_stage_calls": relay.bigcommerce_calls - stage_one_calls,
            "later_stage_events": published["cartwatch.cart.abandoned"] - stage_one_events,
            "events": events,
            "by_type": dict(published),
            "sns_calls": publisher_calls.calls["sns.PublishBatch"],
        }
    finally:
        pipeline.stop()
        sandbox.stop()
