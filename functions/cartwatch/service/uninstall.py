"""Uninstall: who may declare a store gone, and what happens at once.

Only BigCommerce may, and only in a way nobody else can fake (APPS.md §3, §5.9):

* the app's **uninstall callback**, with a ``signed_payload_jwt`` verified under the app's
  client secret (``service/app_callbacks.py``), or
* a ``store/app/uninstalled`` **webhook confirmed by BigCommerce**: the webhook alone proves
  little (BigCommerce documents it for a *store's* cancellation, and in token mode anyone
  holding the hook token can send one), so the purge job asks BigCommerce with the store's
  own token.  Only a 401 — the token is dead — confirms it.  A token that still works means
  the store is still there: nothing is purged, and the refusal is logged and counted.

Either way the store is marked uninstalled and its secrets deleted at once (the receiver
stops accepting its deliveries once its cache expires), and the purge itself is queued for
the purge job (``service/purge_job.py``), delayed until no processor can still be writing
the store's carts from a cached "active" status.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from enum import StrEnum

from cartwatch.adapters.bigcommerce import BigCommerceUnauthorized
from cartwatch.adapters.purge_queue import PurgeQueue
from cartwatch.adapters.purge_records import PurgeRecords
from cartwatch.adapters.store_clients import ClientFactory
from cartwatch.adapters.store_registry import StoreWriter
from cartwatch.domain.store import StoreStatus
from cartwatch.service.purge_job import PurgeStep, encode

# Parallel scan segments of one purge.  A purge reads the whole table once whatever the
# count; more segments only make it finish sooner.
PURGE_SEGMENTS = 4
# A flood of uninstall webhooks for one store costs its API quota one call per this period.
CHECK_INTERVAL_SECONDS = 60


class StoreUninstall:
    def __init__(
        self,
        records: PurgeRecords,
        writer: StoreWriter,
        queue: PurgeQueue,
        *,
        start_delay_seconds: int,
        segments: int = PURGE_SEGMENTS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._records = records
        self._writer = writer
        self._queue = queue
        self._delay = start_delay_seconds
        self._segments = segments
        self._clock = clock

    def __call__(self, store_hash: str, cause: str) -> bool:
        """Mark the store uninstalled, delete its secrets, queue its purge.  Idempotent: a
        repeat while the purge runs queues its segments again (duplicates stop themselves).

        False when there is nothing to uninstall (no such store, or purged already).
        """
        under_way = self._records.mark_uninstalled(
            store_hash,
            purge_id=secrets.token_hex(8),
            segments=self._segments,
            now=int(self._clock()),
            cause=cause,
        )
        if under_way is None:
            return False
        steps = [
            encode(PurgeStep(store_hash, under_way.purge_id, segment, under_way.segments))
            for segment in range(under_way.segments)
        ]
        self._queue.send(steps, delay_seconds=self._delay)
        self._writer.delete_secrets(store_hash)
        return True


class UninstallVerdict(StrEnum):
    CONFIRMED = "confirmed"  # BigCommerce refused the store's token: purge under way
    REFUTED = "refuted"  # the token still works: the store is there, nothing purged
    NOTHING_TO_DO = "nothing-to-do"  # no such store, already uninstalled, or no token stored
    CHECKED_RECENTLY = "checked-recently"  # asked within CHECK_INTERVAL_SECONDS: not again


class UninstallCheck:
    """The webhook path: is this ``store/app/uninstalled`` true?  Asks BigCommerce."""

    def __init__(
        self,
        records: PurgeRecords,
        clients: ClientFactory,
        uninstall: StoreUninstall,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._records = records
        self._clients = clients
        self._uninstall = uninstall
        self._clock = clock

    def __call__(self, store_hash: str) -> UninstallVerdict:
        if self._records.status(store_hash) in (None, StoreStatus.UNINSTALLED):
            return UninstallVerdict.NOTHING_TO_DO
        api = self._clients(store_hash)
        if api is None:
            return UninstallVerdict.NOTHING_TO_DO
        now = int(self._clock())
        if not self._records.note_uninstall_check(store_hash, now=now, interval=CHECK_INTERVAL_SECONDS):
            return UninstallVerdict.CHECKED_RECENTLY
        try:
            # Needs no scope beyond the default one every token has.  BigCommerceUnavailable
            # propagates: SQS retries the check later.
            api.list_hooks()
        except BigCommerceUnauthorized as refused:
            if refused.status != 401:
                # 403: the token lives but lacks a scope — the store is still there.
                return UninstallVerdict.REFUTED
            self._uninstall(store_hash, "store/app/uninstalled webhook, token refused by BigCommerce")
            return UninstallVerdict.CONFIRMED
        return UninstallVerdict.REFUTED
