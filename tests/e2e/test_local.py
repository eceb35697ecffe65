"""Issue 6 end to end: `cartwatch local`, `stores add --local` and `simulate` as real processes."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from standardwebhooks.webhooks import Webhook
from tests.e2e.conftest import (
    CARTWATCH,
    LocalRun,
    SandboxStore,
    cli_environment,
    onboard,
    simulate,
    start_local,
    stop_local,
)

pytestmark = pytest.mark.e2e


def subscribe(run: LocalRun) -> str:
    """The test's own consumer queue, subscribed through the moto endpoint in the info file."""
    sqs, sns = run.client("sqs"), run.client("sns")
    url = sqs.create_queue(QueueName=f"e2e-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(
        TopicArn=run.info["topic_arn"],
        Protocol="sqs",
        Endpoint=arn,
        Attributes={
            "RawMessageDelivery": "true",
            "FilterPolicy": json.dumps(
                {"type": ["cartwatch.cart.abandoned", "cartwatch.cart.recovered", "cartwatch.cart.converted"]}
            ),
        },
    )
    return str(url)


def drain(run: LocalRun, queue_url: str) -> list[dict[str, Any]]:
    sqs = run.client("sqs")
    events = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return events
        for message in messages:
            events.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def assert_exact_events(run: LocalRun, queue_url: str, report: dict[str, Any]) -> None:
    time.sleep(2)  # room for anything unexpected (a duplicate, a late stage) to show up
    received: dict[str, Counter[str]] = {}
    ids: list[str] = []
    for event in drain(run, queue_url):
        received.setdefault(event["subject"], Counter())[event["type"]] += 1
        ids.append(event["id"])
    assert len(ids) == len(set(ids)), "an event was published twice"
    for cart in report["carts"]:
        got = received.pop(cart["cart_id"], Counter())
        assert got == Counter(cart["expected"]), f"{cart['role']} cart {cart['cart_id']}: {dict(got)}"
        if cart["role"] in ("buys", "empties"):
            assert got["cartwatch.cart.abandoned"] == 0
    assert received == {}, f"events for carts nobody shopped: {received}"


def test_local_onboard_simulate_and_exact_events(
    local: LocalRun, sandbox_store: SandboxStore, tmp_path: Path
) -> None:
    onboard(local, sandbox_store)
    queue = subscribe(local)
    report = simulate(local, tmp_path)
    roles = Counter(cart["role"] for cart in report["carts"])
    assert set(roles) == {"abandons", "buys", "returns", "empties"}
    assert_exact_events(local, queue, report)

    # The same again with duplicated and reordered deliveries: the same events.
    queue = subscribe(local)
    report = simulate(local, tmp_path, "--duplicates", "0.3", "--reorder", "--seed", "2")
    assert_exact_events(local, queue, report)

    output = stop_local(local)
    assert local.process.returncode == 0
    assert not local.info_file.exists()
    assert "cartwatch.cart.abandoned" in output and "cartwatch.cart.recovered" in output
    assert sandbox_store.client_secret not in output and sandbox_store.access_token not in output
    # Ctrl-C freed the ports.
    for url in (local.info["api_url"], local.info["aws_endpoint_url"], local.info["bigcommerce_api_url"]):
        host, port = url.removeprefix("http://").split(":")
        with socket.socket() as probe:
            assert probe.connect_ex((host, int(port))) != 0, f"{url} still listening"


@pytest.fixture
def external_bigcommerce() -> Iterator[Any]:
    from tests.integration.bigcommerce.fake_bigcommerce import FakeBigCommerce, serve

    yield from serve(FakeBigCommerce())


def test_bigcommerce_api_url_enriches_from_that_server(tmp_path: Path, external_bigcommerce: Any) -> None:
    from tests.integration.bigcommerce.fake_bigcommerce import STORE_HASH, TOKEN, load_fixture

    checkout = load_fixture("checkout_registered.json")["data"]
    run = start_local(tmp_path, "--stages", "2s,60s", "--bigcommerce-api-url", external_bigcommerce.url)
    try:
        secret = "e2e-client-secret"
        onboard(run, SandboxStore(STORE_HASH, TOKEN, secret))
        queue = subscribe(run)
        body = json.dumps(
            {
                "scope": "store/cart/created",
                "store_id": "1",
                "producer": f"stores/{STORE_HASH}",
                "created_at": int(time.time()),
                "hash": uuid.uuid4().hex[:40],
                "data": {"type": "cart", "id": checkout["id"]},
            }
        )
        key = base64.b64encode(secret.encode()).decode()
        msg_id = f"msg_{uuid.uuid4().hex}"
        from datetime import UTC, datetime

        now = datetime.now(tz=UTC)
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(key).sign(msg_id, now, body),
            "content-type": "application/json",
        }
        delivered = requests.post(
            f"{run.info['webhook_base_url']}/{STORE_HASH}", data=body, headers=headers, timeout=10
        )
        assert delivered.status_code == 200
        events: list[dict[str, Any]] = []
        deadline = time.monotonic() + 30
        while not events and time.monotonic() < deadline:
            time.sleep(0.5)
            events = drain(run, queue)
        assert [e["type"] for e in events] == ["cartwatch.cart.abandoned"]
        data = events[0]["data"]
        expected_names = {item["name"] for item in checkout["cart"]["line_items"]["physical_items"]}
        assert {item["name"] for item in data["line_items"]} >= expected_names
        assert any(r.path.endswith(f"/checkouts/{checkout['id']}") for r in external_bigcommerce.requests)
    finally:
        stop_local(run)


def test_demo_shows_abandoned_and_recovered_events_and_exits_cleanly(tmp_path: Path) -> None:
    """The README's first command, with short stages so the test stays quick."""
    done = subprocess.run(
        [CARTWATCH, "local", "--demo", "--exit-after-demo", "--port", "0", "--stages", "4s,8s"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=cli_environment(),
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "cartwatch.cart.abandoned" in done.stdout
    assert "cartwatch.cart.recovered" in done.stdout
    assert "every cart got exactly its events" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert not (tmp_path / ".cartwatch" / "local.json").exists()
