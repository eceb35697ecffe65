"""Uninstall by webhook: only what BigCommerce confirms is purged, and purging is a job of its own.

The ``store/app/uninstalled`` webhook is documented for a store's cancellation, and in token
mode anyone holding the hook token can send one: it purges only after BigCommerce refuses
the store's token.  A purge runs as bounded steps on its own queue, beside the processor.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import replace
from typing import Any

import pytest
import requests
from tests.integration.pipeline_support import World

from cartwatch.adapters.cart_table.purge import CartPurge
from cartwatch.adapters.purge_records import PurgeRecords
from cartwatch.adapters.store_rows import StoreRows
from cartwatch.domain.store import StoreSettings, StoreStatus
from cartwatch.service.purge_job import PurgeJob, PurgeStep, StepOutcome, StepReport
from cartwatch.service.uninstall import UninstallVerdict

pytestmark = pytest.mark.integration


def uninstall_webhook(world: World) -> requests.Response:
    body = json.dumps(
        {
            "scope": "store/app/uninstalled",
            "store_id": world.shop.store_id,
            "producer": f"stores/{world.store_hash}",
            "hash": uuid.uuid4().hex,
            "created_at": int(time.time()),
            "data": {"type": "store"},
        }
    )
    return requests.post(
        f"{world.pipeline.gateway.url}/webhooks/bigcommerce/{world.store_hash}",
        data=body,
        headers={"X-Cartwatch-Token": world.webhook_token, "Content-Type": "application/json"},
        timeout=10,
    )


def store_carts(world: World, store_hash: str) -> int:
    dynamodb = world.pipeline.client("dynamodb")
    request: dict[str, Any] = {
        "TableName": world.pipeline.resources.table_name,
        "FilterExpression": "begins_with(pk, :p)",
        "ExpressionAttributeValues": {":p": {"S": f"CART#{store_hash}#"}},
        "Select": "COUNT",
    }
    count = 0
    while True:
        page = dynamodb.scan(**request)
        count += page["Count"]
        if "LastEvaluatedKey" not in page:
            return count
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def store_figures(world: World, store_hash: str) -> int:
    """The store's daily figure items (``STATS#<store>``)."""
    return int(
        world.pipeline.client("dynamodb").query(
            TableName=world.pipeline.resources.table_name,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": f"STATS#{store_hash}"}},
            Select="COUNT",
        )["Count"]
    )


def status(world: World, store_hash: str) -> StoreStatus | None:
    row = StoreRows(world.pipeline.client("dynamodb"), world.pipeline.resources.table_name).get(store_hash)
    return row.settings.status if row else None


def test_a_forged_uninstall_webhook_purges_nothing(world: World) -> None:
    world.shop.storefront_add_to_cart(product_id=111, quantity=1)
    world.deliver()
    assert store_carts(world, world.store_hash) == 1
    verdicts: list[UninstallVerdict] = []
    check = world.pipeline.lifecycle.check

    def recorded(store_hash: str) -> UninstallVerdict:
        verdicts.append(check(store_hash))
        return verdicts[-1]

    world.pipeline.lifecycle = replace(world.pipeline.lifecycle, check=recorded)  # type: ignore[arg-type]

    # Anyone holding the hook token can send this; BigCommerce still accepts the store's token.
    assert uninstall_webhook(world).status_code == 200
    world.pipeline.process_intake()
    world.pipeline.purge()
    assert verdicts == [UninstallVerdict.REFUTED]
    assert status(world, world.store_hash) is StoreStatus.ACTIVE
    assert store_carts(world, world.store_hash) == 1
    assert world.pipeline.secrets.api_credentials(world.store_hash) is not None

    # A flood of them costs the store's API quota one call a minute, not one each.
    for _ in range(3):
        assert uninstall_webhook(world).status_code == 200
        world.pipeline.process_intake()
    world.pipeline.purge()
    assert verdicts[1:] == [UninstallVerdict.CHECKED_RECENTLY] * 3
    assert store_carts(world, world.store_hash) == 1


def test_an_uninstall_webhook_bigcommerce_confirms_purges_the_store(world: World) -> None:
    world.shop.storefront_add_to_cart(product_id=111, quantity=1)
    world.deliver()
    world.pipeline.tally()
    assert store_figures(world, world.store_hash) == 1
    # The store is cancelled: BigCommerce sends the webhook, and its tokens stop working.
    world.shop.fire_app_uninstalled()
    world.deliver()
    world.shop.remove_api_account(world.shop.account.client_id)
    world.pipeline.purge()
    deadline = time.monotonic() + 20
    while store_carts(world, world.store_hash) and time.monotonic() < deadline:
        world.pipeline.purge()
    assert status(world, world.store_hash) is StoreStatus.UNINSTALLED
    assert store_carts(world, world.store_hash) == 0
    assert store_figures(world, world.store_hash) == 0  # its figures went with its carts
    world.pipeline.secrets.forget(world.store_hash)
    assert world.pipeline.secrets.api_credentials(world.store_hash) is None
    assert world.pipeline.writer().webhook_auth(world.store_hash) is None


def test_deliveries_still_in_flight_for_an_uninstalled_store_recreate_nothing(world: World) -> None:
    cart_id = world.shop.storefront_add_to_cart(product_id=111, quantity=1)
    assert world.sandbox.wait_idle(10.0)  # delivered to the intake queue, not yet processed
    app = world.pipeline.functions["app_callbacks"]  # the app's verified uninstall callback
    assert app.store_lifecycle.uninstall(world.store_hash, "test")
    world.pipeline.purge()
    world.pipeline.process_intake()
    world.pipeline.purge()
    assert store_carts(world, world.store_hash) == 0, cart_id


# --- the 20,000-cart purge ----------------------------------------------------------------------

BIG_STORE = "bigstore"
CARTS = 20_000


def seed_carts(world: World, store_hash: str, count: int) -> None:
    dynamodb = world.pipeline.client("dynamodb")
    table = world.pipeline.resources.table_name
    for start in range(0, count, 25):
        requests_ = [
            {
                "PutRequest": {
                    "Item": {
                        "pk": {"S": f"CART#{store_hash}#cart-{n:06d}"},
                        "sk": {"S": "STATE"},
                        "store_hash": {"S": store_hash},
                        "cart_id": {"S": f"cart-{n:06d}"},
                        "status": {"S": "active"},
                        "version": {"N": "1"},
                        "cart_created_at": {"N": "1700000000"},
                        "last_activity_at": {"N": "1700000000"},
                    }
                }
            }
            for n in range(start, min(start + 25, count))
        ]
        pending: dict[str, Any] = {table: requests_}
        while pending:
            pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def test_purging_20000_carts_runs_in_bounded_steps_beside_the_processor(world: World) -> None:
    pipeline = world.pipeline
    dynamodb, table = pipeline.client("dynamodb"), pipeline.resources.table_name
    # A second store, with 20,000 carts (seeded directly: the purge only reads their keys).
    big = replace(world, store_hash=BIG_STORE)
    pipeline.writer().save(
        StoreSettings(
            BIG_STORE, pipeline.functions["processor"].store_directory.stages_for(world.store_hash, None)
        ),
        access_token="big-token",
        client_secret="big-secret",
        webhook_token="big-webhook-token",
        created_at=0,
    )
    seed_carts(world, BIG_STORE, CARTS)
    assert store_carts(big, BIG_STORE) == CARTS

    # Small steps, so that the purge takes many invocations, each within its budget.
    steps: list[StepReport] = []
    job = PurgeJob(
        PurgeRecords(dynamodb, table),
        CartPurge(dynamodb, table, page_items=1000),
        pipeline.writer(),
        pipeline.lifecycle.queue,
        max_pages=2,
    )

    class CountingJob:
        def step(self, step: PurgeStep, remaining: Any = None) -> StepReport:
            report = job.step(step, remaining)
            steps.append(report)
            return report

    pipeline.lifecycle = replace(pipeline.lifecycle, job=CountingJob())  # type: ignore[arg-type]
    app = pipeline.functions["app_callbacks"]
    assert app.store_lifecycle.uninstall(BIG_STORE, "app uninstall callback (test)")

    # The pipeline runs as in AWS: the purge on its own poller, the processor on its own.
    pipeline.start(sweep_every=3600, poll_every=0.05)
    shopped: list[str] = []
    purged = threading.Event()

    def watch() -> None:
        while not any(r.outcome is StepOutcome.PURGED for r in steps):
            time.sleep(0.2)
        purged.set()

    threading.Thread(target=watch, daemon=True).start()
    deadline = time.monotonic() + 240
    while not purged.is_set() and time.monotonic() < deadline:
        shopped.append(world.shop.storefront_add_to_cart(product_id=111, quantity=1))
        time.sleep(1.0)
    assert purged.is_set(), f"the purge did not finish: {len(steps)} steps"
    during = len(shopped)
    # Everything the shoppers did while the purge ran is applied — on a loaded machine a
    # delivery may time out once and come again after the sandbox's one-minute retry delay.
    assert world.sandbox.wait_idle(90)
    deadline = time.monotonic() + 60
    while store_carts(world, world.store_hash) < during and time.monotonic() < deadline:
        time.sleep(0.5)
    pipeline.stop()

    assert during >= 3, "the other store's shoppers barely overlapped the purge"
    assert store_carts(world, world.store_hash) == during
    assert store_carts(big, BIG_STORE) == 0
    sqs = pipeline.client("sqs")
    for dlq in (pipeline.resources.intake_dlq_url, pipeline.resources.purge_dlq_url):
        attributes = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
        assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"
    # Bounded: every step deleted at most its pages' worth; many steps, one finish.
    assert len(steps) > 8
    assert max(r.deleted for r in steps) <= 2 * 1000
    finished = [r for r in steps if r.outcome is StepOutcome.PURGED]
    assert len(finished) == 1 and finished[0].total_deleted == CARTS
    assert sum(r.deleted for r in steps) >= CARTS  # a re-run step deletes nothing twice
    assert status(big, BIG_STORE) is StoreStatus.UNINSTALLED


def test_a_purge_survives_a_failed_step_and_duplicate_messages(world: World) -> None:
    """SQS redelivers a step whose invocation failed, and may deliver any message twice."""
    pipeline = world.pipeline
    dynamodb, table = pipeline.client("dynamodb"), pipeline.resources.table_name
    seed_carts(world, world.store_hash, 120)
    records = PurgeRecords(dynamodb, table)
    writer = pipeline.writer()
    sent: list[str] = []

    class FailingOnce:
        """The queue refuses the first continuation (the invocation then fails)."""

        def send(self, bodies: list[str], *, delay_seconds: int = 0) -> None:
            if not sent:
                sent.append("refused")
                raise RuntimeError("SQS unavailable")
            sent.extend(bodies)

    def job(carts: CartPurge | None = None) -> PurgeJob:
        carts = carts or CartPurge(dynamodb, table, page_items=25)
        return PurgeJob(records, carts, writer, FailingOnce(), max_pages=1)  # type: ignore[arg-type]

    with pipeline.acting_as("store_purge"):  # as its check does once BigCommerce confirms
        assert records.mark_uninstalled(world.store_hash, purge_id="p1", segments=1, now=0, cause="test")
    step = PurgeStep(world.store_hash, "p1", 0, 1)

    def run(purge: PurgeJob) -> StepReport:
        with pipeline.acting_as("store_purge"):
            return purge.step(step)

    with pytest.raises(RuntimeError):
        run(job())  # advanced its cursor, then could not queue its successor

    # Another delivery of the same step runs while this one deletes: it moves the cursor
    # first, so this one stops instead of running a second chain.
    class Interleaved(CartPurge):
        def page(self, *args: Any, **kwargs: Any) -> tuple[int, Any]:
            found = super().page(*args, **kwargs)
            outcomes.append(run(job()).outcome)  # the duplicate, start to finish
            return found

    outcomes: list[StepOutcome] = []
    assert run(job(Interleaved(dynamodb, table, page_items=25))).outcome is StepOutcome.STALE
    assert outcomes == [StepOutcome.CONTINUED]

    # SQS redelivers: each step goes on from the persisted cursor until the store is purged.
    reports = [run(job()) for _ in range(10)]
    finished = [r for r in reports if r.outcome is StepOutcome.PURGED]
    # The count leaves out what the step that lost the race deleted: a figure, not a ledger.
    assert len(finished) == 1 and finished[0].total_deleted == 120 - 25
    assert [r.outcome for r in reports[reports.index(finished[0]) + 1 :]] == [StepOutcome.STALE] * (
        len(reports) - reports.index(finished[0]) - 1
    )
    assert store_carts(world, world.store_hash) == 0
    assert status(world, world.store_hash) is StoreStatus.UNINSTALLED
