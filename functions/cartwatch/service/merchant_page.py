"""The app's page in the control panel, and its other callbacks: load, save, uninstall, remove-user.

Everything a merchant sees is built here as plain values (``PageView``); the handler renders
them (``handlers/app_pages.py``).  The figures come from cartwatch's own listing index, never
from the store's API quota; hook health costs one BigCommerce call per page view.

Who may do what (APPS.md §2, multi-user): every control-panel user BigCommerce lets open the
app sees the page, and is linked to the store on first sight; only the store owner and the
user who installed the app may change settings; remove-user unlinks that user (their open
pages can no longer save) and never touches the store.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from cartwatch.adapters.bigcommerce import BigCommerceError
from cartwatch.adapters.merchant_rows import MerchantRows
from cartwatch.adapters.store_clients import ClientFactory
from cartwatch.adapters.store_rows import StoreRows
from cartwatch.domain.listing import CartFilter, ListingIndex, every_listed
from cartwatch.domain.merchant_settings import SETTINGS_FIELDS, InvalidSettings, read_settings_form
from cartwatch.domain.stages import StageSchedule
from cartwatch.domain.store import StoreConnection, StoreRow, StoreStatus
from cartwatch.domain.store_figures import tally_store
from cartwatch.service.form_tokens import FormTokens
from cartwatch.service.signed_payload import SignedPayload, SignedPayloadVerifier
from cartwatch.service.store_hooks import hook_destination
from cartwatch.service.uninstall import StoreUninstall

logger = logging.getLogger(__name__)

FIGURES_DAYS = 30


class StoreNotConnected(LookupError):
    """The store is not (or no longer) connected to cartwatch."""


class NotAllowed(PermissionError):
    """The user may not do this (e.g. a removed user's page saving settings)."""


@dataclass(frozen=True)
class HookState:
    scope: str
    state: str  # active | inactive | missing


@dataclass(frozen=True)
class HookHealth:
    hooks: tuple[HookState, ...] | None  # None: BigCommerce could not be asked
    problem: str = ""

    @property
    def healthy(self) -> bool:
        return self.hooks is not None and all(h.state == "active" for h in self.hooks)


@dataclass(frozen=True)
class Figures:
    days: int
    abandoned: int
    recovered: int
    recovery_rate: float | None
    recovered_revenue: tuple[tuple[str, Decimal], ...]  # (currency, amount), per currency


@dataclass(frozen=True)
class FieldView:
    name: str
    label: str
    hint: str
    kind: str
    value: str | bool
    error: str = ""


@dataclass(frozen=True)
class PageView:
    store_hash: str
    connected_by: str  # "app" | "api-account"
    hooks: HookHealth
    figures: Figures
    fields: tuple[FieldView, ...]
    default_stages: str
    form_token: str
    editable: bool
    notice: str = ""

    @property
    def invalid(self) -> bool:
        return any(field.error for field in self.fields)


class MerchantPage:
    def __init__(
        self,
        *,
        verifier: SignedPayloadVerifier,
        form_tokens: FormTokens,
        rows: StoreRows,
        merchant_rows: MerchantRows,
        listing: ListingIndex,
        clients: ClientFactory,
        webhook_base_url: str,
        default_stages: StageSchedule,
        uninstall: StoreUninstall,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._verifier = verifier
        self._tokens = form_tokens
        self._rows = rows
        self._merchant_rows = merchant_rows
        self._listing = listing
        self._clients = clients
        self._webhook_base_url = webhook_base_url
        self._default_stages = default_stages
        self._uninstall = uninstall
        self._clock = clock

    # --- callbacks ------------------------------------------------------------------------

    def load(self, signed_payload_jwt: str | None) -> PageView:
        payload = self._verifier.verify(signed_payload_jwt)
        row = self._connected(payload.store_hash)
        if payload.user_id not in row.app_users:
            self._merchant_rows.link_user(payload.store_hash, payload.user_id)
            row = replace(row, app_users=row.app_users | {payload.user_id})
        return self._view(row, payload.user_id)

    def save(self, form: Mapping[str, str]) -> PageView:
        session = self._tokens.read(form.get("form_token"))
        row = self._connected(session.store_hash)
        if session.user_id not in row.app_users:
            raise NotAllowed("this user's access to the app was removed")
        if not _may_edit(row, session.user_id):
            raise NotAllowed("only the store owner or the user who installed the app may change settings")
        try:
            change = read_settings_form(form)
        except InvalidSettings as invalid:
            view = self._view(row, session.user_id)
            fields = tuple(
                replace(f, value=_submitted(form, f), error=invalid.errors.get(f.name, ""))
                for f in view.fields
            )
            return replace(view, fields=fields)
        if not self._merchant_rows.update_settings(session.store_hash, change):
            raise StoreNotConnected(f"store {session.store_hash} is no longer connected")
        logger.info("settings saved from the merchant page", extra={"store_hash": session.store_hash})
        return replace(self._view(self._connected(session.store_hash), session.user_id), notice="Saved.")

    def uninstall(self, signed_payload_jwt: str | None) -> bool:
        """The app was uninstalled from the store; True when a purge is (now) under way."""
        payload = self._verifier.verify(signed_payload_jwt)
        row = self._rows.get(payload.store_hash)
        if row is None:
            return False
        if row.settings.connection is not StoreConnection.APP:
            # Connected by an operator with its own API account: the app's removal says
            # nothing about that connection.  Left alone, and said so.
            logger.warning("app uninstalled from a store connected by API account: store kept")
            return False
        return self._uninstall(payload.store_hash, "app uninstall callback (verified signed payload)")

    def remove_user(self, signed_payload_jwt: str | None) -> SignedPayload:
        payload = self._verifier.verify(signed_payload_jwt)
        if payload.user_id != payload.owner_id:
            self._merchant_rows.unlink_user(payload.store_hash, payload.user_id)
        return payload

    # --- the page -------------------------------------------------------------------------

    def _connected(self, store_hash: str) -> StoreRow:
        row = self._rows.get(store_hash)
        if row is None or row.settings.status is not StoreStatus.ACTIVE:
            raise StoreNotConnected(f"store {store_hash} is not connected")
        return row

    def _view(self, row: StoreRow, user_id: int) -> PageView:
        store_hash = row.settings.store_hash
        fields = tuple(
            FieldView(f.name, f.label, f.hint, f.kind, f.current(row.settings, row.own_stages))
            for f in SETTINGS_FIELDS
        )
        return PageView(
            store_hash=store_hash,
            connected_by=row.settings.connection.value,
            hooks=self._hook_health(row),
            figures=self._figures(store_hash),
            fields=fields,
            default_stages=str(self._default_stages),
            form_token=self._tokens.issue(store_hash, user_id),
            editable=_may_edit(row, user_id),
        )

    def _figures(self, store_hash: str) -> Figures:
        end = int(self._clock())
        start = end - FIGURES_DAYS * 86400
        figures = tally_store(
            start, end, every_listed(self._listing, store_hash, CartFilter(transitioned_from=start))
        )
        return Figures(
            days=FIGURES_DAYS,
            abandoned=figures.abandoned.count,
            recovered=figures.recovered.count,
            recovery_rate=figures.recovery_rate,
            recovered_revenue=tuple(figures.recovered.per_currency()),
        )

    def _hook_health(self, row: StoreRow) -> HookHealth:
        store_hash = row.settings.store_hash
        api = self._clients(store_hash)
        if api is None:
            return HookHealth(None, "no API token stored")
        destination = hook_destination(self._webhook_base_url, store_hash)
        try:
            hooks = [h for h in api.list_hooks() if h.get("destination") == destination]
        except BigCommerceError as error:
            logger.warning("hooks could not be listed for the merchant page", extra={"error": str(error)})
            return HookHealth(None, "BigCommerce did not answer; reload to try again")
        by_scope = {h.get("scope"): h for h in hooks}
        return HookHealth(
            tuple(HookState(scope, _state(by_scope.get(scope))) for scope in row.settings.hook_scopes)
        )


def _state(hook: Mapping[str, object] | None) -> str:
    if hook is None:
        return "missing"
    return "active" if hook.get("is_active") else "inactive"


def _may_edit(row: StoreRow, user_id: int) -> bool:
    return user_id in (row.app_owner_id, row.installed_by)


def _submitted(form: Mapping[str, str], field: FieldView) -> str | bool:
    if field.kind == "checkbox":
        return form.get(field.name) == "on"
    return form.get(field.name, "")
