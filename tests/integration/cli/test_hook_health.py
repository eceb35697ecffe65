"""The daily hook-health function over stores added with `cartwatch stores add`."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest
from tests.integration.cli.cli_support import (
    CLIENT_ID,
    WEBHOOK_BASE_URL,
    CliRun,
    Shop,
    token_headers,
    webhook_token,
)
from tests.integration.conftest import Aws
from tests.support import FakeLambdaContext, emf_metrics, unique_name

from cartwatch.domain.cart_webhooks import HOOK_SCOPES
from cartwatch.handlers.hook_health import handler
from cartwatch.service.hook_health import HookHealthCheck
from cartwatch_tools.sandbox import BigCommerceSandbox

Cli = Callable[..., CliRun]


def check(aws: Aws, sandbox: BigCommerceSandbox) -> HookHealthCheck:
    """The hook-health function's check, as the composition root builds it."""
    function = aws.function("hook_health", bigcommerce_api_url=sandbox.url, webhook_base_url=WEBHOOK_BASE_URL)
    return function.hook_health_check()


@pytest.fixture
def second_shop(sandbox: BigCommerceSandbox) -> Shop:
    access_token, client_secret = secrets.token_hex(12), secrets.token_hex(12)
    store = sandbox.add_store(unique_name("s"), access_token, client_secret, client_id=CLIENT_ID)
    return Shop(store, access_token, client_secret)


def test_deactivated_hooks_come_back_and_refused_stores_are_reported(
    cli: Cli,
    shop: Shop,
    second_shop: Shop,
    aws: Aws,
    sandbox: BigCommerceSandbox,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli(*shop.add_args()).code == 0
    assert cli(*second_shop.add_args()).code == 0
    victim = shop.hooks()[2]
    shop.store.deactivate_hook(victim.id)
    missing = shop.hooks()[5]
    shop.store.hooks.delete(CLIENT_ID, missing.id)
    sandbox.inject_faults(rf"^/stores/{second_shop.hash}/", [401] * 20)  # its token was revoked

    summary = handler({}, FakeLambdaContext(), check=check(aws, sandbox))

    assert summary["stores_checked"] == 2
    assert summary["hooks_reactivated"] == 1
    assert summary["hooks_recreated"] == 1
    assert summary["hooks_unrecoverable"] == len(HOOK_SCOPES)
    assert summary["unhealthy_stores"] == [second_shop.hash]
    assert shop.store.hooks.get(CLIENT_ID, victim.id).is_active
    # The function cannot read the webhook secret; the re-created hook got the siblings' token.
    assert sorted(h.scope for h in shop.hooks()) == sorted(HOOK_SCOPES)
    assert token_headers(shop) == {webhook_token(aws, shop.hash)}

    metrics = emf_metrics(capsys.readouterr().out)
    per_store = {(m["name"], m["dimensions"].get("store_hash")): m["value"] for m in metrics}
    assert per_store[("HooksReactivated", shop.hash)] == 1
    assert per_store[("HooksUnrecoverable", second_shop.hash)] == len(HOOK_SCOPES)
    assert ("HooksUnrecoverable", shop.hash) not in per_store
    assert per_store[("HooksReactivated", None)] == 1


def test_a_healthy_fleet_changes_nothing(cli: Cli, shop: Shop, aws: Aws, sandbox: BigCommerceSandbox) -> None:
    assert cli(*shop.add_args()).code == 0
    before = shop.hooks()

    summary = handler({}, FakeLambdaContext(), check=check(aws, sandbox))

    assert summary == {
        "stores_checked": 1,
        "hooks_reactivated": 0,
        "hooks_recreated": 0,
        "hooks_unrecoverable": 0,
        "unhealthy_stores": [],
        "not_checked": [],
        "not_checked_count": 0,
        "cycle_started_at": summary["cycle_started_at"],
        "cycle_checked": 1,
        "cycle_finished": True,
        "skipped": None,
    }
    assert shop.hooks() == before
