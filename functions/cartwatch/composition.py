"""The composition root: every client and service is built here, once, lazily.

Nothing does I/O at import.  Handlers ask for what they need; tests and
``cartwatch local`` either set the same environment variables (with
``AWS_ENDPOINT_URL`` pointing at moto) or pass their own objects to the handlers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    from cartwatch.adapters.cart_repository import CartRepository
    from cartwatch.adapters.purge_queue import PurgeQueue
    from cartwatch.adapters.store_registry import StoreDirectory, StoreSecrets
    from cartwatch.service.app_install import AppInstaller
    from cartwatch.service.cart_queries import CartQueries
    from cartwatch.service.merchant_page import MerchantPage
    from cartwatch.service.processing import CartProcessor
    from cartwatch.service.publishing import OutboxRelay
    from cartwatch.service.purge_job import PurgeJob
    from cartwatch.service.sweeping import AbandonmentSweep
    from cartwatch.service.uninstall import StoreUninstall, UninstallCheck
    from cartwatch.settings import AppSettings, StateSettings, UninstallSettings


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
def cart_processor() -> CartProcessor:
    from cartwatch.service.processing import CartProcessor
    from cartwatch.service.purge_job import uninstall_checks

    # Only the queue: the processor never purges, so it builds nothing else of the lifecycle.
    return CartProcessor(
        cart_repository(), store_directory(), check_uninstall=uninstall_checks(purge_queue())
    )


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


# --- uninstall, purge and the app's callbacks --------------------------------------------------
#
# Built from explicit clients and settings (``build_*``), so that `cartwatch local` wires the
# same objects the functions do; the cached functions below are the Lambda's own wiring.


@dataclass(frozen=True)
class StoreLifecycle:
    """Everything that ends a store: the purge queue, the uninstall, the check, the purge job."""

    queue: PurgeQueue
    uninstall: StoreUninstall
    check: UninstallCheck
    job: PurgeJob

    def request_check(self, store_hash: str) -> None:
        """The processor's part: a ``store/app/uninstalled`` webhook becomes a check to make."""
        from cartwatch.service.purge_job import uninstall_checks

        uninstall_checks(self.queue)(store_hash)


def build_store_lifecycle(
    *,
    dynamodb: Any,
    ssm: Any,
    sqs: Any,
    secrets: StoreSecrets,
    state: StateSettings,
    uninstall: UninstallSettings,
    bigcommerce_api_url: str,
) -> StoreLifecycle:
    from cartwatch.adapters.cart_purge import CartPurge
    from cartwatch.adapters.purge_queue import PurgeQueue
    from cartwatch.adapters.purge_records import PurgeRecords
    from cartwatch.adapters.store_clients import bigcommerce_clients
    from cartwatch.adapters.store_registry import StoreWriter
    from cartwatch.service.purge_job import PurgeJob
    from cartwatch.service.uninstall import StoreUninstall, UninstallCheck

    queue = PurgeQueue(sqs, uninstall.purge_queue_url)
    records = PurgeRecords(dynamodb, state.table_name)
    writer = StoreWriter(dynamodb, ssm, state.table_name, state.stores.ssm_prefix)
    store_uninstall = StoreUninstall(
        records, writer, queue, start_delay_seconds=uninstall.start_delay_seconds
    )
    clients = bigcommerce_clients(secrets, bigcommerce_api_url, max_attempts=2)
    return StoreLifecycle(
        queue=queue,
        uninstall=store_uninstall,
        check=UninstallCheck(records, clients, store_uninstall),
        job=PurgeJob(records, CartPurge(dynamodb, state.table_name), writer, queue),
    )


def build_app_callbacks(
    *,
    dynamodb: Any,
    ssm: Any,
    secrets: StoreSecrets,
    state: StateSettings,
    app: AppSettings,
    uninstall: StoreUninstall,
) -> tuple[AppInstaller, MerchantPage]:
    from cartwatch.adapters.bigcommerce import BigCommerceClient
    from cartwatch.adapters.bigcommerce_login import BigCommerceLogin
    from cartwatch.adapters.callback_ledger import CallbackLedger
    from cartwatch.adapters.cart_listing import CartListingIndex
    from cartwatch.adapters.merchant_rows import MerchantRows
    from cartwatch.adapters.store_clients import bigcommerce_clients
    from cartwatch.adapters.store_registry import StoreWriter
    from cartwatch.service.app_install import AppInstaller
    from cartwatch.service.form_tokens import FormTokens, form_token_key
    from cartwatch.service.hook_health import StoreRows
    from cartwatch.service.merchant_page import MerchantPage
    from cartwatch.service.signed_payload import SignedPayloadVerifier

    table = state.table_name
    ledger = CallbackLedger(dynamodb, table)
    rows = StoreRows(dynamodb, table)
    # Behind a browser request (API Gateway gives 30 s): BigCommerce calls fail fast.
    attempts, max_wait = 2, 5.0
    installer = AppInstaller(
        app=secrets.app_credentials,
        login=BigCommerceLogin(app.login_url),
        ledger=ledger,
        secrets=secrets,
        writer=StoreWriter(dynamodb, ssm, table, state.stores.ssm_prefix),
        rows=rows,
        clients=lambda store_hash, token: BigCommerceClient(
            store_hash,
            token,
            api_url=app.bigcommerce.api_url,
            max_attempts=attempts,
            max_wait_seconds=max_wait,
        ),
        webhook_base_url=app.webhook_base_url,
        redirect_uri=app.auth_callback_url,
        default_stages=state.stores.default_stages,
    )
    page = MerchantPage(
        verifier=SignedPayloadVerifier(secrets.app_credentials, ledger.first_use),
        form_tokens=FormTokens(lambda: form_token_key(secrets.app_credentials().client_secret)),
        rows=rows,
        merchant_rows=MerchantRows(dynamodb, table),
        listing=CartListingIndex(dynamodb, table),
        clients=bigcommerce_clients(
            secrets, app.bigcommerce.api_url, max_attempts=attempts, max_wait_seconds=max_wait
        ),
        webhook_base_url=app.webhook_base_url,
        default_stages=state.stores.default_stages,
        uninstall=uninstall,
    )
    return installer, page


@cache
def purge_queue() -> PurgeQueue:
    from cartwatch.adapters.purge_queue import PurgeQueue
    from cartwatch.settings import uninstall_settings

    return PurgeQueue(aws_client("sqs"), uninstall_settings().purge_queue_url)


@cache
def store_lifecycle() -> StoreLifecycle:
    from cartwatch.settings import bigcommerce_settings, state_settings, uninstall_settings

    return build_store_lifecycle(
        dynamodb=aws_client("dynamodb"),
        ssm=aws_client("ssm"),
        sqs=aws_client("sqs"),
        secrets=store_secrets(),
        state=state_settings(),
        uninstall=uninstall_settings(),
        bigcommerce_api_url=bigcommerce_settings().api_url,
    )


@cache
def app_callbacks() -> tuple[AppInstaller, MerchantPage]:
    from cartwatch.settings import app_settings, state_settings

    return build_app_callbacks(
        dynamodb=aws_client("dynamodb"),
        ssm=aws_client("ssm"),
        secrets=store_secrets(),
        state=state_settings(),
        app=app_settings(),
        uninstall=store_lifecycle().uninstall,
    )
