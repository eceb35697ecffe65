"""How the functions that end a store's stay are built: the uninstall, its check, the purge job,
and the app's callbacks (part of the composition root, kept apart for size).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cartwatch.settings import ENV

if TYPE_CHECKING:
    from cartwatch.adapters.purge_queue import PurgeQueue
    from cartwatch.composition import Composition
    from cartwatch.service.app_install import AppInstaller
    from cartwatch.service.merchant_page import MerchantPage
    from cartwatch.service.purge_job import PurgeJob
    from cartwatch.service.uninstall import StoreUninstall, UninstallCheck


@dataclass(frozen=True)
class StoreLifecycle:
    """Everything that ends a store: the purge queue, the uninstall, its check, the purge job."""

    queue: PurgeQueue
    uninstall: StoreUninstall
    check: UninstallCheck
    job: PurgeJob


def build_store_lifecycle(composition: Composition) -> StoreLifecycle:
    """The purge queue, the uninstall, its check and the purge job, on the composition's clients."""
    from cartwatch.adapters.cart_table.purge import CartPurge
    from cartwatch.adapters.purge_records import PurgeRecords
    from cartwatch.adapters.store_clients import bigcommerce_clients
    from cartwatch.service.purge_job import PurgeJob
    from cartwatch.service.uninstall import StoreUninstall, UninstallCheck

    settings = composition.settings
    dynamodb = composition.clients.client("dynamodb")
    records = PurgeRecords(dynamodb, settings.table_name)
    writer = composition.store_writer
    uninstall = StoreUninstall(
        records, writer, composition.purge_queue, start_delay_seconds=settings.purge_start_delay
    )
    clients = bigcommerce_clients(composition.store_secrets, settings.bigcommerce_api_url, max_attempts=2)
    return StoreLifecycle(
        queue=composition.purge_queue,
        uninstall=uninstall,
        check=UninstallCheck(records, clients, uninstall),
        job=PurgeJob(records, CartPurge(dynamodb, settings.table_name), writer, composition.purge_queue),
    )


def build_app_callbacks(composition: Composition) -> tuple[AppInstaller, MerchantPage]:
    """The app's install callback and its merchant page."""
    from cartwatch.adapters.bigcommerce import BigCommerceClient
    from cartwatch.adapters.bigcommerce_login import BigCommerceLogin
    from cartwatch.adapters.callback_ledger import CallbackLedger
    from cartwatch.adapters.cart_table.listing import CartListingIndex
    from cartwatch.adapters.merchant_rows import MerchantRows
    from cartwatch.adapters.store_clients import bigcommerce_clients
    from cartwatch.adapters.store_rows import StoreRows
    from cartwatch.service.app_install import AppInstaller
    from cartwatch.service.form_tokens import FormTokens, form_token_key
    from cartwatch.service.merchant_page import MerchantPage
    from cartwatch.service.signed_payload import SignedPayloadVerifier

    settings = composition.settings
    webhook_base_url = settings.required(settings.webhook_base_url, ENV.WEBHOOK_BASE_URL)
    auth_callback_url = settings.required(settings.app_auth_callback_url, ENV.APP_AUTH_CALLBACK_URL)
    dynamodb, table, secrets = (
        composition.clients.client("dynamodb"),
        settings.table_name,
        composition.store_secrets,
    )
    ledger = CallbackLedger(dynamodb, table)
    rows = StoreRows(dynamodb, table)
    # Behind a browser request (API Gateway gives 30 s): BigCommerce calls fail fast.
    attempts, max_wait = 2, 5.0
    installer = AppInstaller(
        app=secrets.app_credentials,
        login=BigCommerceLogin(settings.bigcommerce_login_url),
        ledger=ledger,
        secrets=secrets,
        writer=composition.store_writer,
        rows=rows,
        clients=lambda store_hash, token: BigCommerceClient(
            store_hash,
            token,
            api_url=settings.bigcommerce_api_url,
            max_attempts=attempts,
            max_wait_seconds=max_wait,
        ),
        webhook_base_url=webhook_base_url,
        redirect_uri=auth_callback_url,
        default_stages=settings.default_stages,
    )
    page = MerchantPage(
        verifier=SignedPayloadVerifier(secrets.app_credentials, ledger.first_use),
        form_tokens=FormTokens(lambda: form_token_key(secrets.app_credentials().client_secret)),
        rows=rows,
        merchant_rows=MerchantRows(dynamodb, table),
        listing=CartListingIndex(dynamodb, table),
        clients=bigcommerce_clients(
            secrets, settings.bigcommerce_api_url, max_attempts=attempts, max_wait_seconds=max_wait
        ),
        webhook_base_url=webhook_base_url,
        default_stages=settings.default_stages,
        uninstall=composition.store_lifecycle.uninstall,
    )
    return installer, page
