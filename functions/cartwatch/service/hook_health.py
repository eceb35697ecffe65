"""The daily hook-health check: every store's hooks checked and repaired, store by store.

The reconciliation itself is ``service/store_hooks.py``, shared with ``cartwatch stores
add|verify|rotate-token``, so the CLI and the schedule never disagree on what "healthy" means.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from cartwatch.adapters.bigcommerce import BigCommerceError, BigCommerceUnauthorized
from cartwatch.domain.store import StoreRow, StoreStatus
from cartwatch.service.store_hooks import HookOutcome, StoreApi, check_store, hook_destination


class StoreCatalog(Protocol):
    def all(self) -> list[StoreRow]: ...


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
            return _unrecoverable(row, "the app was uninstalled")
        api = self._clients(store_hash)
        if api is None:
            return _unrecoverable(row, "no API credentials stored")
        try:
            health = check_store(
                api, hook_destination(self._base_url, store_hash), token=None, scopes=row.settings.hook_scopes
            )
        except BigCommerceUnauthorized:
            return _unrecoverable(row, "BigCommerce refused the access token")
        except BigCommerceError as error:
            return _unrecoverable(row, f"BigCommerce failed: {error}")
        return StoreCheck(
            store_hash,
            reactivated=health.hooks.count(HookOutcome.REACTIVATED),
            recreated=health.hooks.count(HookOutcome.CREATED),
            unrecoverable=len(health.hooks.failures),
            problems=tuple(health.unfixed),
        )


def _unrecoverable(row: StoreRow, reason: str) -> StoreCheck:
    # Nothing could be checked, so every hook the store should have counts as lost.
    settings = row.settings
    return StoreCheck(settings.store_hash, unrecoverable=len(settings.hook_scopes), problems=(reason,))
