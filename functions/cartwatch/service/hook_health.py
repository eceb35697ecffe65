"""Keeping each store's BigCommerce webhooks registered, active and carrying cartwatch's token.

One reconciliation serves ``cartwatch stores add|verify|rotate-token`` and the daily
hook-health function, so the CLI and the schedule can never disagree on what "healthy" means:

* one hook per scope in :data:`HOOK_SCOPES`, all pointing at ``{webhook base}/{store_hash}``;
* each active (BigCommerce deactivates a hook after ~48 h of failed deliveries, FACTS §2.2)
  and sending ``X-Cartwatch-Token``;
* hooks for any other destination belong to someone else and are never touched.

BigCommerce allows one hook per client + scope + destination, so duplicates should not
exist; if an older BigCommerce (or a race between two ``add`` runs) left some, the best
one is kept and the rest deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from cartwatch.adapters.bigcommerce import (
    BigCommerceError,
    BigCommerceUnauthorized,
    BigCommerceUnavailable,
)
from cartwatch.adapters.store_registry import STORE_PK, store_from_item
from cartwatch.domain.stages import DEFAULT_STAGES, StageSchedule
from cartwatch.domain.store import StoreSettings, StoreStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

HOOK_SCOPES: tuple[str, ...] = (
    "store/cart/created",
    "store/cart/updated",
    "store/cart/deleted",
    "store/cart/couponApplied",
    "store/cart/abandoned",
    "store/cart/converted",
    "store/cart/lineItem/created",
    "store/cart/lineItem/updated",
    "store/cart/lineItem/deleted",
    "store/app/uninstalled",
)
# The receiver matches it case-insensitively (service/verification.py); registered in its usual casing.
TOKEN_HEADER = "X-Cartwatch-Token"  # noqa: S105 — a header name, not a secret
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


def reconcile_hooks(api: StoreApi, destination: str, token: str | None) -> HookReport:
    """Make the store's hooks match :data:`HOOK_SCOPES`; idempotent.

    ``token`` None (the scheduled function may not read the webhook secret) means the token the
    store's hooks agree on; when they do not agree, headers are left alone and a missing hook
    cannot be re-created.
    Listing the hooks is not guarded: when that fails, nothing was done and the caller says why.
    """
    ours = [h for h in api.list_hooks() if h.get("destination") == destination]
    token = token or agreed_token(ours)
    results: list[HookResult] = []
    deleted = 0
    for index, scope in enumerate(HOOK_SCOPES):
        same_scope = [h for h in ours if h.get("scope") == scope]
        try:
            result, removed = _reconcile_scope(api, scope, destination, token, same_scope)
        except (BigCommerceUnauthorized, BigCommerceUnavailable) as error:
            # Every later call would fail the same way: stop, and say what was left undone.
            results += [HookResult(s, HookOutcome.FAILED, reason=str(error)) for s in HOOK_SCOPES[index:]]
            return HookReport(tuple(results), deleted, stopped=True)
        except BigCommerceError as error:
            result, removed = HookResult(scope, HookOutcome.FAILED, reason=str(error)), 0
        results.append(result)
        deleted += removed
    return HookReport(tuple(results), deleted)


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


def check_store(api: StoreApi, destination: str, token: str | None) -> StoreHealth:
    """`stores verify` and the daily check: repair the hooks, then look at what cannot be repaired."""
    hooks = reconcile_hooks(api, destination, token)
    if hooks.stopped:
        return StoreHealth(hooks, None, {})  # more calls would only fail (or wait) the same way
    return StoreHealth(hooks, blocked_domains(api), probe_scopes(api))


# --- the store rows ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StoreRow:
    settings: StoreSettings
    hook_ids: Mapping[str, int]
    created_at: int
    # False: the row has no stages of its own and the deployment's default stages apply.
    own_stages: bool
    # True while an uninstall's purge is still deleting the store's carts.
    purging: bool = False
    # App mode: the store owner's and the linked control-panel users' BigCommerce ids.
    app_owner_id: int | None = None
    app_users: frozenset[int] = frozenset()
    installed_by: int | None = None


class StoreCatalog(Protocol):
    def all(self) -> list[StoreRow]: ...


class StoreRows:
    """Every store's row in the cartwatch table (pk="STORE"), with the hook ids recorded in it."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def all(self) -> list[StoreRow]:
        rows: list[StoreRow] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": STORE_PK}},
        }
        while True:
            page = self._client.query(**request)
            rows += [_row(item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return rows
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get(self, store_hash: str) -> StoreRow | None:
        item = self._client.get_item(TableName=self._table, Key=_key(store_hash), ConsistentRead=True).get(
            "Item"
        )
        return _row(item) if item else None

    def record(
        self, store_hash: str, *, hook_ids: Mapping[str, int] | None = None, default_stages: bool = False
    ) -> None:
        """Record the hook ids and/or drop the row's own stages; a missing row stays missing."""
        clauses: list[str] = []
        values: dict[str, Any] = {}
        if hook_ids is not None:
            clauses.append("SET hooks = :hooks")
            values[":hooks"] = hooks_attribute(hook_ids)
        if default_stages:
            clauses.append("REMOVE stages")
        if not clauses:
            return
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": _key(store_hash),
            "UpdateExpression": " ".join(clauses),
            "ConditionExpression": "attribute_exists(pk)",
        }
        if values:
            request["ExpressionAttributeValues"] = values
        try:
            self._client.update_item(**request)
        except self._client.exceptions.ConditionalCheckFailedException:
            return  # removed meanwhile (e.g. uninstalled): nothing to record


def hooks_attribute(hook_ids: Mapping[str, int]) -> dict[str, Any]:
    return {"M": {scope: {"N": str(hook_id)} for scope, hook_id in sorted(hook_ids.items())}}


def _key(store_hash: str) -> dict[str, Any]:
    return {"pk": {"S": STORE_PK}, "sk": {"S": store_hash}}


def _row(item: dict[str, Any]) -> StoreRow:
    hooks = item.get("hooks", {}).get("M", {})
    owner = item.get("app_owner_id", {}).get("N")
    installer = item.get("installed_by", {}).get("N")
    return StoreRow(
        settings=store_from_item(item, StageSchedule.parse(DEFAULT_STAGES)),
        hook_ids={scope: int(value["N"]) for scope, value in hooks.items() if "N" in value},
        created_at=int(item.get("created_at", {}).get("N", "0")),
        own_stages="stages" in item,
        purging="purge" in item,
        app_owner_id=int(owner) if owner is not None else None,
        app_users=frozenset(int(u) for u in item.get("app_users", {}).get("NS", [])),
        installed_by=int(installer) if installer is not None else None,
    )


# --- the daily check over every store ----------------------------------------------------------


@dataclass(frozen=True)
class StoreCheck:
    store_hash: str
    reactivated: int = 0
    recreated: int = 0
    unrecoverable: int = 0
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class HookHealthReport:
    stores: tuple[StoreCheck, ...]
    not_checked: tuple[str, ...] = field(default=())

    @property
    def reactivated(self) -> int:
        return sum(s.reactivated for s in self.stores)

    @property
    def recreated(self) -> int:
        return sum(s.recreated for s in self.stores)

    @property
    def unrecoverable(self) -> int:
        return sum(s.unrecoverable for s in self.stores)

    def summary(self) -> dict[str, Any]:
        return {
            "stores_checked": len(self.stores),
            "hooks_reactivated": self.reactivated,
            "hooks_recreated": self.recreated,
            "hooks_unrecoverable": self.unrecoverable,
            "unhealthy_stores": sorted(s.store_hash for s in self.stores if s.problems),
            "not_checked": list(self.not_checked),
        }


class HookHealthCheck:
    """Checks and repairs every store's hooks, store by store; one store's trouble never stops the rest."""

    # Leave room to report: a store's check makes about a dozen calls.
    RESERVE_MS = 20_000

    def __init__(
        self,
        rows: StoreCatalog,
        clients: Callable[[str], StoreApi | None],
        webhook_base_url: str,
        remaining_ms: Callable[[], int] | None = None,
    ) -> None:
        self._rows = rows
        self._clients = clients
        self._base_url = webhook_base_url
        self._remaining_ms = remaining_ms

    def run(self) -> HookHealthReport:
        checks: list[StoreCheck] = []
        rows = self._rows.all()
        for index, row in enumerate(rows):
            if self._remaining_ms is not None and self._remaining_ms() < self.RESERVE_MS:
                # Tomorrow's run starts over; say who waits until then.
                return HookHealthReport(tuple(checks), tuple(r.settings.store_hash for r in rows[index:]))
            checks.append(self.check(row))
        return HookHealthReport(tuple(checks))

    def check(self, row: StoreRow) -> StoreCheck:
        store_hash = row.settings.store_hash
        if row.settings.status is StoreStatus.UNINSTALLED:
            return _unrecoverable(store_hash, "the app was uninstalled")
        api = self._clients(store_hash)
        if api is None:
            return _unrecoverable(store_hash, "no API credentials stored")
        try:
            health = check_store(api, hook_destination(self._base_url, store_hash), token=None)
        except BigCommerceUnauthorized:
            return _unrecoverable(store_hash, "BigCommerce refused the access token")
        except BigCommerceError as error:
            return _unrecoverable(store_hash, f"BigCommerce failed: {error}")
        return StoreCheck(
            store_hash,
            reactivated=health.hooks.count(HookOutcome.REACTIVATED),
            recreated=health.hooks.count(HookOutcome.CREATED),
            unrecoverable=len(health.hooks.failures),
            problems=tuple(health.unfixed),
        )


def _unrecoverable(store_hash: str, reason: str) -> StoreCheck:
    # Nothing could be checked, so every hook the store should have counts as lost.
    return StoreCheck(store_hash, unrecoverable=len(HOOK_SCOPES), problems=(reason,))
