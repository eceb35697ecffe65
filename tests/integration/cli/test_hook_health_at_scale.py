"""Hook health reaches every store of a large fleet: 5,000 sandbox stores, in turns.

Each turn has time for a share of the stores only; the cycle's cursor, persisted in the
table, makes the next turn go on where the last one stopped, until every store was
checked — each exactly once — and the deactivated hooks scattered through the fleet are
active again.  Against moto server (store rows, API tokens, the cycle's item) and the
BigCommerce sandbox over loopback HTTP.  The fleet's rows and tokens go into the emulator a
batch of requests at a time (``/_cartwatch/batch``): what is tested is the walk over them.
"""

from __future__ import annotations

import secrets
from collections import Counter
from typing import Any

import pytest
from tests.integration.cli.cli_support import CLIENT_ID, WEBHOOK_BASE_URL
from tests.integration.conftest import Aws

from cartwatch.adapters.store_registry import api_parameter, store_to_item
from cartwatch.domain.cart_webhooks import HOOK_SCOPES
from cartwatch.domain.stages import StageSchedule
from cartwatch.domain.store import TOKEN_HEADER, StoreSettings
from cartwatch.service.hook_health import HookHealthCheck
from cartwatch.service.store_hooks import hook_destination
from cartwatch_tools.local.request_batch import send_batch
from cartwatch_tools.sandbox import BigCommerceSandbox

pytestmark = pytest.mark.integration

STORES = 5000
TURNS = 5
DEACTIVATED_EVERY = 100


class TurnBudget:
    """A turn's remaining time, as a number of chunks it may still start."""

    def __init__(self, chunks: int) -> None:
        self.chunks, self.left = chunks, chunks

    def next_turn(self) -> None:
        self.left = self.chunks

    def __call__(self) -> int:
        self.left -= 1
        return 60_000 if self.left >= 0 else 0


def onboard(aws: Aws, sandbox: BigCommerceSandbox) -> list[str]:
    """5,000 healthy stores: a row, an API token, ten active hooks each — some deactivated."""
    hashes = [f"fleet{n:05d}" for n in range(STORES)]
    tokens = {h: secrets.token_hex(8) for h in hashes}
    for number, store_hash in enumerate(hashes):
        store = sandbox.add_store(store_hash, tokens[store_hash], "unused", client_id=CLIENT_ID)
        destination = hook_destination(WEBHOOK_BASE_URL, store_hash)
        for scope in HOOK_SCOPES:
            hook = store.hooks.create(
                CLIENT_ID, {"scope": scope, "destination": destination, "headers": {TOKEN_HEADER: "t"}}
            )
        if number % DEACTIVATED_EVERY == 0:
            store.deactivate_hook(hook.id)  # BigCommerce gave up on its deliveries
    endpoint, region = aws.resources.endpoint_url, aws.resources.region
    stages = StageSchedule.parse("1h")
    rows = [{"PutRequest": {"Item": store_to_item(StoreSettings(h, stages), created_at=0)}} for h in hashes]
    writes = [
        ("DynamoDB_20120810.BatchWriteItem", {"RequestItems": {aws.resources.table_name: rows[n : n + 25]}})
        for n in range(0, len(rows), 25)
    ]
    puts = [
        (
            "AmazonSSM.PutParameter",
            {
                "Name": api_parameter(aws.prefix, h),
                "Value": f'{{"access_token": "{tokens[h]}"}}',
                "Type": "SecureString",
            },
        )
        for h in hashes
    ]
    written = send_batch(endpoint, region, "dynamodb", writes)
    assert all(a["status"] == 200 and not a["body"].get("UnprocessedItems") for a in written)
    assert all(a["status"] == 200 for a in send_batch(endpoint, region, "ssm", puts))
    return hashes


def test_hook_health_over_5000_stores_reaches_every_one_in_turns(aws: Aws) -> None:
    with BigCommerceSandbox(allow_http_destinations=True, abandon_after=None) as sandbox:
        hashes = onboard(aws, sandbox)
        ssm_calls: Counter[str] = Counter()

        def count_ssm(model: Any, **_: Any) -> None:
            ssm_calls.update([model.name])

        budget = TurnBudget(chunks=STORES // TURNS // HookHealthCheck.CHUNK)
        # The hook-health function as the composition root builds it (no store caches).
        function = aws.function(
            "hook_health",
            event_handlers=[("before-call.ssm", count_ssm)],
            bigcommerce_api_url=sandbox.url,
            webhook_base_url=WEBHOOK_BASE_URL,
            hook_health_workers=1,  # the sandbox shares this process: more threads only contend
        )
        check = function.hook_health_check(remaining_ms=budget)

        reports = []
        for _ in range(TURNS + 1):
            reports.append(check.run())
            budget.next_turn()

        checked = Counter(s.store_hash for r in reports for s in r.stores)
        assert set(checked) == set(hashes)  # every store reached…
        assert set(checked.values()) == {1}  # …once
        assert [len(r.stores) for r in reports] == [STORES // TURNS] * TURNS + [0]
        assert reports[TURNS - 1].cycle_finished
        assert reports[TURNS].skipped == "every store was checked in this period"
        assert sum(r.reactivated for r in reports) == STORES // DEACTIVATED_EVERY
        assert all(not r.not_checked_count and not s.problems for r in reports for s in r.stores)
        assert all(sandbox.store(h).hooks.find(CLIENT_ID)[-1].is_active for h in hashes[::DEACTIVATED_EVERY])
        # The tokens are read a chunk at a time, ten to a call, never one store at a time.
        assert ssm_calls == {"GetParameters": STORES // 10}
