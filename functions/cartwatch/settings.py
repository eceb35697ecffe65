"""Function settings, validated once from the environment.

Each Lambda reads only the variables it needs; a missing or malformed one fails the cold
start with a message naming it, instead of a KeyError deep inside a request.  The CDK
stack (``infra/``) and ``cartwatch local`` set exactly these names — see ``ENV`` below.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

from cartwatch.domain.stages import StageSchedule


class SettingsError(RuntimeError):
    """A required environment variable is missing or malformed."""


class ENV:
    """The environment variable names, shared with the CDK stack and ``cartwatch local``."""

    TABLE_NAME = "CARTWATCH_TABLE_NAME"
    INTAKE_QUEUE_URL = "CARTWATCH_INTAKE_QUEUE_URL"
    TOPIC_ARN = "CARTWATCH_TOPIC_ARN"
    SSM_PREFIX = "CARTWATCH_SSM_PREFIX"
    DUE_SHARDS = "CARTWATCH_DUE_SHARDS"
    DEFAULT_STAGES = "CARTWATCH_DEFAULT_STAGES"
    BIGCOMMERCE_API_URL = "CARTWATCH_BIGCOMMERCE_API_URL"
    STORE_CACHE_SECONDS = "CARTWATCH_STORE_CACHE_SECONDS"
    CLOSED_RETENTION_DAYS = "CARTWATCH_CLOSED_RETENTION_DAYS"
    WEBHOOK_TOLERANCE_SECONDS = "CARTWATCH_WEBHOOK_TOLERANCE_SECONDS"
    TRACE_SUBSEGMENTS = "CARTWATCH_TRACE_SUBSEGMENTS"
    WEBHOOK_BASE_URL = "CARTWATCH_WEBHOOK_BASE_URL"
    PURGE_QUEUE_URL = "CARTWATCH_PURGE_QUEUE_URL"
    PURGE_START_DELAY_SECONDS = "CARTWATCH_PURGE_START_DELAY_SECONDS"
    BIGCOMMERCE_LOGIN_URL = "CARTWATCH_BIGCOMMERCE_LOGIN_URL"
    APP_AUTH_CALLBACK_URL = "CARTWATCH_APP_AUTH_CALLBACK_URL"
    APP_FRAME_ANCESTORS = "CARTWATCH_APP_FRAME_ANCESTORS"


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise SettingsError(f"environment variable {name} is required but not set")
    return value


def _url(name: str, default: str | None = None) -> str:
    """An https URL (or a loopback one, for `cartwatch local` and the tests), without a trailing /."""
    url = (os.environ.get(name, "").strip() or default or _required(name)).rstrip("/")
    if not url.startswith(("https://", "http://127.", "http://localhost")):
        raise SettingsError(f"environment variable {name} must be an https URL (or loopback)")
    return url


def _integer(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"environment variable {name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"environment variable {name} must be >= {minimum}, got {value}")
    return value


# Plain frozen dataclasses rather than pydantic models: the receiver sits on the ack path,
# whose cold import must stay within 1.3x of ``import boto3`` (see bench/), and pydantic
# alone costs ~15 % of that.  Validation is still done once, here, with clear messages.


@dataclass(frozen=True)
class StoreRegistrySettings:
    table_name: str
    ssm_prefix: str
    cache_seconds: int
    default_stages: StageSchedule

    @classmethod
    def from_env(cls) -> StoreRegistrySettings:
        stages_raw = os.environ.get(ENV.DEFAULT_STAGES, "").strip() or "1h,24h,48h"
        try:
            stages = StageSchedule.parse(stages_raw)
        except ValueError as error:
            raise SettingsError(f"environment variable {ENV.DEFAULT_STAGES}: {error}") from None
        prefix = (os.environ.get(ENV.SSM_PREFIX, "").strip() or "/cartwatch").rstrip("/")
        if not prefix.startswith("/"):
            raise SettingsError(f"environment variable {ENV.SSM_PREFIX} must start with '/'")
        return cls(
            table_name=_required(ENV.TABLE_NAME),
            ssm_prefix=prefix,
            cache_seconds=_integer(ENV.STORE_CACHE_SECONDS, 300),
            default_stages=stages,
        )


@dataclass(frozen=True)
class ReceiverSettings:
    intake_queue_url: str
    stores: StoreRegistrySettings
    tolerance_seconds: int

    @classmethod
    def from_env(cls) -> ReceiverSettings:
        return cls(
            intake_queue_url=_required(ENV.INTAKE_QUEUE_URL),
            stores=StoreRegistrySettings.from_env(),
            tolerance_seconds=_integer(ENV.WEBHOOK_TOLERANCE_SECONDS, 300, minimum=1),
        )


@dataclass(frozen=True)
class StateSettings:
    """What the processor, sweeper and publisher share: the table and its due index."""

    table_name: str
    due_shards: int
    closed_retention_days: int
    stores: StoreRegistrySettings

    @classmethod
    def from_env(cls) -> StateSettings:
        return cls(
            table_name=_required(ENV.TABLE_NAME),
            due_shards=_integer(ENV.DUE_SHARDS, 16, minimum=1),
            closed_retention_days=_integer(ENV.CLOSED_RETENTION_DAYS, 30, minimum=1),
            stores=StoreRegistrySettings.from_env(),
        )


@dataclass(frozen=True)
class BigCommerceSettings:
    api_url: str

    @classmethod
    def from_env(cls) -> BigCommerceSettings:
        url = os.environ.get(ENV.BIGCOMMERCE_API_URL, "").strip() or "https://api.bigcommerce.com"
        if not url.startswith(("https://", "http://127.", "http://localhost")):
            raise SettingsError(
                f"environment variable {ENV.BIGCOMMERCE_API_URL} must be an https URL (or loopback)"
            )
        return cls(api_url=url.rstrip("/"))


@dataclass(frozen=True)
class HookHealthSettings:
    """The daily hook check: which stores (table), where their hooks must point, and the API."""

    table_name: str
    webhook_base_url: str
    bigcommerce: BigCommerceSettings

    @classmethod
    def from_env(cls) -> HookHealthSettings:
        url = _required(ENV.WEBHOOK_BASE_URL).rstrip("/")
        # BigCommerce delivers to HTTPS on port 443 only; loopback serves `cartwatch local`.
        if not url.startswith(("https://", "http://127.", "http://localhost")):
            raise SettingsError(f"environment variable {ENV.WEBHOOK_BASE_URL} must be an https URL")
        return cls(
            table_name=_required(ENV.TABLE_NAME),
            webhook_base_url=url,
            bigcommerce=BigCommerceSettings.from_env(),
        )


@dataclass(frozen=True)
class PublisherSettings:
    topic_arn: str
    state: StateSettings
    bigcommerce: BigCommerceSettings

    @classmethod
    def from_env(cls) -> PublisherSettings:
        return cls(
            topic_arn=_required(ENV.TOPIC_ARN),
            state=StateSettings.from_env(),
            bigcommerce=BigCommerceSettings.from_env(),
        )


@dataclass(frozen=True)
class UninstallSettings:
    """Where purge work is queued, and how long a purge waits before it scans.

    The wait outlasts every cache that could still call the store active — the processor's
    store cache and one processor invocation — so no write of its carts can follow the scan.
    """

    purge_queue_url: str
    start_delay_seconds: int

    @classmethod
    def from_env(cls) -> UninstallSettings:
        from cartwatch.resources import PROCESSOR_TIMEOUT_SECONDS

        cache_seconds = _integer(ENV.STORE_CACHE_SECONDS, 300)
        return cls(
            purge_queue_url=_required(ENV.PURGE_QUEUE_URL),
            start_delay_seconds=_integer(
                ENV.PURGE_START_DELAY_SECONDS, cache_seconds + PROCESSOR_TIMEOUT_SECONDS
            ),
        )


@dataclass(frozen=True)
class AppSettings:
    """The app callbacks: BigCommerce's login service, our own URLs, who may frame the page."""

    login_url: str
    auth_callback_url: str  # the registered Auth Callback URL, sent back as redirect_uri
    webhook_base_url: str
    frame_ancestors: tuple[str, ...]
    bigcommerce: BigCommerceSettings
    uninstall: UninstallSettings

    @classmethod
    def from_env(cls) -> AppSettings:
        ancestors = tuple(
            (os.environ.get(ENV.APP_FRAME_ANCESTORS, "").strip() or "https://*.mybigcommerce.com").split()
        )
        for source in ancestors:
            # Only origins (scheme, host, optional port): never 'self', '*' or a bare scheme.
            if (
                not source.startswith(("https://", "http://127.", "http://localhost"))
                or source.count("/") != 2
            ):
                raise SettingsError(
                    f"environment variable {ENV.APP_FRAME_ANCESTORS}: {source!r} is not an origin"
                )
        return cls(
            login_url=_url(ENV.BIGCOMMERCE_LOGIN_URL, "https://login.bigcommerce.com"),
            auth_callback_url=_url(ENV.APP_AUTH_CALLBACK_URL),
            webhook_base_url=_url(ENV.WEBHOOK_BASE_URL),
            frame_ancestors=ancestors,
            bigcommerce=BigCommerceSettings.from_env(),
            uninstall=UninstallSettings.from_env(),
        )


@cache
def receiver_settings() -> ReceiverSettings:
    return ReceiverSettings.from_env()


@cache
def state_settings() -> StateSettings:
    return StateSettings.from_env()


@cache
def bigcommerce_settings() -> BigCommerceSettings:
    return BigCommerceSettings.from_env()


@cache
def publisher_settings() -> PublisherSettings:
    return PublisherSettings.from_env()


@cache
def uninstall_settings() -> UninstallSettings:
    return UninstallSettings.from_env()


@cache
def app_settings() -> AppSettings:
    return AppSettings.from_env()
