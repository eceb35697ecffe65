"""Issue 13's incident, played on `cartwatch local` with the README's Operations commands as
written: a store's token breaks and its events park, a webhook sits in the intake DLQ; the
token is fixed, both are redriven, every event arrives once; a replay backfills a new queue
with the same ids."""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.conftest import (
    CARTWATCH,
    LocalRun,
    SandboxStore,
    cli_environment,
    onboard,
    start_local,
    stop_local,
)
from tests.e2e.documented import documented_commands, run_documented
from tests.support import subscribed_queue

from cartwatch.adapters.store_registry import api_parameter
from cartwatch.service.intake import Delivery, intake_message

pytestmark = pytest.mark.e2e

LIST, REDRIVE_INTAKE, REDRIVE_PARKED, REPLAY = documented_commands("README.md", "readme-operations")


@pytest.fixture
def incident(tmp_path: Path) -> Iterator[tuple[LocalRun, SandboxStore]]:
    store = SandboxStore("mystore", secrets.token_hex(12), secrets.token_hex(12))
    run = start_local(tmp_path, "--stages", "4s,60m", "--rescue-every", "1s", "--sandbox-store", store.spec)
    try:
        onboard(run, store)
        yield run, store
    finally:
        if run.process.poll() is None:
            stop_local(run)


def drained(run: LocalRun, url: str) -> list[dict[str, Any]]:
    sqs, bodies = run.client("sqs"), []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def until(check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.5)
    raise AssertionError("timed out")


def test_an_incident_parks_and_dead_letters_then_redrive_and_replay_deliver_each_event_once(
    incident: tuple[LocalRun, SandboxStore],
) -> None:
    run, store = incident
    consumer = subscribed_queue(run.client("sqs"), run.client("sns"), run.info["topic_arn"])
    ssm = run.client("ssm")
    parameter = api_parameter(run.info["ssm_prefix"], store.store_hash)
    good = ssm.get_parameter(Name=parameter, WithDecryption=True)["Parameter"]["Value"]
    # Shoppers fill carts; before any is abandoned, the store's token is revoked (cartwatch
    # still holds it: the simulation's storefront calls were made with it already).
    shoppers = subprocess.Popen(
        [CARTWATCH, "simulate", "mystore", "--carts", "4", "--seed", "3", "--timeout", "12"],
        cwd=run.workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=cli_environment(),
    )
    table = run.client("dynamodb")
    until(lambda: table.scan(TableName=run.info["table_name"], Select="COUNT")["Count"] >= 5)
    time.sleep(1)
    ssm.put_parameter(Name=parameter, Value=json.dumps({"access_token": "revoked"}), Overwrite=True)
    simulated, _ = shoppers.communicate(timeout=60)
    # …and a webhook the processor gave up on waits in the intake DLQ.
    body = json.dumps(
        {
            "scope": "store/cart/created",
            "store_id": "1",
            "producer": f"stores/{store.store_hash}",
            "hash": secrets.token_hex(20),
            "created_at": int(time.time()),
            "data": {"type": "cart", "id": "dead-lettered-cart"},
        }
    ).encode()
    message = intake_message(Delivery(store.store_hash, body, {}), "store/cart/created", time.time())
    run.client("sqs").send_message(QueueUrl=run.info["intake_dlq_url"], MessageBody=message)

    listed = run_documented(LIST, run.workdir)
    assert listed.returncode == 0, listed.stderr
    lines = {line.split()[0]: line for line in listed.stdout.splitlines()}
    assert " 1 messages" in lines["intake"]
    assert "bigcommerce_unauthorized" in lines["publisher-parked"], simulated
    parked = int(lines["publisher-parked"].split()[1])
    assert parked >= 1
    assert [e for e in drained(run, consumer) if e["type"].endswith("abandoned")] == []

    # The fix, then the redrives the alarms' table says to run.
    ssm.put_parameter(Name=parameter, Value=good, Overwrite=True)
    assert run_documented(REDRIVE_INTAKE, run.workdir).stdout.startswith("intake: 1 messages moved")
    redriven = run_documented(REDRIVE_PARKED, run.workdir)
    assert redriven.returncode == 0 and f"{parked} events back in the outbox" in redriven.stdout
    abandoned: list[dict[str, Any]] = []

    def all_arrived() -> bool:
        abandoned.extend(e for e in drained(run, consumer) if e["type"].endswith("abandoned"))
        return len(abandoned) >= parked

    until(all_arrived)
    time.sleep(2)  # a few more scheduled runs: nothing arrives twice
    all_arrived()
    assert len(abandoned) == parked and len({e["id"] for e in abandoned}) == parked  # once each
    assert "0 messages" in run_documented(LIST, run.workdir).stdout.splitlines()[0]

    # A new consumer is backfilled with what the archive holds: the same events, the same ids.
    backfill = run.client("sqs").create_queue(QueueName=f"backfill-{secrets.token_hex(4)}")["QueueUrl"]
    backfilled: list[dict[str, Any]] = []

    def backfilled_all() -> bool:
        # The archiver writes within a poll or two of the publish: replay until it has.
        to = str(int(time.time()) + 60)
        replayed = run_documented(REPLAY, run.workdir, FROM="0", TO=to, QUEUE_URL=backfill)
        assert replayed.returncode == 0, replayed.stderr
        backfilled.extend(drained(run, backfill))
        return {e["id"] for e in abandoned} <= {e["id"] for e in backfilled}

    until(backfilled_all)
    by_id = {e["id"]: e for e in backfilled}
    assert all(by_id[e["id"]] == e for e in abandoned)  # whole, as published
