"""The check over every store, in cycles of turns, with in-memory stores, APIs and cycle."""

from __future__ import annotations

from dataclasses import replace

import pytest
from tests.unit.cli.fake_store_api import FakeStoreApi

from cartwatch.adapters.bigcommerce import BigCommerceUnauthorized
from cartwatch.adapters.hook_health_cycle import Cycle
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

    def _after(self, cursor: str | None) -> list[StoreRow]:
        ordered = sorted(self.rows, key=lambda r: r.settings.store_hash)
        return [r for r in ordered if cursor is None or r.settings.store_hash > cursor]

    def page_after(self, cursor: str | None, limit: int) -> tuple[list[StoreRow], bool]:
        after = self._after(cursor)
        return after[:limit], len(after) > limit

    def hashes_after(self, cursor: str | None, limit: int) -> tuple[list[str], int]:
        after = [r.settings.store_hash for r in self._after(cursor)]
        return after[:limit], len(after)


class MemoryCycle:
    """``adapters/hook_health_cycle.CycleRecord`` in memory."""

    def __init__(self) -> None:
        self.cycle = Cycle(None, None, 0, None)
        self.lease_until: int | None = None

    def claim(self, now: int, lease_seconds: int) -> Cycle | None:
        if self.lease_until is not None and self.lease_until >= now:
            return None
        self.lease_until = now + lease_seconds
        return self.cycle

    def start(self, now: int) -> Cycle:
        self.cycle = Cycle(now, None, 0, None)
        return self.cycle

    def advance(self, cycle: Cycle, cursor: str, checked: int, *, finished_at: int | None = None) -> Cycle:
        assert cycle.started_at == self.cycle.started_at
        self.cycle = Cycle(cycle.started_at, cursor, self.cycle.checked + checked, finished_at)
        return self.cycle

    def finish(self, cycle: Cycle, now: int) -> Cycle:
        self.cycle = replace(self.cycle, finished_at=now)
        return self.cycle

    def release(self) -> None:
        self.lease_until = None


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def healthy_api(store_hash: str) -> FakeStoreApi:
    api = FakeStoreApi()
    reconcile_hooks(api, hook_destination(BASE_URL, store_hash), "token")
    return api


def hook_health(
    rows: Rows,
    apis: dict[str, StoreApi],
    *,
    cycle: MemoryCycle | None = None,
    clock: Clock | None = None,
    remaining_ms: object = None,
) -> HookHealthCheck:
    return HookHealthCheck(
        rows,
        apis.get,
        BASE_URL,
        remaining_ms=remaining_ms,  # type: ignore[arg-type]
        cycle=cycle or MemoryCycle(),
        period_seconds=86_400,
        workers=4,
        clock=clock or Clock(),
    )


def run_check(rows: Rows, apis: dict[str, StoreApi], remaining_ms: int | None = None) -> dict[str, object]:
    clock = (lambda: remaining_ms) if remaining_ms is not None else None
    return hook_health(rows, apis, remaining_ms=clock).run().summary()


def test_a_deactivated_hook_is_counted_as_reactivated() -> None:
    api = healthy_api("one")
    api.hooks[min(api.hooks)]["is_active"] = False

    summary = run_check(Rows("one"), {"one": api})

    assert summary["hooks_reactivated"] == 1
    assert summary["unhealthy_stores"] == []


def test_a_healthy_store_costs_one_call_a_cycle_and_its_scopes_three_more_one_cycle_in_seven() -> None:
    hashes = [f"s{n:03d}" for n in range(70)]
    apis = {h: healthy_api(h) for h in hashes}
    for api in apis.values():
        api.calls.clear()

    check = hook_health(Rows(*hashes), dict(apis))
    report = check.run()

    assert len(report.stores) == len(hashes) and not any(s.problems for s in report.stores)
    costs = {h: apis[h].calls for h in hashes}
    probed = [h for h in hashes if costs[h] == ["list", "get_cart", "get_customers", "get_order"]]
    assert all(costs[h] == ["list"] for h in hashes if h not in probed)  # never the blocked domains
    # The stores whose scopes this cycle probes: a seventh of them, spread by their hash.
    assert 0 < len(probed) < len(hashes) / 3


def test_refused_tokens_missing_credentials_and_uninstalled_stores_are_unrecoverable() -> None:
    refused = FakeStoreApi()
    refused.failures["list"] = BigCommerceUnauthorized("GET /v3/hooks: refused (401)", status=401)

    summary = run_check(Rows("refused", "nocreds"), {"refused": refused})
    uninstalled = run_check(Rows("gone", status=StoreStatus.UNINSTALLED), {"gone": healthy_api("gone")})

    assert summary["hooks_unrecoverable"] == 2 * len(HOOK_SCOPES)
    assert summary["unhealthy_stores"] == ["nocreds", "refused"]
    assert uninstalled["unhealthy_stores"] == ["gone"]


class Turns:
    """A budget of ``chunks_per_turn`` chunks for each turn (the time a turn has left)."""

    def __init__(self, chunks_per_turn: int) -> None:
        self.per_turn = chunks_per_turn
        self.left = chunks_per_turn

    def next_turn(self) -> None:
        self.left = self.per_turn

    def __call__(self) -> int:
        # Asked once before each chunk: a turn has time for ``per_turn`` of them.
        self.left -= 1
        return 60_000 if self.left >= 0 else 0


def test_turns_go_on_where_the_last_stopped_until_every_store_was_checked_once() -> None:
    hashes = [f"s{n:03d}" for n in range(3 * HookHealthCheck.CHUNK + 7)]
    apis: dict[str, StoreApi] = {h: healthy_api(h) for h in hashes}
    cycle, clock, budget = MemoryCycle(), Clock(), Turns(chunks_per_turn=1)
    check = hook_health(Rows(*hashes), apis, cycle=cycle, clock=clock, remaining_ms=budget)

    reports = []
    for _ in range(6):
        reports.append(check.run())
        budget.next_turn()
        clock.now += 600

    checked = [s.store_hash for r in reports for s in r.stores]
    assert checked == hashes  # every store once, in order, over four turns
    assert [len(r.stores) for r in reports] == [40, 40, 40, 7, 0, 0]
    assert reports[3].cycle_finished and reports[3].cycle_checked == len(hashes)
    assert reports[4].skipped == "every store was checked in this period"
    assert all(r.not_checked_count == 0 for r in reports)


def test_a_new_cycle_starts_a_period_after_the_last_one_began() -> None:
    apis: dict[str, StoreApi] = {h: healthy_api(h) for h in ("a", "b")}
    cycle, clock = MemoryCycle(), Clock()
    check = hook_health(Rows("a", "b"), apis, cycle=cycle, clock=clock)
    first = check.run()
    clock.now += 86_399
    assert check.run().stores == ()
    clock.now += 1
    second = check.run()

    assert [s.store_hash for s in second.stores] == ["a", "b"]
    assert second.cycle_started_at == first.cycle_started_at + 86_400  # type: ignore[operator]


def test_stores_a_period_did_not_reach_are_reported() -> None:
    hashes = [f"s{n:03d}" for n in range(2 * HookHealthCheck.CHUNK + 5)]
    apis: dict[str, StoreApi] = {h: healthy_api(h) for h in hashes}
    cycle, clock, budget = MemoryCycle(), Clock(), Turns(chunks_per_turn=1)
    check = hook_health(Rows(*hashes), apis, cycle=cycle, clock=clock, remaining_ms=budget)
    check.run()  # one chunk; then the period runs out before the next turn
    budget.next_turn()
    clock.now += 86_400
    late = check.run()

    # The turn still checks what it can, and names the stores the period did not reach.
    assert [s.store_hash for s in late.stores] == hashes[40:80]
    assert late.not_checked_count == 5
    assert late.not_checked == tuple(hashes[80:])
    assert late.summary()["not_checked_count"] == 5


def test_a_turn_already_running_makes_another_skip() -> None:
    cycle = MemoryCycle()
    assert cycle.claim(1_800_000_000, 60) is not None  # an invocation holds the lease
    report = hook_health(Rows("a"), {"a": healthy_api("a")}, cycle=cycle).run()
    assert report.stores == ()
    assert report.skipped == "another invocation is checking"


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
