"""The ``/v3/hooks`` rules: destinations, platform limits, ownership, wildcards, deactivation."""

from __future__ import annotations

import pytest

from cartwatch_tools.sandbox.errors import ApiError
from cartwatch_tools.sandbox.hooks import HookRegistry, HookStatus


def _registry(allow_http: bool = False) -> HookRegistry:
    return HookRegistry("abc123", allow_http=allow_http, clock=lambda: 1_700_000_000.0)


def _create(registry: HookRegistry, scope: str, destination: str, client: str = "app") -> None:
    registry.create(client, {"scope": scope, "destination": destination})


@pytest.mark.parametrize(
    "destination",
    [
        "http://hooks.example.com/bc",
        "https://hooks.example.com:8443/bc",
        "ftp://example.com",
        "not a url",
        42,
    ],
)
def test_destinations_must_be_https_on_443(destination: object) -> None:
    with pytest.raises(ApiError) as error:
        _registry().create("app", {"scope": "store/cart/created", "destination": destination})
    assert error.value.status == 422
    assert error.value.errors and "destination" in error.value.errors


def test_plain_http_is_allowed_when_the_sandbox_says_so() -> None:
    hook = _registry(allow_http=True).create(
        "app", {"scope": "store/cart/created", "destination": "http://127.0.0.1:8080/webhooks"}
    )
    assert hook.is_active and hook.headers is None


def test_one_hook_per_scope_and_destination_and_ten_per_scope() -> None:
    registry = _registry()
    _create(registry, "store/cart/created", "https://a.example.com/1")
    with pytest.raises(ApiError, match="Only one webhook"):
        _create(registry, "store/cart/created", "https://a.example.com/1")
    _create(registry, "store/cart/created", "https://a.example.com/1", client="another-app")
    _create(registry, "store/cart/updated", "https://a.example.com/1")
    for n in range(2, 11):
        _create(registry, "store/cart/created", f"https://a.example.com/{n}")
    with pytest.raises(ApiError, match="At most 10"):
        _create(registry, "store/cart/created", "https://a.example.com/11")


def test_hooks_belong_to_their_client() -> None:
    registry = _registry()
    hook = registry.create("app", {"scope": "store/cart/*", "destination": "https://a.example.com"})
    with pytest.raises(ApiError) as error:
        registry.get("someone-else", hook.id)
    assert error.value.status == 404
    assert registry.find("someone-else") == []
    assert [h.id for h in registry.matching("store/cart/created")] == [hook.id]


@pytest.mark.parametrize(
    ("scope", "event", "matches"),
    [
        ("store/cart/*", "store/cart/lineItem/created", True),
        ("store/cart/*", "store/cart/converted", True),
        ("store/cart/lineItem/*", "store/cart/updated", False),
        ("store/cart/created", "store/cart/created", True),
        ("store/cart/created", "store/cart/updated", False),
        ("store/channel/1/cart/*", "store/channel/1/cart/lineItem/deleted", True),
        ("store/channel/1/cart/*", "store/channel/12/cart/created", False),
        ("store/cart/*", "store/channel/1/cart/created", False),
    ],
)
def test_scope_matching(scope: str, event: str, matches: bool) -> None:
    hook = _registry().create("app", {"scope": scope, "destination": "https://a.example.com"})
    assert hook.matches(event) is matches


def test_deactivation_and_reactivation() -> None:
    registry = _registry()
    hook = registry.create("app", {"scope": "store/cart/*", "destination": "https://a.example.com"})
    registry.deactivate(hook.id)
    assert registry.get("app", hook.id).status is HookStatus.DEACTIVATED
    assert registry.matching("store/cart/created") == []
    assert registry.admin("app")["hooks_list"][0]["status"] == "deactivated"
    registry.update("app", hook.id, {"is_active": True})
    assert registry.get("app", hook.id).status is HookStatus.ACTIVE
    registry.update("app", hook.id, {"is_active": False})
    assert registry.get("app", hook.id).status is HookStatus.INACTIVE
    with pytest.raises(ApiError) as error:
        registry.update("app", hook.id, {})
    assert error.value.status == 400
