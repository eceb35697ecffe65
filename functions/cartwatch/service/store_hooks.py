"""Keeping each store's BigCommerce webhooks registered, active and carrying cartwatch's token.

One reconciliation serves ``cartwatch stores add|verify|rotate-token`` and the daily
hook-health function, so the CLI and the schedule can never disagree on what "healthy" means:

* one hook per scope in :data:`HOOK_SCOPES`, and one per channel with stages of its own
  (``StoreSettings.hook_scopes``), all pointing at ``{webhook base}/{store_hash}``; a channel's
  hook is retired when its channel no longer has stages of its own;
* each active (BigCommerce deactivates a hook after ~48 h of failed deliveries, FACTS §2.2)
  and sending ``X-Cartwatch-Token``;
* hooks for any other destination belong to someone else and are never touched.

BigCommerce allows one hook per client + scope + destination, so duplicates should not
exist; if an older BigCommerce (or a race between two ``add`` runs) left some, the best
one is kept and the rest deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from cartwatch.adapters.bigcommerce import (
    BigCommerceError,
    BigCommerceUnauthorized,
    BigCommerceUnavailable,
)
from cartwatch.domain.cart_webhooks import HOOK_SCOPES, is_channel_hook_scope
from cartwatch.domain.store import TOKEN_HEADER

# A cart id no store can hold: reading it proves the Carts scope without touching a real cart.
_NO_SUCH_CART = "00000000-0000-0000-0000-000000000000"


def hook_destination(webhook_base_url: str, store_hash: str) -> str:
    return f"{webhook_base_url.rstrip('/')}/{store_hash}"


class StoreApi(Protocol):
    """The part of :class:`~cartwatch.adapters.bigcommerce.BigCommerceClient` used here."""

    def list_hooks(self) -> list[dict[str, Any]]: ...
    def create_hook(
        self, scope: str, destination: str, headers: Mapping[str, str] | None, is_active: bool = True
    ) -> dict[str, Any]: ...
    def update_hook(self, hook_id: int, **fields: Any) -> dict[str, Any]: ...
    def delete_hook(self, hook_id: int) -> dict[str, Any] | None: ...
    def get_hooks_admin(self) -> dict[str, Any]: ...
    def get_cart(self, cart_id: str) -> dict[str, Any] | None: ...
    def get_customers(self, ids: Sequence[int]) -> list[dict[str, Any]]: ...
    def get_order(self, order_id: int) -> dict[str, Any] | None: ...


# --- one store's hooks -------------------------------------------------------------------------


class HookOutcome(StrEnum):
    OK = "ok"
    CREATED = "created"
    REACTIVATED = "reactivated"
    UPDATED = "updated"  # headers rewritten: a new or rotated token
    RETIRED = "retired"  # a channel's hook, deleted: the channel no longer has stages of its own
    FAILED = "failed"


@dataclass(frozen=True)
class HookResult:
    scope: str
    outcome: HookOutcome
    hook_id: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class HookReport:
    results: tuple[HookResult, ...]
    duplicates_deleted: int = 0
    stopped: bool = False  # BigCommerce refused or went away part-way; the rest was not tried

    def count(self, outcome: HookOutcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    @property
    def failures(self) -> list[HookResult]:
        return [r for r in self.results if r.outcome is HookOutcome.FAILED]

    @property
    def hook_ids(self) -> dict[str, int]:
        return {r.scope: r.hook_id for r in self.results if r.hook_id is not None}


def reconcile_hooks(
    api: StoreApi, destination: str, token: str | None, scopes: Sequence[str] = HOOK_SCOPES
) -> HookReport:
    """Make the store's hooks match ``scopes`` (``StoreSettings.hook_scopes``); idempotent.

    ``token`` None (the scheduled function may not read the webhook secret) means the token the
    store's hooks agree on; when they do not agree, headers are left alone and a missing hook
    cannot be re-created.  A channel's hook at the destination whose channel is no longer in
    ``scopes`` is retired.
    Listing the hooks is not guarded: when that fails, nothing was done and the caller says why.
    """
    ours = [h for h in api.list_hooks() if h.get("destination") == destination]
    token = token or agreed_token(ours)
    results: list[HookResult] = []
    deleted = 0
    retiring = sorted(
        {str(h.get("scope")) for h in ours if is_channel_hook_scope(str(h.get("scope")))} - {*scopes}
    )
    steps = [*((scope, False) for scope in scopes), *((scope, True) for scope in retiring)]
    for index, (scope, retire) in enumerate(steps):
        same_scope = [h for h in ours if h.get("scope") == scope]
        try:
            if retire:
                result, removed = _retire_scope(api, scope, same_scope), 0
            else:
                result, removed = _reconcile_scope(api, scope, destination, token, same_scope)
        except (BigCommerceUnauthorized, BigCommerceUnavailable) as error:
            # Every later call would fail the same way: stop, and say what was left undone.
            results += [HookResult(s, HookOutcome.FAILED, reason=str(error)) for s, _ in steps[index:]]
            return HookReport(tuple(results), deleted, stopped=True)
        except BigCommerceError as error:
            result, removed = HookResult(scope, HookOutcome.FAILED, reason=str(error)), 0
        results.append(result)
        deleted += removed
    return HookReport(tuple(results), deleted)


def _retire_scope(api: StoreApi, scope: str, existing: list[dict[str, Any]]) -> HookResult:
    for hook in existing:
        api.delete_hook(_hook_id(hook))
    return HookResult(scope, HookOutcome.RETIRED)


def _reconcile_scope(
    api: StoreApi, scope: str, destination: str, token: str | None, existing: list[dict[str, Any]]
) -> tuple[HookResult, int]:
    if not existing:
        if token is None:
            return HookResult(scope, HookOutcome.FAILED, reason="missing, and no webhook token is known"), 0
        created = api.create_hook(scope, destination, {TOKEN_HEADER: token})
        return HookResult(scope, HookOutcome.CREATED, _hook_id(created)), 0
    keep, *stale = sorted(
        existing, key=lambda h: (not h.get("is_active"), hook_token(h) != token, _hook_id(h))
    )
    changes: dict[str, Any] = {}
    if not keep.get("is_active"):
        changes["is_active"] = True
    if token is not None and keep.get("headers") != {TOKEN_HEADER: token}:
        changes["headers"] = {TOKEN_HEADER: token}
    if changes:
        api.update_hook(_hook_id(keep), **changes)
    for hook in stale:
        api.delete_hook(_hook_id(hook))
    if "is_active" in changes:
        outcome = HookOutcome.REACTIVATED
    else:
        outcome = HookOutcome.UPDATED if changes else HookOutcome.OK
    return HookResult(scope, outcome, _hook_id(keep)), len(stale)


def delete_store_hooks(api: StoreApi, destination: str, recorded_ids: Iterable[int] = ()) -> int:
    """Delete the store's hooks: any scope at its destination, and those its row recorded
    (still ours if the webhook base URL has changed since); returns how many."""
    recorded = set(recorded_ids)
    ours = [h for h in api.list_hooks() if h.get("destination") == destination or _hook_id(h) in recorded]
    for hook in ours:
        api.delete_hook(_hook_id(hook))
    return len(ours)


def agreed_token(hooks: Iterable[Mapping[str, Any]]) -> str | None:
    """The token the hooks carry, if they agree on one (a half-done rotation leaves two)."""
    tokens = {t for t in (hook_token(h) for h in hooks) if t}
    return tokens.pop() if len(tokens) == 1 else None


def hook_token(hook: Mapping[str, Any]) -> str | None:
    headers = hook.get("headers") or {}
    # Header names are case-insensitive; BigCommerce echoes them as they were registered.
    for name, value in headers.items():
        if name.lower() == TOKEN_HEADER.lower() and isinstance(value, str):
            return value
    return None


def _hook_id(hook: Mapping[str, Any]) -> int:
    return int(hook["id"])


# --- what else `verify` looks at ---------------------------------------------------------------


class ScopeAccess(StrEnum):
    OK = "ok"
    REFUSED = "refused"
    UNKNOWN = "unknown"  # BigCommerce could not be asked


_SCOPE_PROBES: tuple[tuple[str, Callable[[StoreApi], object]], ...] = (
    ("carts", lambda api: api.get_cart(_NO_SUCH_CART)),
    ("customers", lambda api: api.get_customers([0])),
    ("orders", lambda api: api.get_order(0)),
)


def probe_scopes(api: StoreApi) -> dict[str, ScopeAccess]:
    """Which read scopes enrichment needs does the token have?  One harmless read each."""
    access: dict[str, ScopeAccess] = {}
    for name, probe in _SCOPE_PROBES:
        try:
            probe(api)
            access[name] = ScopeAccess.OK
        except BigCommerceUnauthorized:
            access[name] = ScopeAccess.REFUSED
        except BigCommerceUnavailable:
            access[name] = ScopeAccess.UNKNOWN
        except BigCommerceError:
            # A 404 or 422 comes after the scope check: the token may read there.
            access[name] = ScopeAccess.OK
    return access


@dataclass(frozen=True)
class BlockedDomain:
    destination: str
    seconds_left: int


def blocked_domains(api: StoreApi) -> tuple[BlockedDomain, ...] | None:
    """Domains BigCommerce is holding deliveries back from (FACTS §2.5); None if unknown."""
    try:
        admin = api.get_hooks_admin()
    except BigCommerceError:
        return None
    return tuple(
        BlockedDomain(str(b.get("destination", "")), int(b.get("time_left") or 0))
        for b in admin.get("blocked_domains") or []
        if isinstance(b, dict)
    )


@dataclass(frozen=True)
class StoreHealth:
    hooks: HookReport
    blocked: tuple[BlockedDomain, ...] | None
    scopes: dict[str, ScopeAccess]

    @property
    def unfixed(self) -> list[str]:
        """What is still wrong after the repair, one phrase each (empty when healthy)."""
        problems = [f"hook {r.scope}: {r.reason}" for r in self.hooks.failures]
        problems += [
            f"the token cannot read {name}" for name, a in self.scopes.items() if a is ScopeAccess.REFUSED
        ]
        return problems


def check_store(
    api: StoreApi,
    destination: str,
    token: str | None,
    hook_scopes: Sequence[str] = HOOK_SCOPES,
    *,
    scopes: bool = True,
    blocked: bool = True,
) -> StoreHealth:
    """`stores verify` and the scheduled check: repair the store's hooks (``hook_scopes``: the
    store-wide ones and those of its channels with stages of their own), then look at what
    cannot be repaired (the token's scopes only when ``scopes``; the blocked domains only when
    ``blocked``, else ``StoreHealth.blocked`` is None: not looked at)."""
    hooks = reconcile_hooks(api, destination, token, hook_scopes)
    if hooks.stopped:
        return StoreHealth(hooks, None, {})  # more calls would only fail (or wait) the same way
    return StoreHealth(hooks, blocked_domains(api) if blocked else None, probe_scopes(api) if scopes else {})
