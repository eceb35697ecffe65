"""The store registry: store settings in DynamoDB, store secrets in their own places.

Layout
    DynamoDB  cart table, pk="STORE", sk=<store_hash>  settings (stages, channel stages, flags,
                                                       status, hook ids)
    DynamoDB  credentials table, <store_hash>          webhook credentials {client_secret, token,
                                                       require_signature, previous_token, …}
                                                       (adapters/webhook_credentials.py)
    SSM       {prefix}/stores/<hash>/api               SecureString {access_token}
    SSM       {prefix}/app/credentials                 SecureString {client_id, client_secret} (app mode)

The API tokens live in SSM Parameter Store rather than Secrets Manager: standard parameters
cost nothing (Secrets Manager is $0.40 per secret-month, per store), they are KMS-encrypted,
and Powertools Parameters caches them in the function; only the functions that call
BigCommerce can read ``*/api``.  The webhook credentials, which every receiver instance needs
for every store, have a table of their own (architecture decision 60).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from cartwatch.adapters.cart_table.purge import CartPurge
from cartwatch.adapters.webhook_credentials import CredentialsTable
from cartwatch.domain.app_install import AppCredentials
from cartwatch.domain.eligibility import EligibilityRules
from cartwatch.domain.shopper import DEFAULT_REMINDERS, ReminderScope
from cartwatch.domain.stages import ChannelStages, StageSchedule
from cartwatch.domain.store import ApiCredentials, StoreConnection, StoreSettings, StoreStatus, WebhookAuth

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SSMProvider
    from mypy_boto3_dynamodb import DynamoDBClient

STORE_PK = "STORE"
# The row's per-channel stages: ``{"<channel id>": "<stages>"}`` (absent: none).
CHANNEL_STAGES = "channel_stages"


class StoreRegistryUnavailable(RuntimeError):
    """The registry could not be read (throttling, permissions): a server-side problem."""


def legacy_webhook_auth_parameter(prefix: str, store_hash: str) -> str:
    """Where webhook credentials were kept before they had a table (``stores migrate-credentials``)."""
    return f"{prefix}/stores/{store_hash}/webhook-auth"


def api_parameter(prefix: str, store_hash: str) -> str:
    return f"{prefix}/stores/{store_hash}/api"


def app_credentials_parameter(prefix: str) -> str:
    return f"{prefix}/app/credentials"


class AppNotConfigured(LookupError):
    """No app client id and secret are stored (``cartwatch app configure`` was never run)."""


class StoreSecrets:
    """Reads store secrets through Powertools Parameters (cached per function instance)."""

    # A store that does not exist is remembered briefly, so a caller retrying for it does
    # not turn every attempt into an SSM call.
    NEGATIVE_CACHE_SECONDS = 5.0

    def __init__(
        self,
        provider: SSMProvider,
        prefix: str,
        cache_seconds: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._provider = provider
        self._prefix = prefix
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._missing: dict[str, float] = {}
        # Tokens read together for a batch of stores, each taken by that store's next read.
        # Kept here rather than in Powertools' cache: its batched read caches under another
        # key than its single read looks up, and a zero cache time would keep nothing at all.
        self._prefetched: dict[str, tuple[dict[str, Any], float]] = {}

    def api_credentials(self, store_hash: str, *, fresh: bool = False) -> ApiCredentials | None:
        """The store's API token; ``fresh`` reads it past the cache (after BigCommerce refused it)."""
        name = api_parameter(self._prefix, store_hash)
        if fresh:
            self._missing.pop(name, None)
        value = self._get(name, force_fetch=fresh)
        if value is None or not value.get("access_token"):
            return None
        return ApiCredentials(access_token=str(value["access_token"]))

    # How long a prefetched token waits for its store's read before it counts as stale.
    PREFETCH_SECONDS = 60.0

    def prefetch_api_credentials(self, store_hashes: Sequence[str]) -> None:
        """Read many stores' API tokens at once (GetParameters, ten a call), so that the
        ``api_credentials`` reads for these stores that follow make no call.  A batch replaces
        the last one's leftovers."""
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        self._prefetched = {}
        names = {api_parameter(self._prefix, h): {"transform": "json"} for h in store_hashes}
        if not names:
            return
        try:
            found = self._provider.get_parameters_by_name(
                names, decrypt=True, max_age=0, raise_on_error=False
            )
        except GetParameterError:
            return  # each store is read on its own then, and says what went wrong
        now = self._clock()
        for name, value in found.items():
            if name == "_errors":
                continue
            if isinstance(value, dict):
                self._prefetched[name] = (value, now)
        for missing in found.get("_errors", []):
            self._missing[str(missing)] = now

    def app_credentials(self) -> AppCredentials:
        """The app's client id and secret (cached like store secrets), or :class:`AppNotConfigured`."""
        value = self._get(app_credentials_parameter(self._prefix))
        if value is None or not value.get("client_id") or not value.get("client_secret"):
            raise AppNotConfigured(f"no app credentials at {app_credentials_parameter(self._prefix)}")
        return AppCredentials(client_id=str(value["client_id"]), client_secret=str(value["client_secret"]))

    def forget(self, store_hash: str) -> None:
        """Drop cached secrets (a re-install has just written new ones)."""
        self._missing.pop(api_parameter(self._prefix, store_hash), None)
        self._prefetched.pop(api_parameter(self._prefix, store_hash), None)
        self._provider.clear_cache()  # type: ignore[no-untyped-call]

    def _get(self, name: str, force_fetch: bool = False) -> dict[str, Any] | None:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        prefetched = self._prefetched.pop(name, None)
        fresh = prefetched is not None and self._clock() - prefetched[1] < self.PREFETCH_SECONDS
        if prefetched is not None and fresh and not force_fetch:
            return prefetched[0]
        missing_since = self._missing.get(name)
        if missing_since is not None and self._clock() - missing_since < self.NEGATIVE_CACHE_SECONDS:
            return None
        try:
            value = self._provider.get(
                name, decrypt=True, max_age=self._cache_seconds, transform="json", force_fetch=force_fetch
            )
        except GetParameterError as error:
            if _is_not_found(error):
                self._missing[name] = self._clock()
                return None
            # Never include the error text: it can echo request parameters.
            raise StoreRegistryUnavailable(f"could not read {name}") from None
        self._missing.pop(name, None)
        return value if isinstance(value, dict) else None


def _is_not_found(error: BaseException) -> bool:
    cause = error.__cause__ or error.__context__
    response = getattr(cause, "response", None)
    if isinstance(response, dict):
        return bool(response.get("Error", {}).get("Code") == "ParameterNotFound")
    return "ParameterNotFound" in str(error)


class StoreDirectory:
    """Store settings from the cartwatch table: every store's row, read at once and kept.

    The rows are re-read together — one Query of the ``STORE`` partition, paged — when the
    copy is older than ``cache_seconds``.  Per store GetItems would cost each function
    instance a read per store per period (at 10,000 stores and twenty processor instances,
    hundreds of strongly consistent reads a second on that one partition); the whole
    partition costs what its bytes cost, a few pages.  A store missing from the copy (added
    since) is read alone, once per period; ``refresh`` reads one row past the copy (an
    *uninstalled* answer is checked so).
    """

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        default_stages: StageSchedule,
        cache_seconds: int = 300,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._table = table_name
        self._default_stages = default_stages
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._rows: dict[str, StoreSettings] | None = None
        self._read_at = 0.0
        self._missing: set[str] = set()  # read alone since the copy was made, and not there

    def get(self, store_hash: str) -> StoreSettings | None:
        rows = self._all()
        if store_hash in rows:
            return rows[store_hash]
        if store_hash in self._missing:
            return None
        # Added after the copy was made: its own stages must apply to its first carts.
        return self.refresh(store_hash)

    def refresh(self, store_hash: str) -> StoreSettings | None:
        """The store's settings read now, past the copy (which it then updates)."""
        response = self._client.get_item(
            TableName=self._table, Key=store_key(store_hash), ConsistentRead=True
        )
        item = response.get("Item")
        settings = store_from_item(item, self._default_stages) if item else None
        rows = self._all()
        if settings is None:
            rows.pop(store_hash, None)
            self._missing.add(store_hash)
        else:
            rows[store_hash] = settings
            self._missing.discard(store_hash)
        return settings

    def stages_for(self, store_hash: str, channel_id: int | None) -> StageSchedule:
        """A cart's stages: its channel's if the store gives the channel its own, else the store's
        (``StoreSettings.stages_for``); an unknown (e.g. just-removed) store has the defaults."""
        settings = self.get(store_hash)
        return settings.stages_for(channel_id) if settings else self._default_stages

    def lists_active(self, store_hash: str) -> bool:
        """Whether the store lists its active carts (an unknown store does not)."""
        settings = self.get(store_hash)
        return settings.list_active if settings else False

    def _all(self) -> dict[str, StoreSettings]:
        now = self._clock()
        if self._rows is not None and now - self._read_at < self._cache_seconds:
            return self._rows
        rows: dict[str, StoreSettings] = {}
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": STORE_PK}},
            # A store added a moment ago is in the copy: its first webhooks get its stages.
            "ConsistentRead": True,
        }
        while True:
            page = self._client.query(**request)
            for item in page.get("Items", []):
                rows[item["sk"]["S"]] = store_from_item(item, self._default_stages)
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        self._rows, self._read_at = rows, now
        self._missing.clear()
        return rows


def store_from_item(item: dict[str, Any], default_stages: StageSchedule) -> StoreSettings:
    stages_text = item.get("stages", {}).get("S")
    return StoreSettings(
        store_hash=item["sk"]["S"],
        stages=StageSchedule.parse(stages_text) if stages_text else default_stages,
        require_signature=item.get("require_signature", {}).get("BOOL", False),
        recovery_links=item.get("recovery_links", {}).get("BOOL", False),
        status=StoreStatus(item.get("status", {}).get("S", StoreStatus.ACTIVE.value)),
        connection=StoreConnection(item.get("connection", {}).get("S", StoreConnection.API_ACCOUNT.value)),
        eligibility=eligibility_from_item(item),
        # A row written before the setting existed has the default.
        reminders=ReminderScope(item.get("reminders", {}).get("S", DEFAULT_REMINDERS.value)),
        list_active=item.get("list_active", {}).get("BOOL", False),
        channel_stages=channel_stages_from_item(item),
    )


def channel_stages_from_item(item: dict[str, Any]) -> tuple[ChannelStages, ...]:
    """``channel_stages``: a map of channel id to stages text; absent on rows without any."""
    stored = item.get(CHANNEL_STAGES, {}).get("M", {})
    return tuple(
        ChannelStages(int(channel), StageSchedule.parse(value["S"]))
        for channel, value in stored.items()
        if "S" in value
    )


def channel_stages_attribute(schedules: tuple[ChannelStages, ...]) -> dict[str, Any]:
    return {"M": {str(s.channel_id): {"S": str(s.stages)} for s in schedules}}


def eligibility_from_item(item: dict[str, Any]) -> EligibilityRules:
    """A row without the attributes (written before the rules existed) has the defaults."""
    defaults = EligibilityRules()
    minimum = item.get("min_value", {}).get("S")
    return EligibilityRules(
        min_value=Decimal(minimum) if minimum else None,
        require_email=item.get("require_email", {}).get("BOOL", defaults.require_email),
        require_consent=item.get("require_consent", {}).get("BOOL", defaults.require_consent),
    )


def eligibility_attributes(rules: EligibilityRules) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "require_email": {"BOOL": rules.require_email},
        "require_consent": {"BOOL": rules.require_consent},
    }
    if rules.min_value is not None:
        attributes["min_value"] = {"S": str(rules.min_value)}
    return attributes


def store_to_item(
    settings: StoreSettings, *, created_at: int, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": {"S": STORE_PK},
        "sk": {"S": settings.store_hash},
        "kind": {"S": "store"},
        "stages": {"S": str(settings.stages)},
        "require_signature": {"BOOL": settings.require_signature},
        "recovery_links": {"BOOL": settings.recovery_links},
        "status": {"S": settings.status.value},
        "connection": {"S": settings.connection.value},
        "created_at": {"N": str(created_at)},
        "reminders": {"S": settings.reminders.value},
        **eligibility_attributes(settings.eligibility),
        "list_active": {"BOOL": settings.list_active},
    }
    if settings.channel_stages:
        item[CHANNEL_STAGES] = channel_stages_attribute(settings.channel_stages)
    item.update(extra or {})
    return item


class StorePurge:
    """Forget a store at once: its carts, its secrets and its row (``cartwatch stores remove``).

    The operator's own command, run where no deadline applies; an uninstall goes through the
    purge job instead (``service/purge_job.py``), which does the same work in bounded steps.
    Carts go first, so a crash half-way leaves a store that still verifies deliveries (and
    can be removed again) rather than orphaned carts nobody can reach.
    """

    def __init__(self, writer: StoreWriter, carts: CartPurge) -> None:
        self._writer = writer
        self._carts = carts

    def __call__(self, store_hash: str) -> int:
        deleted = 0
        start: dict[str, Any] | None = None
        while True:
            count, start = self._carts.page(store_hash, segment=0, segments=1, start=start)
            deleted += count
            if start is None:
                break
        self._writer.delete_secrets(store_hash)
        self._writer.restore_row(store_hash, None)
        return deleted


class StoreWriter:
    """Writes a store's settings and secrets: the CLI, the app's callbacks and the purge job."""

    def __init__(
        self, dynamodb: DynamoDBClient, ssm: Any, table_name: str, prefix: str, *, credentials_table: str
    ) -> None:
        self._dynamodb = dynamodb
        self._ssm = ssm
        self._table = table_name
        self._prefix = prefix
        self.credentials = CredentialsTable(dynamodb, credentials_table)

    def webhook_auth(self, store_hash: str) -> WebhookAuth | None:
        """The store's webhook credentials as stored now."""
        return self.credentials.get(store_hash)

    def save(
        self,
        settings: StoreSettings,
        *,
        access_token: str,
        client_secret: str | None,
        webhook_token: str,
        created_at: int,
        extra: dict[str, Any] | None = None,
        replaced_token: tuple[str, int] | None = None,
    ) -> None:
        """``replaced_token``: the token a rotation replaces and until when it still counts."""
        # Secrets first: a store row without secrets would make the receiver 404 anyway,
        # but secrets without a row are invisible to `stores list` — so the row comes last.
        self.save_secrets(
            settings.store_hash,
            access_token=access_token,
            client_secret=client_secret,
            webhook_token=webhook_token,
            require_signature=settings.require_signature,
            replaced_token=replaced_token,
        )
        self.put_row(settings, created_at=created_at, extra=extra)

    def save_secrets(
        self,
        store_hash: str,
        *,
        access_token: str,
        client_secret: str | None,
        webhook_token: str,
        require_signature: bool,
        replaced_token: tuple[str, int] | None = None,
    ) -> None:
        previous, until = replaced_token if replaced_token is not None else (None, None)
        auth = WebhookAuth(
            client_secret=client_secret,
            token=webhook_token,
            require_signature=require_signature,
            previous_token=previous,
            previous_token_until=until,
        )
        # The API token first: a store the receiver knows (by its credentials) can be enriched.
        self._put_secret(api_parameter(self._prefix, store_hash), {"access_token": access_token})
        self.credentials.put(store_hash, auth)

    def delete_secrets(self, store_hash: str) -> None:
        """The store's credentials and API token; deleting what is already gone is not an error."""
        self.credentials.delete(store_hash)
        self._ssm.delete_parameters(Names=[api_parameter(self._prefix, store_hash)])

    def put_row(
        self,
        settings: StoreSettings,
        *,
        created_at: int,
        extra: dict[str, Any] | None = None,
        own_stages: bool = True,
    ) -> None:
        """``own_stages`` False: the row follows the deployment's default stages."""
        item = store_to_item(settings, created_at=created_at, extra=extra)
        if not own_stages:
            del item["stages"]
        self._dynamodb.put_item(TableName=self._table, Item=item)

    def row_item(self, store_hash: str) -> dict[str, Any] | None:
        """The store's row exactly as stored (to put it back if an install fails half-way)."""
        item: dict[str, Any] | None = self._dynamodb.get_item(
            TableName=self._table, Key=store_key(store_hash), ConsistentRead=True
        ).get("Item")
        return item

    def restore_row(self, store_hash: str, item: dict[str, Any] | None) -> None:
        """Put back a row read with :meth:`row_item` (None: there was none)."""
        if item is None:
            self._dynamodb.delete_item(TableName=self._table, Key=store_key(store_hash))
        else:
            self._dynamodb.put_item(TableName=self._table, Item=item)

    def migrate_legacy_webhook_auth(self, store_hash: str) -> bool:
        """Move the store's webhook credentials from their old SSM parameter into their table
        (deployments from before decision 60); True when there was one to move."""
        name = legacy_webhook_auth_parameter(self._prefix, store_hash)
        try:
            value = json.loads(self._ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
        except self._ssm.exceptions.ParameterNotFound:
            return False
        if self.credentials.get(store_hash) is None:  # never over credentials written since
            until = value.get("previous_token_until")
            self.credentials.put(
                store_hash,
                WebhookAuth(
                    client_secret=value.get("client_secret") or None,
                    token=value.get("token") or None,
                    require_signature=bool(value.get("require_signature", False)),
                    previous_token=value.get("previous_token") or None,
                    previous_token_until=int(until) if isinstance(until, int | float) else None,
                ),
            )
        self._ssm.delete_parameters(Names=[name])
        return True

    def save_app_credentials(self, credentials: AppCredentials) -> None:
        self._put_secret(
            app_credentials_parameter(self._prefix),
            {"client_id": credentials.client_id, "client_secret": credentials.client_secret},
        )

    def _put_secret(self, name: str, value: dict[str, Any]) -> None:
        self._ssm.put_parameter(
            Name=name, Value=json.dumps(value), Type="SecureString", Overwrite=True, Tier="Standard"
        )


def store_key(store_hash: str) -> dict[str, Any]:
    return {"pk": {"S": STORE_PK}, "sk": {"S": store_hash}}
