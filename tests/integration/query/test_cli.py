"""`cartwatch carts …` against the query API of a local pipeline, requests signed with SigV4."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from tests.integration.pipeline_support import World
from tests.integration.query.query_support import HOUR

from cartwatch_tools.cli.info_file import LocalInfo
from cartwatch_tools.cli.main import main

pytestmark = pytest.mark.integration


def info_file(world: World, tmp_path: Path) -> Path:
    path = tmp_path / "local.json"
    resources = world.pipeline.resources
    LocalInfo(
        webhook_base_url=f"{world.pipeline.gateway.url}/webhooks/bigcommerce",
        api_url=world.pipeline.gateway.url,
        aws_endpoint_url=resources.endpoint_url,
        region=resources.region,
        topic_arn=resources.topic_arn,
        bigcommerce_api_url=world.sandbox.url,
        table_name=resources.table_name,
        ssm_prefix=world.pipeline.ssm_prefix,
        intake_queue_url=resources.intake_queue_url,
        intake_dlq_url=resources.intake_dlq_url,
        pid=os.getpid(),
        sandbox=True,
    ).write(path)
    return path


def test_list_show_suppress_erase_and_stats(
    fresh: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    customer = fresh.shop.add_customer("cli@example.com", "Cli", "User")
    cart_id = fresh.shop.storefront_add_to_cart(88, 1, customer_id=customer)
    other = fresh.shop.storefront_add_to_cart(104, 1)
    fresh.deliver()
    fresh.pipeline.drain(now=int(time.time()) + HOUR + 5)
    target = ["--local", "--info-file", str(info_file(fresh, tmp_path))]

    def cartwatch(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()  # the pipeline's own output so far (metrics, logs)
        code = main([*args, *target])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = cartwatch(
        "carts", "list", fresh.store_hash, "--status", "abandoned", "--customer-email", "CLI@example.com"
    )
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == [cart_id]
    assert "cli@example.com" in out and "stage 1" in out
    code, out, _ = cartwatch("carts", "list", fresh.store_hash, "--limit", "1", "--all", "--json")
    assert code == 0
    assert {c["cart_id"] for line in out.splitlines() for c in json.loads(line)["carts"]} == {cart_id, other}

    code, out, _ = cartwatch("carts", "show", fresh.store_hash, cart_id)
    assert code == 0 and "sweep" in out and "cartwatch.cart.abandoned" in out and "Cli User" in out

    assert cartwatch("carts", "suppress", fresh.store_hash, cart_id)[0] == 0
    code, out, _ = cartwatch("carts", "list", fresh.store_hash, "--suppressed")
    assert [line.split()[0] for line in out.splitlines()] == [cart_id]

    code, _, err = cartwatch("carts", "erase", fresh.store_hash, cart_id)
    assert code == 1 and "--yes" in err
    assert cartwatch("carts", "erase", fresh.store_hash, cart_id, "--yes")[0] == 0
    code, _, err = cartwatch("carts", "show", fresh.store_hash, cart_id)
    assert code == 1 and err.startswith("cartwatch: error: no cart")

    code, _, err = cartwatch("carts", "erase-shopper", fresh.store_hash, "--email", "CLI@example.com")
    assert code == 1 and "--yes" in err
    # A second later than the stage-1 snapshot of `other` (captured without an email): a
    # snapshot belongs to an abandonment when captured after the activity that began it, and
    # both times are whole seconds (docs/architecture.md, decision 49's note).
    time.sleep(1.1)
    fresh.shop.storefront_set_guest_email(other, "cli@example.com")
    fresh.deliver()
    fresh.pipeline.drain(now=int(time.time()) + 2 * HOUR + 5)
    code, out, _ = cartwatch(
        "carts", "erase-shopper", fresh.store_hash, "--email", "CLI@example.com", "--yes"
    )
    assert code == 0 and out.splitlines() == ["1 cart(s) of CLI@example.com erased", f"  {other}"]

    code, out, _ = cartwatch("carts", "stats", fresh.store_hash, "--to", str(int(time.time()) + 2 * HOUR))
    assert code == 0, out
    # Erasing carts takes their personal data, not the store's anonymous counts.
    total = next(line.split() for line in out.splitlines() if line.startswith("total"))
    assert total == ["total", "2", "2", "0", "0", "100.0%", "0.0%"], out
    assert "recovered revenue  -" in out
    code, _, err = cartwatch("carts", "list", fresh.store_hash, "--limit", "0")
    assert code == 1 and "query.limit" in err
