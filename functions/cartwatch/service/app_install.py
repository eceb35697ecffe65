"""Install: the auth callback's code exchanged for the store's token, the store connected.

What ``cartwatch stores add`` does, with BigCommerce's OAuth in place of a pasted token:
the token is stored like a store-level account's, the hooks are registered by the same
reconciliation (idempotent: a re-install reuses or repairs them, and since BigCommerce
deletes an app's hooks on uninstall, re-creates them), and the store starts with the
deployment's default stages.  Its hooks are signed with the app's client secret, so the
store requires the Standard Webhooks signature from the start.

Every failure leaves no half-connected store: a store that was not connected before is put
back exactly as it was (no secrets, no row or its old tombstone, no hooks), and the merchant
gets a page saying what to do.  A store already connected (a re-authorization after a scope
change) keeps its settings; its new token replaces the old one, which BigCommerce voids.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cartwatch.adapters.bigcommerce import BigCommerceClient, BigCommerceError
from cartwatch.adapters.bigcommerce_login import BigCommerceLogin, CodeRefused, LoginUnavailable
from cartwatch.adapters.callback_ledger import CallbackLedger, CodeOutcome
from cartwatch.adapters.store_registry import StoreSecrets, StoreWriter
from cartwatch.adapters.store_rows import StoreRows, hooks_attribute
from cartwatch.domain.app_install import AppCredentials, missing_scopes, store_hash_of
from cartwatch.domain.eligibility import EligibilityRules
from cartwatch.domain.shopper import DEFAULT_REMINDERS
from cartwatch.domain.stages import StageSchedule
from cartwatch.domain.store import StoreConnection, StoreRow, StoreSettings, StoreStatus
from cartwatch.service.store_hooks import delete_store_hooks, hook_destination, reconcile_hooks

logger = logging.getLogger(__name__)

# An install code's claim outlives any code BigCommerce would still accept.
CODE_CLAIM_SECONDS = 3600
_CODE = re.compile(r"^[A-Za-z0-9._~-]{1,512}$")

ClientBuilder = Callable[[str, str], BigCommerceClient]  # (store_hash, access_token) -> client


class InstallFailure(StrEnum):
    """Why an install failed; each has its page for the merchant (handlers/app_pages.py)."""

    BAD_REQUEST = "bad-request"
    NOT_CONFIGURED = "not-configured"
    CODE_REFUSED = "code-refused"
    CODE_REUSED = "code-reused"
    IN_PROGRESS = "in-progress"
    LOGIN_UNAVAILABLE = "login-unavailable"
    SCOPES_MISSING = "scopes-missing"
    STILL_PURGING = "still-purging"
    HOOKS_REFUSED = "hooks-refused"


class InstallFailed(Exception):
    """``failure`` picks the merchant's page; the message is for the operator's log."""

    def __init__(self, failure: InstallFailure, detail: str, store_hash: str | None = None) -> None:
        super().__init__(detail)
        self.failure = failure
        self.store_hash = store_hash


@dataclass(frozen=True)
class Installed:
    store_hash: str
    hooks: int  # hooks registered and healthy
    repeated: bool = False  # the same code came again: this shows the first request's result


class AppInstaller:
    def __init__(
        self,
        *,
        app: Callable[[], AppCredentials],
        login: BigCommerceLogin,
        ledger: CallbackLedger,
        secrets: StoreSecrets,
        writer: StoreWriter,
        rows: StoreRows,
        clients: ClientBuilder,
        webhook_base_url: str,
        redirect_uri: str,
        default_stages: StageSchedule,
        clock: Callable[[], float] = time.time,
        new_token: Callable[[], str] = lambda: secrets.token_urlsafe(32),
    ) -> None:
        self._app = app
        self._login = login
        self._ledger = ledger
        self._secrets = secrets
        self._writer = writer
        self._rows = rows
        self._clients = clients
        self._webhook_base_url = webhook_base_url
        self._redirect_uri = redirect_uri
        self._default_stages = default_stages
        self._clock = clock
        self._new_token = new_token

    def install(self, query: Mapping[str, str]) -> Installed:
        code, scope, context = query.get("code", ""), query.get("scope", ""), query.get("context", "")
        store_hash = store_hash_of(context)
        if store_hash is None or not _CODE.match(code) or not scope or len(scope) > 2000:
            raise InstallFailed(
                InstallFailure.BAD_REQUEST, "auth callback without a valid code/scope/context"
            )
        app = self._app()  # AppNotConfigured propagates: the handler has a page for it
        earlier = self._ledger.claim_code(code, int(self._clock()) + CODE_CLAIM_SECONDS)
        if earlier is not None:
            return self._repeat(store_hash, *earlier)
        try:
            installed = self._install(app, store_hash, code, scope, context)
        except BaseException:
            self._ledger.settle_code(code, CodeOutcome.FAILED, store_hash)
            raise
        self._ledger.settle_code(code, CodeOutcome.CONNECTED, store_hash)
        return installed

    def _repeat(self, store_hash: str, outcome: CodeOutcome, connected: str | None) -> Installed:
        if outcome is CodeOutcome.CONNECTED and connected == store_hash:
            row = self._rows.get(store_hash)
            return Installed(store_hash, len(row.hook_ids) if row else 0, repeated=True)
        if outcome is CodeOutcome.PENDING:
            raise InstallFailed(
                InstallFailure.IN_PROGRESS, "the same install code is being exchanged", store_hash
            )
        raise InstallFailed(InstallFailure.CODE_REUSED, "install code already used", store_hash)

    def _install(
        self, app: AppCredentials, store_hash: str, code: str, scope: str, context: str
    ) -> Installed:
        before = self._rows.get(store_hash)
        if before is not None and before.purging:
            raise InstallFailed(
                InstallFailure.STILL_PURGING,
                "re-install while the previous uninstall's purge runs",
                store_hash,
            )
        try:
            grant = self._login.exchange(
                app, code=code, scope=scope, context=context, redirect_uri=self._redirect_uri
            )
        except CodeRefused as refused:
            raise InstallFailed(InstallFailure.CODE_REFUSED, str(refused), store_hash) from None
        except LoginUnavailable as unavailable:
            raise InstallFailed(InstallFailure.LOGIN_UNAVAILABLE, str(unavailable), store_hash) from None
        missing = missing_scopes(grant.scope)
        if missing:
            raise InstallFailed(
                InstallFailure.SCOPES_MISSING, f"granted scopes lack {', '.join(missing)}", store_hash
            )
        connected = before is not None and before.settings.status is StoreStatus.ACTIVE
        previous_item = None if connected else self._writer.row_item(store_hash)
        auth = self._writer.webhook_auth(store_hash) if connected else None
        # A store connected by `stores add` has hooks of its API account, signed with that
        # account's secret: once the app's secret is the one that verifies, they must go.
        replaced = (
            self._secrets.api_credentials(store_hash)
            if before is not None and connected and before.settings.connection is StoreConnection.API_ACCOUNT
            else None
        )
        # A re-authorization keeps the token its hooks carry; a new install gets a new one.
        token = auth.token if auth and auth.token else self._new_token()
        try:
            self._writer.save_secrets(
                store_hash,
                access_token=grant.access_token,
                client_secret=app.client_secret,
                webhook_token=token,
                require_signature=True,
            )
            kept = before if connected else None
            settings = self._save_row(store_hash, kept, grant.user_id, grant.owner_id)
            hooks = self._register_hooks(store_hash, grant.access_token, token, settings.hook_scopes)
        except BaseException:
            if not connected:
                self._undo(store_hash, grant.access_token, previous_item)
            raise
        finally:
            self._secrets.forget(store_hash)
        if replaced is not None and replaced.access_token != grant.access_token:
            self._retire_account_hooks(store_hash, replaced.access_token)
        return Installed(store_hash, hooks)

    def _register_hooks(self, store_hash: str, access_token: str, token: str, scopes: Sequence[str]) -> int:
        api = self._clients(store_hash, access_token)
        report = reconcile_hooks(api, self._destination(store_hash), token, scopes)
        self._rows.record(store_hash, hook_ids=report.hook_ids)
        if report.failures:
            reasons = "; ".join(sorted({r.reason for r in report.failures}))
            raise InstallFailed(
                InstallFailure.HOOKS_REFUSED,
                f"{len(report.failures)} of {len(report.results)} hooks not registered: {reasons}",
                store_hash,
            )
        return len(report.hook_ids)

    def _retire_account_hooks(self, store_hash: str, access_token: str) -> None:
        try:
            deleted = delete_store_hooks(
                self._clients(store_hash, access_token), self._destination(store_hash)
            )
        except BigCommerceError as error:
            logger.warning(
                "the store's former API account hooks could not be deleted; its deliveries will be refused",
                extra={"store_hash": store_hash, "error": str(error)},
            )
            return
        logger.info("former API account hooks deleted", extra={"store_hash": store_hash, "hooks": deleted})

    def _save_row(self, store_hash: str, row: StoreRow | None, user_id: int, owner_id: int) -> StoreSettings:
        """The store's row as the install leaves it: a re-authorized store keeps its settings."""
        settings = StoreSettings(
            store_hash,
            row.settings.stages if row else self._default_stages,
            require_signature=True,
            recovery_links=row.settings.recovery_links if row else False,
            connection=StoreConnection.APP,
            eligibility=row.settings.eligibility if row else EligibilityRules(),
            reminders=row.settings.reminders if row else DEFAULT_REMINDERS,
            channel_stages=row.settings.channel_stages if row else (),
        )
        users = {str(owner_id), str(user_id), *(str(u) for u in (row.app_users if row else ()))}
        self._writer.put_row(
            settings,
            created_at=row.created_at if row else int(self._clock()),
            own_stages=bool(row and row.own_stages),
            extra={
                "hooks": hooks_attribute(row.hook_ids if row else {}),
                "app_owner_id": {"N": str(owner_id)},
                "app_users": {"NS": sorted(users)},
                "installed_by": {"N": str(user_id)},
                "installed_at": {"N": str(int(self._clock()))},
            },
        )
        return settings

    def _undo(self, store_hash: str, access_token: str, previous_item: dict[str, Any] | None) -> None:
        """Put a store that was not connected back as it was; hooks go first, while the token works."""
        # An orphan hook would only meet 404s at the receiver until BigCommerce deactivates it.
        with contextlib.suppress(BigCommerceError):
            delete_store_hooks(self._clients(store_hash, access_token), self._destination(store_hash))
        self._writer.delete_secrets(store_hash)
        self._writer.restore_row(store_hash, previous_item)

    def _destination(self, store_hash: str) -> str:
        return hook_destination(self._webhook_base_url, store_hash)
