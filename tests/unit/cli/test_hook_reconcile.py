"""The hook reconciliation `stores add|verify|rotate-token` and the daily check share."""

from __future__ import annotations

from typing import Any

from tests.unit.cli.fake_store_api import FakeStoreApi

from cartwatch.adapters.bigcommerce import (
    BigCommerceRejected,
    BigCommerceUnauthorized,
    BigCommerceUnavailable,
)
from cartwatch.domain.cart_webhooks import HOOK_SCOPES
from cartwatch.domain.stages import ChannelStages, StageSchedule
from cartwatch.domain.store import TOKEN_HEADER, StoreSettings, WebhookAuth
from cartwatch.service import verification
from cartwatch.service.store_hooks import (
    HookOutcome,
    ScopeAccess,
    check_store,
    delete_store_hooks,
    hook_destination,
    probe_scopes,
    reconcile_hooks,
)

DESTINATION = hook_destination("https://hooks.example/webhooks/bigcommerce/", "abc123")
TOKEN = "token-one"


def hook(
    hook_id: int,
    scope: str,
    *,
    destination: str = DESTINATION,
    token: str | None = TOKEN,
    active: bool = True,
) -> dict[str, Any]:
    return {
        "id": hook_id,
        "scope": scope,
        "destination": destination,
        "headers": {TOKEN_HEADER: token} if token else None,
        "is_active": active,
    }


def registered(api: FakeStoreApi) -> FakeStoreApi:
    reconcile_hooks(api, DESTINATION, TOKEN)
    api.calls.clear()
    return api


def test_the_destination_is_the_base_url_and_the_store_hash() -> None:
    assert DESTINATION == "https://hooks.example/webhooks/bigcommerce/abc123"


def test_the_header_registered_on_hooks_authenticates_at_the_receiver() -> None:
    api = FakeStoreApi()
    reconcile_hooks(api, DESTINATION, TOKEN)
    headers = next(iter(api.hooks.values()))["headers"]
    # As API Gateway hands them over: header names lower-cased.
    delivered = {name.lower(): value for name, value in headers.items()}
    auth = WebhookAuth(client_secret=None, token=TOKEN)
    assert verification.verify_delivery(auth, b"{}", delivered, now=0.0) == "token"


def test_a_new_store_gets_one_hook_per_scope_with_the_token() -> None:
    api = FakeStoreApi()

    report = reconcile_hooks(api, DESTINATION, TOKEN)

    assert report.count(HookOutcome.CREATED) == len(HOOK_SCOPES)
    assert sorted(h["scope"] for h in api.of(DESTINATION)) == sorted(HOOK_SCOPES)
    assert all(h["headers"] == {TOKEN_HEADER: TOKEN} and h["is_active"] for h in api.of(DESTINATION))
    assert report.hook_ids == {h["scope"]: h["id"] for h in api.of(DESTINATION)}


def test_reconciling_again_changes_nothing() -> None:
    api = registered(FakeStoreApi())

    report = reconcile_hooks(api, DESTINATION, TOKEN)

    assert report.count(HookOutcome.OK) == len(HOOK_SCOPES)
    assert api.calls == ["list"]


def test_a_deactivated_hook_is_reactivated_and_a_stale_token_replaced() -> None:
    api = registered(FakeStoreApi())
    first, second = api.of(DESTINATION)[:2]
    api.hooks[first["id"]]["is_active"] = False
    api.hooks[second["id"]]["headers"] = {TOKEN_HEADER: "old"}

    report = reconcile_hooks(api, DESTINATION, TOKEN)

    assert report.count(HookOutcome.REACTIVATED) == 1
    assert report.count(HookOutcome.UPDATED) == 1
    assert all(h["is_active"] and h["headers"] == {TOKEN_HEADER: TOKEN} for h in api.of(DESTINATION))


def test_duplicates_are_deleted_keeping_the_active_hook_and_others_are_left_alone() -> None:
    scope = HOOK_SCOPES[0]
    foreign = hook(1, scope, destination="https://someone.else/hook", token="theirs")
    api = FakeStoreApi([hook(5, scope, active=False), hook(7, scope), foreign])

    report = reconcile_hooks(api, DESTINATION, TOKEN)

    assert report.duplicates_deleted == 1
    assert [h["id"] for h in api.of(DESTINATION) if h["scope"] == scope] == [7]
    assert api.hooks[1] == foreign


def test_without_a_token_the_siblings_token_is_used_and_headers_are_kept() -> None:
    api = FakeStoreApi([hook(i + 1, s) for i, s in enumerate(HOOK_SCOPES[:-1])])
    api.hooks[1]["is_active"] = False

    report = reconcile_hooks(api, DESTINATION, None)

    assert report.count(HookOutcome.REACTIVATED) == 1
    assert report.count(HookOutcome.CREATED) == 1
    assert {h["headers"][TOKEN_HEADER] for h in api.of(DESTINATION)} == {TOKEN}


def test_without_any_known_token_a_missing_hook_cannot_be_recreated() -> None:
    api = FakeStoreApi([hook(1, HOOK_SCOPES[0], token="a"), hook(2, HOOK_SCOPES[1], token="b")])

    report = reconcile_hooks(api, DESTINATION, None)

    assert len(report.failures) == len(HOOK_SCOPES) - 2
    assert all("no webhook token" in f.reason for f in report.failures)


def test_a_refused_call_stops_the_run_and_marks_the_rest_failed() -> None:
    api = FakeStoreApi()
    api.failures[f"create {HOOK_SCOPES[3]}"] = BigCommerceUnauthorized(
        "POST /v3/hooks: refused (401)", status=401
    )

    report = reconcile_hooks(api, DESTINATION, TOKEN)

    assert report.count(HookOutcome.CREATED) == 3
    assert [f.scope for f in report.failures] == list(HOOK_SCOPES[3:])
    assert report.stopped
    assert len(api.calls) == 1 + 4  # no call after the refusal


def test_health_asks_nothing_more_once_bigcommerce_has_gone_away() -> None:
    api = FakeStoreApi()
    api.failures["create"] = BigCommerceUnavailable("POST /v3/hooks: unreachable")

    health = check_store(api, DESTINATION, TOKEN)

    assert api.calls == ["list", f"create {HOOK_SCOPES[0]}"]
    assert len(health.unfixed) == len(HOOK_SCOPES)


def test_one_rejected_hook_does_not_stop_the_others() -> None:
    api = FakeStoreApi()
    api.failures[f"create {HOOK_SCOPES[0]}"] = BigCommerceRejected("POST /v3/hooks: 422 invalid", status=422)

    report = reconcile_hooks(api, DESTINATION, TOKEN)

    assert [f.scope for f in report.failures] == [HOOK_SCOPES[0]]
    assert report.count(HookOutcome.CREATED) == len(HOOK_SCOPES) - 1


def test_removal_deletes_only_the_stores_hooks() -> None:
    api = registered(FakeStoreApi([hook(1, HOOK_SCOPES[0], destination="https://someone.else/hook")]))

    assert delete_store_hooks(api, DESTINATION) == len(HOOK_SCOPES)
    assert list(api.hooks) == [1]


def test_removal_also_deletes_recorded_hooks_left_at_an_old_base_url() -> None:
    old = hook(1, HOOK_SCOPES[0], destination="https://old-api.example/webhooks/bigcommerce/abc123")
    api = FakeStoreApi([old, hook(2, HOOK_SCOPES[0], destination="https://someone.else/hook")])

    assert delete_store_hooks(api, DESTINATION, recorded_ids=[1]) == 1
    assert list(api.hooks) == [2]


def test_scope_probes_tell_refused_from_unknown() -> None:
    api = FakeStoreApi()
    api.failures["get_customers"] = BigCommerceUnauthorized("GET /v3/customers: refused (403)", status=403)
    api.failures["get_order"] = BigCommerceUnavailable("GET /v2/orders/0: unreachable")

    assert probe_scopes(api) == {
        "carts": ScopeAccess.OK,
        "customers": ScopeAccess.REFUSED,
        "orders": ScopeAccess.UNKNOWN,
    }


def test_health_lists_what_could_not_be_fixed_and_blocked_domains() -> None:
    api = FakeStoreApi()
    api.blocked = [{"destination": "hooks.example", "time_left": 120, "reasons": []}]
    api.failures["get_cart"] = BigCommerceUnauthorized("GET /v3/carts: refused (403)", status=403)

    health = check_store(api, DESTINATION, TOKEN)

    assert health.unfixed == ["the token cannot read carts"]
    assert [(b.destination, b.seconds_left) for b in health.blocked or ()] == [("hooks.example", 120)]


def test_a_channel_with_its_own_stages_gets_its_creation_hook_and_loses_it_with_them() -> None:
    api = registered(FakeStoreApi())
    settings = StoreSettings(
        "abc123", StageSchedule.parse("1h"), channel_stages=(ChannelStages.parse("2:30m"),)
    )

    report = reconcile_hooks(api, DESTINATION, TOKEN, settings.hook_scopes)

    assert [(r.scope, r.outcome) for r in report.results if r.outcome is not HookOutcome.OK] == [
        ("store/channel/2/cart/created", HookOutcome.CREATED)
    ]
    assert sorted(h["scope"] for h in api.of(DESTINATION)) == sorted(settings.hook_scopes)
    assert report.hook_ids["store/channel/2/cart/created"] in api.hooks

    # Channel 2 follows the store's stages again: its hook goes; someone else's channel hook
    # (another destination) and scopes cartwatch never registers stay.
    api.hooks[900] = hook(900, "store/channel/2/cart/created", destination="https://someone.else/hook")
    api.hooks[901] = hook(901, "store/channel/2/cart/updated")
    report = reconcile_hooks(api, DESTINATION, TOKEN, HOOK_SCOPES)

    assert [(r.scope, r.outcome) for r in report.results if r.outcome is not HookOutcome.OK] == [
        ("store/channel/2/cart/created", HookOutcome.RETIRED)
    ]
    assert "store/channel/2/cart/created" not in report.hook_ids
    assert sorted(h["scope"] for h in api.of(DESTINATION)) == sorted(
        [*HOOK_SCOPES, "store/channel/2/cart/updated"]
    )
    assert 900 in api.hooks
