"""The composition root: every client and service is built here, once, lazily.

Nothing does I/O at import.  Handlers ask for what they need; tests and
``cartwatch local`` either set the same environment variables (with
``AWS_ENDPOINT_URL`` pointing at moto) or pass their own objects to the handlers.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    from cartwatch.adapters.cart_repository import CartRepository
    from cartwatch.adapters.store_registry import StoreDirectory, StorePurge, StoreSecrets
    from cartwatch.service.cart_queries import CartQueries
    from cartwatch.service.processing import CartProcessor
    from cartwatch.service.publishing import OutboxRelay
    from cartwatch.service.sweeping import AbandonmentSweep


def _client_config() -> Any:
    from botocore.config import Config

    # Tight timeouts and adaptive retries: a Lambda should fail fast and let its event
    # source retry rather than sit in a socket until its own timeout.
    return Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})


@cache
def aws_client(service: str) -> Any:
    import boto3

    return boto3.client(service, config=_client_config())  # type: ignore[call-overload]


@cache
def ssm_provider() -> SSMProvider:
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    return SSMProvider(boto3_client=aws_client("ssm"))


@cache
def store_secrets() -> StoreSecrets:
    from cartwatch.adapters.store_registry import StoreSecrets
    from cartwatch.settings import StoreRegistrySettings

    settings = StoreRegistrySettings.from_env()
    return StoreSecrets(ssm_provider(), settings.ssm_prefix, settings.cache_seconds)


@cache
def store_directory() -> StoreDirectory:
    from cartwatch.adapters.store_registry import StoreDirectory
    from cartwatch.settings import state_settings

    settings = state_settings()
    return StoreDirectory(
        aws_client("dynamodb"),
        settings.table_name,
        settings.stores.default_stages,
        cache_seconds=settings.stores.cache_seconds,
    )


@cache
def cart_repository() -> CartRepository:
    from cartwatch.adapters.cart_repository import CartRepository
    from cartwatch.settings import state_settings

    settings = state_settings()
    return CartRepository(
        aws_client("dynamodb"),
        settings.table_name,
        due_shards=settings.due_shards,
        closed_retention_days=settings.closed_retention_days,
    )


@cache
def store_purge() -> StorePurge:
    from cartwatch.adapters.store_registry import StorePurge
    from cartwatch.settings import state_settings

    settings = state_settings()
    return StorePurge(
        aws_client("dynamodb"),
        aws_client("ssm"),
        settings.table_name,
        settings.stores.ssm_prefix,
        cart_repository().delete_store_carts,
    )


@cache
def cart_processor() -> CartProcessor:
    from cartwatch.service.processing import CartProcessor

    return CartProcessor(cart_repository(), store_directory(), purge_store=store_purge())


def abandonment_sweep(remaining_ms: Any = None) -> AbandonmentSweep:
    from cartwatch.service.sweeping import AbandonmentSweep

    return AbandonmentSweep(cart_repository(), store_directory(), remaining_ms=remaining_ms)


@cache
def outbox_relay() -> OutboxRelay:
    from cartwatch.adapters.event_publisher import SnsEventPublisher
    from cartwatch.adapters.store_clients import bigcommerce_clients
    from cartwatch.service.publishing import OutboxRelay
    from cartwatch.settings import publisher_settings

    settings = publisher_settings()
    return OutboxRelay(
        cart_repository(),
        store_directory(),
        SnsEventPublisher(aws_client("sns"), settings.topic_arn),
        bigcommerce_clients(store_secrets(), settings.bigcommerce.api_url),
    )


@cache
def cart_queries() -> CartQueries:
    from cartwatch.adapters.cart_listing import CartListingIndex
    from cartwatch.adapters.cursor_key import cursor_key_parameter, load_cursor_key
    from cartwatch.service.cart_queries import CartQueries
    from cartwatch.service.cursors import CursorCodec
    from cartwatch.settings import state_settings

    settings = state_settings()
    key = load_cursor_key(aws_client("ssm"), cursor_key_parameter(settings.stores.ssm_prefix))
    return CartQueries(
        cart_repository(),
        CartListingIndex(aws_client("dynamodb"), settings.table_name),
        store_directory(),
        CursorCodec(key),
    )
