"""The operations behind `cartwatch stores …`, against one target.

Every operation checks what it can before it writes: the store exists, its secrets are there,
BigCommerce accepts the token.  What is written after that (secrets, then the row, then the
hooks, then their ids) is ordered so that a failure half-way leaves a store that the same
command, run again, completes.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from cartwatch.adapters.bigcommerce import (
    BigCommerceClient,
    BigCommerceError,
    BigCommerceUnauthorized,
    BigCommerceUnavailable,
)
from cartwatch.adapters.cart_table.purge import CartPurge
from cartwatch.adapters.store_registry import (
    StorePurge,
    StoreSecrets,
    api_parameter,
)
from cartwatch.adapters.store_rows import StoreRows, hooks_attribute
from cartwatch.domain.eligibility import EligibilityRules
from cartwatch.domain.shopper import DEFAULT_REMINDERS, ReminderScope
from cartwatch.domain.stages import DEFAULT_STAGES, ChannelStages, StageSchedule, by_channel
from cartwatch.domain.store import (
    ROTATION_GRACE_SECONDS,
    ApiCredentials,
    StoreRow,
    StoreSettings,
    WebhookAuth,
)
from cartwatch.service.store_hooks import (
    HookReport,
    StoreHealth,
    check_store,
    delete_store_hooks,
    hook_destination,
    reconcile_hooks,
)
from cartwatch_tools.cli.errors import CliError
from cartwatch_tools.cli.target import Target


@dataclass(frozen=True)
class RulesChange:
    """Eligibility options as given on the command line (None: keep the store's, or the default)."""

    min_value: Decimal | None = None  # 0: no minimum
    require_email: bool | None = None
    require_consent: bool | None = None

    def applied_to(self, current: EligibilityRules) -> EligibilityRules:
        return EligibilityRules(
            min_value=current.min_value if self.min_value is None else self.min_value,
            require_email=_choose(self.require_email, current.require_email),
            require_consent=_choose(self.require_consent, current.require_consent),
        )


@dataclass(frozen=True)
class ChannelStagesChange:
    """Per-channel stages as given on the command line: channels given get these stages,
    channels cleared follow the store's again, every other channel keeps what it has."""

    given: tuple[ChannelStages, ...] = ()
    cleared: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        given = by_channel(self.given)  # a channel given twice: ValueError
        both = sorted(self.cleared & {schedule.channel_id for schedule in given})
        if both:
            raise ValueError(f"channel {both[0]} is both given stages and cleared")
        object.__setattr__(self, "given", given)

    def applied_to(self, current: tuple[ChannelStages, ...]) -> tuple[ChannelStages, ...]:
        replaced = self.cleared | {schedule.channel_id for schedule in self.given}
        return by_channel([*(s for s in current if s.channel_id not in replaced), *self.given])


@dataclass(frozen=True)
class NewStore:
    store_hash: str
    access_token: str = field(repr=False)
    client_secret: str = field(repr=False)
    stages: StageSchedule | None = None  # None: keep the store's, or the deployment's default
    require_signature: bool | None = None  # None: keep the store's (False for a new one)
    recovery_links: bool | None = None
    rules: RulesChange = field(default_factory=RulesChange)
    reminders: ReminderScope | None = None  # None: keep the store's (per shopper for a new one)
    list_active: bool | None = None
    channels: ChannelStagesChange = field(default_factory=ChannelStagesChange)


@dataclass(frozen=True)
class SettingsUpdate:
    """`cartwatch stores update`: what changes in a store's row (None: kept as it is)."""

    stages: StageSchedule | None = None
    recovery_links: bool | None = None
    rules: RulesChange = field(default_factory=RulesChange)
    reminders: ReminderScope | None = None
    list_active: bool | None = None
    channels: ChannelStagesChange = field(default_factory=ChannelStagesChange)


@dataclass(frozen=True)
class UpdateResult:
    settings: StoreSettings
    # The hooks registered or retired because the channels with their own stages changed;
    # None: they did not, and BigCommerce was not called.
    hooks: HookReport | None = None


@dataclass(frozen=True)
class AddResult:
    created: bool  # False: the store existed and was brought up to date
    destination: str
    hooks: HookReport


@dataclass(frozen=True)
class RemoveResult:
    hooks_deleted: int | None  # None: BigCommerce was not (or could not be) asked
    cart_items_deleted: int
    warning: str = ""


@dataclass(frozen=True)
class StoreDetails:
    row: StoreRow
    auth: WebhookAuth | None
    credentials: ApiCredentials | None
    destination: str
    live_hooks: list[dict[str, Any]] | None  # None when BigCommerce could not be asked
    hooks_error: str = ""


class StoreAdmin:
    # Interactive: fail within seconds and let the user re-run, rather than back off for long.
    CLIENT_ATTEMPTS = 2
    CLIENT_MAX_WAIT_SECONDS = 10.0

    def __init__(
        self,
        target: Target,
        *,
        clock: Callable[[], float] = time.time,
        new_token: Callable[[], str] = lambda: secrets.token_urlsafe(32),
    ) -> None:
        from aws_lambda_powertools.utilities.parameters import SSMProvider

        self._target = target
        self._clock = clock
        self._new_token = new_token
        dynamodb = target.client("dynamodb")
        ssm = target.client("ssm")
        self.rows = StoreRows(dynamodb, target.table_name)
        self._writer = target.store_writer()
        self._secrets = StoreSecrets(SSMProvider(boto3_client=ssm), target.ssm_prefix, cache_seconds=0)
        self._purge = StorePurge(self._writer, CartPurge(dynamodb, target.table_name))

    # --- commands ------------------------------------------------------------------------------

    def add(self, new: NewStore) -> AddResult:
        store_hash = new.store_hash
        api = self._client(store_hash, new.access_token)
        with self._bigcommerce(store_hash):
            api.list_hooks()  # proves the token and the API before anything is written
        existing = self.rows.get(store_hash)
        if existing is not None and existing.purging:
            raise CliError(
                f"store {store_hash} was uninstalled and its data is still being purged: "
                "add it again in a few minutes"
            )
        auth = self._writer.webhook_auth(store_hash)
        # Re-adding keeps the token the hooks already carry: nothing rotates by surprise.
        token = auth.token if auth and auth.token else self._new_token()
        before = existing.settings if existing else None
        stages = new.stages or (existing.settings.stages if existing and existing.own_stages else None)
        settings = StoreSettings(
            store_hash,
            stages or StageSchedule.parse(DEFAULT_STAGES),
            require_signature=_choose(new.require_signature, before.require_signature if before else False),
            recovery_links=_choose(new.recovery_links, before.recovery_links if before else False),
            eligibility=new.rules.applied_to(before.eligibility if before else EligibilityRules()),
            reminders=new.reminders or (before.reminders if before else DEFAULT_REMINDERS),
            list_active=_choose(new.list_active, before.list_active if before else False),
            channel_stages=new.channels.applied_to(before.channel_stages if before else ()),
        )
        self._save(
            settings,
            own_stages=stages is not None,
            access_token=new.access_token,
            client_secret=new.client_secret,
            webhook_token=token,
            created_at=existing.created_at if existing else int(self._clock()),
            hook_ids=existing.hook_ids if existing else {},
            # A rotation's grace period survives re-adding the store while it lasts.
            replaced_token=auth.replaced_token_at(self._clock()) if auth else None,
        )
        report = self._register_hooks(api, store_hash, token, settings.hook_scopes)
        return AddResult(existing is None, self.destination(store_hash), report)

    def update(self, store_hash: str, update: SettingsUpdate) -> UpdateResult:
        """Change settings kept in the store's row; BigCommerce is called only when the channels
        with stages of their own change, to register (or retire) their hooks."""
        row = self._row(store_hash)
        settings = replace(
            row.settings,
            stages=update.stages or row.settings.stages,
            recovery_links=_choose(update.recovery_links, row.settings.recovery_links),
            eligibility=update.rules.applied_to(row.settings.eligibility),
            reminders=update.reminders or row.settings.reminders,
            list_active=_choose(update.list_active, row.settings.list_active),
            channel_stages=update.channels.applied_to(row.settings.channel_stages),
        )
        if not self.rows.update_settings(settings, own_stages=update.stages is not None or row.own_stages):
            raise self._unknown(store_hash)
        if settings.hook_scopes == row.settings.hook_scopes:
            return UpdateResult(settings)
        # The row first, as `add` does: a failure below leaves a store that `stores verify`
        # (or the daily hook check) completes from the row.
        api = self._client(store_hash, self._credentials(store_hash).access_token)
        report = self._register_hooks(api, store_hash, self._auth(store_hash).token, settings.hook_scopes)
        return UpdateResult(settings, report)

    def remove(self, store_hash: str, *, force: bool = False) -> RemoveResult:
        row = self.rows.get(store_hash)
        credentials = self._secrets.api_credentials(store_hash)
        if row is None and credentials is None:
            raise self._unknown(store_hash)
        hooks_deleted: int | None = None
        warning = ""
        if credentials is None:
            if not force:
                raise CliError(
                    f"no API credentials stored for store {store_hash}, so its hooks in BigCommerce "
                    "cannot be deleted; pass --force to remove it from cartwatch anyway"
                )
            warning = "no API credentials stored: its hooks in BigCommerce were left alone"
        else:
            api = self._client(store_hash, credentials.access_token)
            try:
                with self._bigcommerce(store_hash):
                    recorded = row.hook_ids.values() if row else ()
                    hooks_deleted = delete_store_hooks(api, self.destination(store_hash), recorded)
            except CliError as error:
                if not force:
                    raise
                warning = f"{error}; its hooks in BigCommerce were left alone"
        return RemoveResult(hooks_deleted, self._purge(store_hash), warning)

    def verify(self, store_hash: str) -> StoreHealth:
        row = self._row(store_hash)
        api = self._client(store_hash, self._credentials(store_hash).access_token)
        token = self._auth(store_hash).token
        with self._bigcommerce(store_hash):
            health = check_store(api, self.destination(store_hash), token, row.settings.hook_scopes)
        self.rows.record(store_hash, hook_ids=health.hooks.hook_ids)
        return health

    def rotate_token(self, store_hash: str) -> HookReport:
        row = self._row(store_hash)
        credentials = self._credentials(store_hash)
        auth = self._auth(store_hash)
        api = self._client(store_hash, credentials.access_token)
        with self._bigcommerce(store_hash):
            api.list_hooks()  # as in add: no new token is stored unless the hooks can follow it
        token = self._new_token()
        # SSM first: it is what the receiver trusts, and the hooks follow at once.  The old
        # token keeps working for ROTATION_GRACE_SECONDS, for deliveries BigCommerce sends
        # before its hooks switch; a warm receiver re-reads SSM when the new one fails
        # against its cache.  A rotation therefore never fails a delivery.
        replaced = (auth.token, int(self._clock()) + ROTATION_GRACE_SECONDS) if auth.token else None
        self._save(
            row.settings,
            own_stages=row.own_stages,
            access_token=credentials.access_token,
            client_secret=auth.client_secret,
            webhook_token=token,
            created_at=row.created_at,
            hook_ids=row.hook_ids,
            replaced_token=replaced,
        )
        return self._register_hooks(api, store_hash, token, row.settings.hook_scopes)

    def migrate_credentials(self) -> list[str]:
        """Every store whose webhook credentials were still an SSM parameter, moved to their table."""
        return [
            row.settings.store_hash
            for row in self.rows.all()
            if self._writer.migrate_legacy_webhook_auth(row.settings.store_hash)
        ]

    def details(self, store_hash: str) -> StoreDetails:
        row = self._row(store_hash)
        credentials = self._secrets.api_credentials(store_hash)
        destination = self.destination(store_hash)
        live: list[dict[str, Any]] | None = None
        error_text = "no API credentials stored" if credentials is None else ""
        if credentials is not None:
            try:
                with self._bigcommerce(store_hash):
                    hooks = self._client(store_hash, credentials.access_token).list_hooks()
                live = [h for h in hooks if h.get("destination") == destination]
            except CliError as error:
                error_text = str(error)
        return StoreDetails(
            row, self._writer.webhook_auth(store_hash), credentials, destination, live, error_text
        )

    def destination(self, store_hash: str) -> str:
        return hook_destination(self._target.webhook_base_url, store_hash)

    # --- helpers -------------------------------------------------------------------------------

    def _register_hooks(
        self, api: BigCommerceClient, store_hash: str, token: str | None, scopes: Sequence[str]
    ) -> HookReport:
        with self._bigcommerce(store_hash):
            report = reconcile_hooks(api, self.destination(store_hash), token, scopes)
        self.rows.record(store_hash, hook_ids=report.hook_ids)
        return report

    def _save(
        self,
        settings: StoreSettings,
        *,
        own_stages: bool,
        access_token: str,
        client_secret: str | None,
        webhook_token: str,
        created_at: int,
        hook_ids: Mapping[str, int],
        replaced_token: tuple[str, int] | None = None,
    ) -> None:
        self._writer.save(
            settings,
            access_token=access_token,
            client_secret=client_secret,
            webhook_token=webhook_token,
            created_at=created_at,
            extra={"hooks": hooks_attribute(hook_ids)},
            replaced_token=replaced_token,
        )
        if not own_stages:
            # StoreWriter always writes stages; a store added without its own must follow the
            # deployment's default (`cartwatch local --stages`, the stack's context) instead.
            self.rows.record(settings.store_hash, default_stages=True)

    def _client(self, store_hash: str, access_token: str) -> BigCommerceClient:
        return BigCommerceClient(
            store_hash,
            access_token,
            api_url=self._target.bigcommerce_api_url,
            max_attempts=self.CLIENT_ATTEMPTS,
            max_wait_seconds=self.CLIENT_MAX_WAIT_SECONDS,
        )

    @contextmanager
    def _bigcommerce(self, store_hash: str) -> Iterator[None]:
        """BigCommerce's typed failures as one line the user can act on."""
        try:
            yield
        except BigCommerceUnauthorized as error:
            raise CliError(
                f"BigCommerce refused the access token of store {store_hash} ({error.status}): "
                "check the store-level API account (revoked? wrong store?)"
            ) from None
        except BigCommerceUnavailable as error:
            raise CliError(
                f"BigCommerce API at {self._target.bigcommerce_api_url} unavailable: {error}"
            ) from None
        except BigCommerceError as error:
            raise CliError(f"BigCommerce rejected a request for store {store_hash}: {error}") from None

    def _row(self, store_hash: str) -> StoreRow:
        row = self.rows.get(store_hash)
        if row is None:
            raise self._unknown(store_hash)
        return row

    def _credentials(self, store_hash: str) -> ApiCredentials:
        credentials = self._secrets.api_credentials(store_hash)
        if credentials is None:
            raise self._missing_secret(store_hash, api_parameter(self._target.ssm_prefix, store_hash))
        return credentials

    def _auth(self, store_hash: str) -> WebhookAuth:
        auth = self._writer.webhook_auth(store_hash)
        if auth is None or not auth.token:
            raise self._missing_secret(
                store_hash, f"{self._target.credentials_table_name} (webhook credentials)"
            )
        return auth

    def _unknown(self, store_hash: str) -> CliError:
        return CliError(
            f"unknown store {store_hash} in {self._target.description} "
            "(see `cartwatch stores list`, or add it with `cartwatch stores add`)"
        )

    @staticmethod
    def _missing_secret(store_hash: str, where: str) -> CliError:
        return CliError(
            f"store {store_hash} has no secret in {where}: run `cartwatch stores add {store_hash}` again"
        )


def _choose(requested: bool | None, current: bool) -> bool:
    return current if requested is None else requested
