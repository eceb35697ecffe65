"""Function settings, validated once from the environment.

Every function is configured by the same :class:`Settings`; its environment (set by the
CDK stack, ``infra/cartwatch_infra/foundation.py``) holds the variables it uses, and a
value a function needs but was not given fails its first request with a message naming
the variable, instead of a KeyError deep inside a request.  ``cartwatch local`` and the
tests build ``Settings`` directly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from cartwatch.domain.stages import DEFAULT_STAGES, StageSchedule

DEFAULT_BIGCOMMERCE_API_URL = "https://api.bigcommerce.com"
DEFAULT_BIGCOMMERCE_LOGIN_URL = "https://login.bigcommerce.com"
# Who may frame the app's merchant page: BigCommerce's control panel.
DEFAULT_FRAME_ANCESTORS = ("https://*.mybigcommerce.com",)
DEFAULT_SSM_PREFIX = "/cartwatch"  # a deployment's default (cdk.json ``ssmPrefix``)


class SettingsError(RuntimeError):
    """A required environment variable is missing or malformed."""


class ENV:
    """The environment variable names, shared with the CDK stack and the import benchmark."""

    TABLE_NAME = "CARTWATCH_TABLE_NAME"
    CREDENTIALS_TABLE_NAME = "CARTWATCH_CREDENTIALS_TABLE_NAME"
    STORE_INDEX_SECONDS = "CARTWATCH_STORE_INDEX_SECONDS"
    INTAKE_QUEUE_URL = "CARTWATCH_INTAKE_QUEUE_URL"
    TOPIC_ARN = "CARTWATCH_TOPIC_ARN"
    SSM_PREFIX = "CARTWATCH_SSM_PREFIX"
    DUE_SHARDS = "CARTWATCH_DUE_SHARDS"
    DEFAULT_STAGES = "CARTWATCH_DEFAULT_STAGES"
    BIGCOMMERCE_API_URL = "CARTWATCH_BIGCOMMERCE_API_URL"
    STORE_CACHE_SECONDS = "CARTWATCH_STORE_CACHE_SECONDS"
    API_TOKEN_CACHE_SECONDS = "CARTWATCH_API_TOKEN_CACHE_SECONDS"  # noqa: S105 — a variable name, not a secret
    CLOSED_RETENTION_DAYS = "CARTWATCH_CLOSED_RETENTION_DAYS"
    TRACE_SUBSEGMENTS = "CARTWATCH_TRACE_SUBSEGMENTS"
    WEBHOOK_BASE_URL = "CARTWATCH_WEBHOOK_BASE_URL"
    PURGE_QUEUE_URL = "CARTWATCH_PURGE_QUEUE_URL"
    ARCHIVE_BUCKET = "CARTWATCH_ARCHIVE_BUCKET"
    PURGE_START_DELAY_SECONDS = "CARTWATCH_PURGE_START_DELAY_SECONDS"
    BIGCOMMERCE_LOGIN_URL = "CARTWATCH_BIGCOMMERCE_LOGIN_URL"
    APP_AUTH_CALLBACK_URL = "CARTWATCH_APP_AUTH_CALLBACK_URL"
    APP_FRAME_ANCESTORS = "CARTWATCH_APP_FRAME_ANCESTORS"
    HOOK_HEALTH_PERIOD_SECONDS = "CARTWATCH_HOOK_HEALTH_PERIOD_SECONDS"
    HOOK_HEALTH_WORKERS = "CARTWATCH_HOOK_HEALTH_WORKERS"


_SECURE = ("https://", "http://127.", "http://localhost")

# A plain frozen dataclass rather than a pydantic model: the receiver sits on the ack path,
# whose cold import must stay within 1.3x of ``import boto3`` (see bench/), and pydantic
# alone costs ~15 % of that.  Validation is still done once, here, with clear messages.


@dataclass(frozen=True)
class Settings:
    table_name: str
    ssm_prefix: str = DEFAULT_SSM_PREFIX  # where store secrets live in SSM
    default_stages: StageSchedule = field(default_factory=lambda: StageSchedule.parse(DEFAULT_STAGES))
    store_cache_seconds: int = 300  # how long store settings and secrets are cached
    # How long the publisher keeps a store's API client, and so its token, before reading the
    # token again.  A refused token is read again at once (its 401), so this bounds the SSM
    # reads (the capacity model's "SSM: the publisher's API-token reads"), not how soon a
    # rotation is honoured.
    api_token_cache_seconds: int = 3600
    due_shards: int = 16  # partitions of the due index (see resources.DUE_INDEX)
    closed_retention_days: int = 30  # how long closed carts stay before the TTL deletes them
    bigcommerce_api_url: str = DEFAULT_BIGCOMMERCE_API_URL
    intake_queue_url: str | None = None  # the receiver's
    topic_arn: str | None = None  # the publisher's
    webhook_base_url: str | None = None  # hook-health's and the app's: where stores' hooks point
    purge_queue_url: str | None = None  # the processor's and the purge job's
    archive_bucket: str | None = None  # the archiver's (the event archive, on S3)
    # How long a purge waits before it scans (None: the store cache and one processor run).
    purge_start_delay_seconds: int | None = None
    bigcommerce_login_url: str = DEFAULT_BIGCOMMERCE_LOGIN_URL  # the app's
    app_auth_callback_url: str | None = None  # the app's registered Auth Callback URL
    app_frame_ancestors: tuple[str, ...] = DEFAULT_FRAME_ANCESTORS
    # The stores' webhook credentials: the receiver reads them, the CLI, the app and the purge
    # job write them.
    credentials_table_name: str | None = None
    # How often the receiver re-reads the index of known stores: a store added (or removed,
    # or its credentials changed) is seen by every warm instance within this many seconds.
    store_index_seconds: int = 60
    # An unknown store hash re-reads that index at once.  Never from the environment: for
    # `cartwatch local` and the tests, where a store added a moment ago must be served at once;
    # deployed, an unknown hash costs no call (a new store waits for the index's next read).
    store_index_reread_on_miss: bool = False
    # The hook check's: how often every store is checked, by how many checks at once.
    hook_health_period_seconds: int = 86_400
    hook_health_workers: int = 8

    def __post_init__(self) -> None:
        if not self.ssm_prefix.startswith("/"):
            raise SettingsError(f"environment variable {ENV.SSM_PREFIX} must start with '/'")
        # BigCommerce delivers to HTTPS on port 443 only; loopback serves `cartwatch local`.
        for name, url in (
            (ENV.BIGCOMMERCE_API_URL, self.bigcommerce_api_url),
            (ENV.WEBHOOK_BASE_URL, self.webhook_base_url),
            (ENV.BIGCOMMERCE_LOGIN_URL, self.bigcommerce_login_url),
            (ENV.APP_AUTH_CALLBACK_URL, self.app_auth_callback_url),
        ):
            if url is not None and not url.startswith(_SECURE):
                raise SettingsError(f"environment variable {name} must be an https URL (or loopback)")
        for source in self.app_frame_ancestors:
            # Only origins (scheme, host, optional port): never 'self', '*' or a bare scheme.
            if not source.startswith(_SECURE) or source.count("/") != 2:
                raise SettingsError(
                    f"environment variable {ENV.APP_FRAME_ANCESTORS}: {source!r} is not an origin"
                )

    @property
    def purge_start_delay(self) -> int:
        """The wait outlasts every cache that could still call an uninstalled store active — the
        processor's store cache and one processor invocation — so no write of its carts can
        follow the purge's scan."""
        if self.purge_start_delay_seconds is not None:
            return self.purge_start_delay_seconds
        from cartwatch.resources import PROCESSOR_TIMEOUT_SECONDS

        return self.store_cache_seconds + PROCESSOR_TIMEOUT_SECONDS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        def text(name: str) -> str | None:
            return environ.get(name, "").strip() or None

        def integer(name: str, default: int, minimum: int) -> int:
            raw = text(name)
            if raw is None:
                return default
            try:
                value = int(raw)
            except ValueError:
                raise SettingsError(f"environment variable {name} must be an integer, got {raw!r}") from None
            if value < minimum:
                raise SettingsError(f"environment variable {name} must be >= {minimum}, got {value}")
            return value

        try:
            stages = StageSchedule.parse(text(ENV.DEFAULT_STAGES) or DEFAULT_STAGES)
        except ValueError as error:
            raise SettingsError(f"environment variable {ENV.DEFAULT_STAGES}: {error}") from None
        table_name = text(ENV.TABLE_NAME)
        if table_name is None:
            raise SettingsError(f"environment variable {ENV.TABLE_NAME} is required but not set")
        return cls(
            table_name=table_name,
            ssm_prefix=(text(ENV.SSM_PREFIX) or DEFAULT_SSM_PREFIX).rstrip("/"),
            default_stages=stages,
            store_cache_seconds=integer(ENV.STORE_CACHE_SECONDS, 300, 0),
            api_token_cache_seconds=integer(ENV.API_TOKEN_CACHE_SECONDS, 3600, 0),
            due_shards=integer(ENV.DUE_SHARDS, 16, 1),
            closed_retention_days=integer(ENV.CLOSED_RETENTION_DAYS, 30, 1),
            bigcommerce_api_url=(text(ENV.BIGCOMMERCE_API_URL) or DEFAULT_BIGCOMMERCE_API_URL).rstrip("/"),
            intake_queue_url=text(ENV.INTAKE_QUEUE_URL),
            topic_arn=text(ENV.TOPIC_ARN),
            webhook_base_url=(text(ENV.WEBHOOK_BASE_URL) or "").rstrip("/") or None,
            purge_queue_url=text(ENV.PURGE_QUEUE_URL),
            archive_bucket=text(ENV.ARCHIVE_BUCKET),
            purge_start_delay_seconds=(
                integer(ENV.PURGE_START_DELAY_SECONDS, 0, 0) if text(ENV.PURGE_START_DELAY_SECONDS) else None
            ),
            bigcommerce_login_url=(text(ENV.BIGCOMMERCE_LOGIN_URL) or DEFAULT_BIGCOMMERCE_LOGIN_URL).rstrip(
                "/"
            ),
            app_auth_callback_url=(text(ENV.APP_AUTH_CALLBACK_URL) or "").rstrip("/") or None,
            app_frame_ancestors=tuple(
                (text(ENV.APP_FRAME_ANCESTORS) or " ".join(DEFAULT_FRAME_ANCESTORS)).split()
            ),
            credentials_table_name=text(ENV.CREDENTIALS_TABLE_NAME),
            store_index_seconds=integer(ENV.STORE_INDEX_SECONDS, 60, 1),
            hook_health_period_seconds=integer(ENV.HOOK_HEALTH_PERIOD_SECONDS, 86_400, 60),
            hook_health_workers=integer(ENV.HOOK_HEALTH_WORKERS, 8, 1),
        )

    def required(self, value: str | None, variable: str) -> str:
        """A value this function needs; missing, it names the environment variable to set."""
        if value is None:
            raise SettingsError(f"environment variable {variable} is required but not set")
        return value
