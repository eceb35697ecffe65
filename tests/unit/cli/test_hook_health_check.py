"""The daily check over every store, with in-memory stores and APIs."""

from __future__ import annotations

from dataclasses import replace

import pytest
from tests.unit.cli.fake_store_api import FakeStoreApi

from cartwatch.adapters.bigcommerce import BigCommerceUnauthorized
from cartwatch.composition import Composition
from cartwatch.domain.cart_webhooks import HOOK_SCOPES
from cartwatch.domain.stages import ChannelStages, StageSchedule
from cartwatch.domain.store import StoreRow, StoreSettings, StoreStatus
from cartwatch.service.hook_health import HookHealthCheck
from cartwatch.service.store_hooks import StoreApi, hook_destination, reconcile_hooks
from cartwatch.settings import ENV, Settings, SettingsError

BASE_URL = "https://hooks.example/webhooks/bigcommerce"


class Rows:
    def __init__(self, *store_hashes: str, status: StoreStatus = StoreStatus.ACTIVE) -> None:
        self.rows = [
            StoreRow(StoreSettings(h, StageSchedule.parse("1h"), status=status), {}, 0, own_stages=True)
            for h in store_hashes
        ]

    def all(self) -> list[StoreRow]:
        return self.rows


def healthy_api(store_hash: str) -> FakeStoreApi:
    api = FakeStoreApi()
    reconcile_hooks(api, hook_destination(BASE_URL, store_hash), "token")
    return api


def run_check(rows: Rows, apis: dict[str, StoreApi], remaining_ms: int | None = None) -> dict[str, object]:
    clock = (lambda: remaining_ms) if remaining_ms is not None else None
    return HookHealthCheck(rows, apis.get, BASE_URL, remaining_ms=clock).run().summary()


def test_a_deactivated_hook_is_counted_as_reactivated() -> None:
    api = healthy_api("one")
    api.hooks[min(api.hooks)]["is_active"] = False

    summary = run_check(Rows("one"), {"one": api})

    assert summary["hooks_reactivated"] == 1
    assert summary["unhealthy_stores"] == []


def test_refused_tokens_missing_credentials_and_uninstalled_stores_are_unrecoverable() -> None:
    refused = FakeStoreApi()
    refused.failures["list"] = BigCommerceUnauthorized("GET /v3/hooks: refused (401)", status=401)

    summary = run_check(Rows("refused", "nocreds"), {"refused": refused})
    uninstalled = run_check(Rows("gone", status=StoreStatus.UNINSTALLED), {"gone": healthy_api("gone")})

    assert summary["hooks_unrecoverable"] == 2 * len(HOOK_SCOPES)
    assert summary["unhealthy_stores"] == ["nocreds", "refused"]
    assert uninstalled["unhealthy_stores"] == ["gone"]


def test_stores_left_when_time_runs_short_are_named() -> None:
    summary = run_check(Rows("a", "b"), {"a": healthy_api("a"), "b": healthy_api("b")}, remaining_ms=1_000)

    assert summary["stores_checked"] == 0
    assert summary["not_checked"] == ["a", "b"]


def test_the_settings_need_an_https_webhook_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV.TABLE_NAME, "table")
    monkeypatch.setenv(ENV.WEBHOOK_BASE_URL, "http://hooks.example/webhooks/bigcommerce")
    with pytest.raises(SettingsError, match=ENV.WEBHOOK_BASE_URL):
        Settings.from_env()

    monkeypatch.setenv(ENV.WEBHOOK_BASE_URL, BASE_URL + "/")
    assert Settings.from_env().webhook_base_url == BASE_URL


def test_the_check_names_the_variable_it_was_not_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV.TABLE_NAME, "table")
    monkeypatch.delenv(ENV.WEBHOOK_BASE_URL, raising=False)
    with pytest.raises(SettingsError, match=ENV.WEBHOOK_BASE_URL):
        Composition("hook_health", Settings.from_env()).hook_health_check()


def test_a_channel_hook_the_store_needs_is_recreated_and_counted_when_it_cannot_be() -> None:
    channel = StoreSettings("chan", StageSchedule.parse("1h"), channel_stages=(ChannelStages.parse("3:15m"),))
    rows = Rows()
    rows.rows = [
        StoreRow(channel, {}, 0, own_stages=True),
        StoreRow(replace(channel, store_hash="gone"), {}, 0, True),
    ]
    api = healthy_api("chan")  # the store-wide hooks only: the channel's is missing

    summary = run_check(rows, {"chan": api})

    assert summary["hooks_recreated"] == 1
    assert "store/channel/3/cart/created" in {h["scope"] for h in api.hooks.values()}
    # Nothing could be checked for "gone" (no credentials): every hook it needs counts as lost.
    assert summary["hooks_unrecoverable"] == len(HOOK_SCOPES) + 1
