"""The hook-health check: every store's hooks checked and repaired once per period, in turns.

The reconciliation itself is ``service/store_hooks.py``, shared with ``cartwatch stores
add|verify|rotate-token``, so the CLI and the schedule never disagree on what "healthy" means.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from cartwatch.adapters.bigcommerce import BigCommerceError, BigCommerceUnauthorized
from cartwatch.adapters.hook_health_cycle import Cycle
from cartwatch.domain.store import StoreRow, StoreStatus
from cartwatch.service.store_hooks import HookOutcome, StoreApi, check_store, hook_destination


class StoreCatalog(Protocol):
    def page_after(self, cursor: str | None, limit: int) -> tuple[list[StoreRow], bool]: ...
    def hashes_after(self, cursor: str | None, limit: int) -> tuple[list[str], int]: ...


@dataclass(frozen=True)
class StoreCheck:
    store_hash: str
    reactivated: int = 0
    recreated: int = 0
    unrecoverable: int = 0
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class HookHealthReport:
    """One invocation's turn: the stores it checked, and where the cycle stands."""

    stores: tuple[StoreCheck, ...]
    # Stores the cycle has not reached although its period is over: the first ones, and how
    # many there are in all.  Empty while the cycle is on time.
    not_checked: tuple[str, ...] = field(default=())
    not_checked_count: int = 0
    cycle_started_at: int | None = None
    cycle_checked: int = 0
    cycle_finished: bool = False
    skipped: str | None = None  # why this invocation checked nothing (another holds the lease…)

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
            "not_checked_count": self.not_checked_count,
            "cycle_started_at": self.cycle_started_at,
            "cycle_checked": self.cycle_checked,
            "cycle_finished": self.cycle_finished,
            "skipped": self.skipped,
        }


class CycleStore(Protocol):
    """Where the walk over every store stands (``adapters/hook_health_cycle.py``)."""

    def claim(self, now: int, lease_seconds: int) -> Cycle | None: ...
    def start(self, now: int) -> Cycle: ...
    def advance(
        self, cycle: Cycle, cursor: str, checked: int, *, finished_at: int | None = None
    ) -> Cycle: ...
    def finish(self, cycle: Cycle, now: int) -> Cycle: ...
    def release(self) -> None: ...


class HookHealthCheck:
    """Checks and repairs every store's hooks once per period, a turn at a time.

    A scheduled invocation every few minutes takes a turn: it walks the store rows in hash
    order from where the last turn stopped (the persisted cycle), checks them a chunk at a
    time with ``workers`` stores in parallel (each store's quota is its own), records the
    cursor after every chunk, and stops before its time runs out.  When the walk reaches the
    last store the cycle is finished, and the next one starts ``period_seconds`` after the
    last one began — so every store is checked once per period, however many stores there
    are, as long as the turns in a period can reach them all.  When the period is over and
    the cycle is not, the stores it has not reached are reported (``StoresNotChecked``).
    One store's trouble never stops the rest.
    """

    # Leave room to record and report: a store's check makes about a dozen calls.
    RESERVE_MS = 20_000
    CHUNK = 40
    # A store's token scopes (three probes) are read in one cycle of this many: with daily
    # cycles, weekly — scopes rarely change, and enrichment reports a refused read at once;
    # every cycle costs a healthy store one call (its hooks) instead of four.  Its blocked
    # domains are not read at all: BigCommerce blocks a domain for minutes (``time_left``),
    # which a daily look samples by chance; the receiver's 5xx alarms and `stores verify`
    # are where a block shows.
    SCOPE_PROBE_CYCLES = 7

    def __init__(
        self,
        rows: StoreCatalog,
        clients: Callable[[str], StoreApi | None],
        webhook_base_url: str,
        remaining_ms: Callable[[], int] | None = None,
        *,
        cycle: CycleStore,
        period_seconds: int = 86_400,
        workers: int = 8,
        prefetch: Callable[[Sequence[str]], object] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``prefetch``: reads a chunk's credentials at once (batched), before its checks."""
        self._rows = rows
        self._clients = clients
        self._base_url = webhook_base_url
        self._remaining_ms = remaining_ms
        self._cycle = cycle
        self._period = period_seconds
        self._workers = workers
        self._prefetch = prefetch
        self._clock = clock

    def run(self) -> HookHealthReport:
        now = int(self._clock())
        # Longer than any invocation (Lambda's limit is 15 minutes): a crashed turn's lease lapses.
        cycle = self._cycle.claim(now, lease_seconds=16 * 60)
        if cycle is None:
            return HookHealthReport((), skipped="another invocation is checking")
        try:
            return self._turn(cycle, now)
        finally:
            self._cycle.release()

    def _turn(self, cycle: Cycle, now: int) -> HookHealthReport:
        if cycle.finished:
            if cycle.started_at is not None and now < cycle.started_at + self._period:
                return HookHealthReport(
                    (),
                    cycle_started_at=cycle.started_at,
                    cycle_checked=cycle.checked,
                    cycle_finished=True,
                    skipped="every store was checked in this period",
                )
            cycle = self._cycle.start(now)
        checks: list[StoreCheck] = []
        number = (cycle.started_at or 0) // self._period  # which cycle: whose scopes are probed
        with ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="hook-health") as pool:
            while not cycle.finished and not self._out_of_time():
                rows, more = self._rows.page_after(cycle.cursor, self.CHUNK)
                if not rows:
                    cycle = self._cycle.finish(cycle, int(self._clock()))
                    break
                if self._prefetch is not None:
                    # Every store whose check reads its token (an uninstalled one's does not).
                    self._prefetch(
                        [r.settings.store_hash for r in rows if r.settings.status != StoreStatus.UNINSTALLED]
                    )
                chunk = list(pool.map(lambda row: self.check(row, scopes=_probe_due(row, number)), rows))
                checks += chunk
                cycle = self._cycle.advance(
                    cycle,
                    rows[-1].settings.store_hash,
                    len(chunk),
                    finished_at=None if more else int(self._clock()),
                )
        return self._report(tuple(checks), cycle, now)

    def _report(self, checks: tuple[StoreCheck, ...], cycle: Cycle, now: int) -> HookHealthReport:
        overdue = cycle.started_at is not None and now >= cycle.started_at + self._period
        not_checked: list[str] = []
        count = 0
        if overdue and not cycle.finished:
            not_checked, count = self._rows.hashes_after(cycle.cursor, limit=50)
        return HookHealthReport(
            checks,
            not_checked=tuple(not_checked),
            not_checked_count=count,
            cycle_started_at=cycle.started_at,
            cycle_checked=cycle.checked,
            cycle_finished=cycle.finished,
        )

    def _out_of_time(self) -> bool:
        return self._remaining_ms is not None and self._remaining_ms() < self.RESERVE_MS

    def check(self, row: StoreRow, *, scopes: bool = True) -> StoreCheck:
        store_hash = row.settings.store_hash
        if row.settings.status is StoreStatus.UNINSTALLED:
            return _unrecoverable(row, "the app was uninstalled")
        api = self._clients(store_hash)
        if api is None:
            return _unrecoverable(row, "no API credentials stored")
        try:
            health = check_store(
                api,
                hook_destination(self._base_url, store_hash),
                token=None,
                hook_scopes=row.settings.hook_scopes,
                scopes=scopes,
                blocked=False,
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


def _probe_due(row: StoreRow, cycle_number: int) -> bool:
    """Whether this cycle probes the store's scopes: one cycle in ``SCOPE_PROBE_CYCLES``, spread
    over the stores by their hash."""
    turn = zlib.crc32(row.settings.store_hash.encode()) % HookHealthCheck.SCOPE_PROBE_CYCLES
    return turn == cycle_number % HookHealthCheck.SCOPE_PROBE_CYCLES


def _unrecoverable(row: StoreRow, reason: str) -> StoreCheck:
    # Nothing could be checked, so every hook the store should have counts as lost.
    settings = row.settings
    return StoreCheck(settings.store_hash, unrecoverable=len(settings.hook_scopes), problems=(reason,))
