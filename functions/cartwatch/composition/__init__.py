"""The composition root: what each function is built from, in one place.

A :class:`Composition` is built per function (``FUNCTIONS``) from its :class:`Settings` and
its own AWS clients, and builds the services that function's handler calls — each on first
use, once, kept for the life of the container.  Nothing does I/O at import.

* In Lambda each handler asks for ``composition_for(<its function>)``, built from the
  environment the stack gives that function.
* ``cartwatch local`` builds one ``Composition`` per function it runs, with explicit
  settings and the emulator's endpoint; the integration tests do the same.

Every boto3 client comes from one factory, :class:`AwsClients`, which can be given extra
botocore event handlers (``event_handlers``).  That is the hook for counting or checking
AWS calls: the benchmarks count write units and items read through it, and since each
function has its own clients, every call is attributable to the function that made it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from cartwatch.composition.clients import AwsClients, EventHandler
from cartwatch.settings import ENV, Settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    from cartwatch.adapters.cart_table.store import DynamoCartStore
    from cartwatch.adapters.daily_counters import DynamoDailyCounters
    from cartwatch.adapters.event_archive import EventArchive
    from cartwatch.adapters.purge_queue import PurgeQueue
    from cartwatch.adapters.store_clients import ClientFactory
    from cartwatch.adapters.store_registry import StoreDirectory, StoreSecrets, StoreWriter
    from cartwatch.adapters.webhook_credentials import WebhookCredentials
    from cartwatch.composition.store_lifecycle import StoreLifecycle
    from cartwatch.domain.cloud_events import CloudEvent
    from cartwatch.domain.lifecycle import SweepDecision, WebhookResult
    from cartwatch.domain.write_planner import WritePlanner
    from cartwatch.service.app_install import AppInstaller
    from cartwatch.service.cart_queries import CartQueries
    from cartwatch.service.figure_tally import FigureTally
    from cartwatch.service.hook_health import HookHealthCheck
    from cartwatch.service.intake import WebhookIntake
    from cartwatch.service.merchant_page import MerchantPage
    from cartwatch.service.processing import CartProcessor
    from cartwatch.service.publishing import OutboxRelay
    from cartwatch.service.sweeping import AbandonmentSweep

__all__ = ["FUNCTIONS", "AwsClients", "Composition", "EventHandler", "Observers", "composition_for"]

# The functions, by their handler module (``cartwatch.handlers.<function>.handler``).
FUNCTIONS = (
    "receiver",
    "processor",
    "sweeper",
    "publisher",
    "figure_tally",
    "query_api",
    "hook_health",
    "store_purge",
    "app_callbacks",
    "archiver",
)

T = TypeVar("T")


@dataclass(frozen=True)
class Observers:
    """Callbacks on what the services do (``cartwatch local`` prints them); each optional."""

    transition: Callable[[WebhookResult], None] | None = None
    sweep: Callable[[SweepDecision], None] | None = None
    published: Callable[[CloudEvent], None] | None = None


class Composition:
    """One function's settings, clients and services."""

    def __init__(
        self,
        function: str,
        settings: Settings,
        clients: AwsClients | None = None,
        *,
        observers: Observers | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if function not in FUNCTIONS:
            raise ValueError(f"unknown function {function!r}; one of {', '.join(FUNCTIONS)}")
        self.function = function
        self.settings = settings
        self.clients = clients or AwsClients()
        self.observers = observers or Observers()
        self.clock = clock
        self._built: dict[str, Any] = {}
        self._lock = threading.RLock()

    def _once(self, name: str, build: Callable[[], T]) -> T:
        with self._lock:
            if name not in self._built:
                self._built[name] = build()
            built: T = self._built[name]
            return built

    def prepare(self) -> None:
        """Build now what this function's handler builds on its first request."""
        match self.function:
            case "receiver":
                self.webhook_intake  # noqa: B018 — built for its side effect
            case "processor":
                self.cart_processor  # noqa: B018
            case "sweeper":
                self.abandonment_sweep()
            case "publisher":
                self.outbox_relay  # noqa: B018
            case "figure_tally":
                self.figure_tally  # noqa: B018
            case "query_api":
                self.cart_queries  # noqa: B018
            case "hook_health":
                self.bigcommerce_clients  # noqa: B018
            case "store_purge":
                self.store_lifecycle  # noqa: B018
            case "app_callbacks":
                self.app_callbacks  # noqa: B018
            case "archiver":
                self.event_archive  # noqa: B018

    # --- what several functions share ------------------------------------------------------------

    @property
    def ssm_provider(self) -> SSMProvider:
        def build() -> SSMProvider:
            from aws_lambda_powertools.utilities.parameters import SSMProvider

            return SSMProvider(boto3_client=self.clients.client("ssm"))

        return self._once("ssm_provider", build)

    @property
    def store_secrets(self) -> StoreSecrets:
        def build() -> StoreSecrets:
            from cartwatch.adapters.store_registry import StoreSecrets

            return StoreSecrets(
                self.ssm_provider, self.settings.ssm_prefix, self.settings.store_cache_seconds
            )

        return self._once("store_secrets", build)

    @property
    def store_writer(self) -> StoreWriter:
        """Writes store rows and secrets: the uninstall, the purge job and the app's install."""

        def build() -> StoreWriter:
            from cartwatch.adapters.store_registry import StoreWriter

            settings = self.settings
            return StoreWriter(
                self.clients.client("dynamodb"),
                self.clients.client("ssm"),
                settings.table_name,
                settings.ssm_prefix,
                credentials_table=settings.required(
                    settings.credentials_table_name, ENV.CREDENTIALS_TABLE_NAME
                ),
            )

        return self._once("store_writer", build)

    @property
    def store_directory(self) -> StoreDirectory:
        def build() -> StoreDirectory:
            from cartwatch.adapters.store_registry import StoreDirectory

            settings = self.settings
            return StoreDirectory(
                self.clients.client("dynamodb"),
                settings.table_name,
                settings.default_stages,
                cache_seconds=settings.store_cache_seconds,
            )

        return self._once("store_directory", build)

    @property
    def carts(self) -> DynamoCartStore:
        def build() -> DynamoCartStore:
            from cartwatch.adapters.cart_table.store import DynamoCartStore

            return DynamoCartStore(self.clients.client("dynamodb"), self.settings.table_name)

        return self._once("carts", build)

    @property
    def daily_counters(self) -> DynamoDailyCounters:
        def build() -> DynamoDailyCounters:
            from cartwatch.adapters.daily_counters import DynamoDailyCounters

            return DynamoDailyCounters(self.clients.client("dynamodb"), self.settings.table_name)

        return self._once("daily_counters", build)

    @property
    def planner(self) -> WritePlanner:
        def build() -> WritePlanner:
            from cartwatch.domain.write_planner import WritePlanner

            settings = self.settings
            return WritePlanner(
                due_shards=settings.due_shards, closed_retention_days=settings.closed_retention_days
            )

        return self._once("planner", build)

    @property
    def bigcommerce_clients(self) -> ClientFactory:
        def build() -> ClientFactory:
            from cartwatch.adapters.store_clients import bigcommerce_clients

            settings = self.settings
            # Hook health checks its workers' stores at once; every other function one at a time.
            connections = settings.hook_health_workers if self.function == "hook_health" else 1
            return bigcommerce_clients(
                self.store_secrets, settings.bigcommerce_api_url, connections=connections
            )

        return self._once("bigcommerce_clients", build)

    # --- what each function's handler calls ---------------------------------------------------------

    @property
    def webhook_credentials(self) -> WebhookCredentials:
        """The receiver's view of the stores' webhook credentials (the ``known`` index, cached)."""

        def build() -> WebhookCredentials:
            from cartwatch.adapters.webhook_credentials import WebhookCredentials

            settings = self.settings
            return WebhookCredentials(
                self.clients.client("dynamodb"),
                settings.required(settings.credentials_table_name, ENV.CREDENTIALS_TABLE_NAME),
                index_seconds=settings.store_index_seconds,
                reread_index_on_miss=settings.store_index_reread_on_miss,
            )

        return self._once("webhook_credentials", build)

    @property
    def webhook_intake(self) -> WebhookIntake:
        def build() -> WebhookIntake:
            from cartwatch.adapters.intake_queue import IntakeQueue
            from cartwatch.service.intake import WebhookIntake

            queue_url = self.settings.required(self.settings.intake_queue_url, ENV.INTAKE_QUEUE_URL)
            credentials = self.webhook_credentials
            queue = IntakeQueue(self.clients.client("sqs"), queue_url)
            return WebhookIntake(credentials.webhook_auth, credentials.refreshed_webhook_auth, queue.send)

        return self._once("webhook_intake", build)

    @property
    def cart_processor(self) -> CartProcessor:
        def build() -> CartProcessor:
            from cartwatch.service.processing import CartProcessor
            from cartwatch.service.purge_job import uninstall_checks

            # Only the purge queue: the processor never purges, it asks for the uninstall's check.
            return CartProcessor(
                self.carts,
                self.planner,
                self.store_directory,
                check_uninstall=uninstall_checks(self.purge_queue),
                on_result=self.observers.transition,
                clock=self.clock,
            )

        return self._once("cart_processor", build)

    def abandonment_sweep(self, remaining_ms: Callable[[], int] | None = None) -> AbandonmentSweep:
        """A sweep for one invocation: it stops before ``remaining_ms`` runs out."""
        from cartwatch.service.sweeping import AbandonmentSweep

        return AbandonmentSweep(
            self.carts,
            self.planner,
            self.store_directory,
            remaining_ms=remaining_ms,
            on_transition=self.observers.sweep,
            clock=self.clock,
        )

    @property
    def outbox_relay(self) -> OutboxRelay:
        def build() -> OutboxRelay:
            from cartwatch.adapters.event_publisher import SnsEventPublisher
            from cartwatch.adapters.store_clients import bigcommerce_clients
            from cartwatch.service.publishing import BIGCOMMERCE_MAX_WAIT_SECONDS, OutboxRelay

            topic_arn = self.settings.required(self.settings.topic_arn, ENV.TOPIC_ARN)
            return OutboxRelay(
                self.carts,
                self.planner,
                self.store_directory,
                SnsEventPublisher(self.clients.client("sns"), topic_arn),
                # A spent quota defers the store's events instead of sleeping in the invocation.
                bigcommerce_clients(
                    self.store_secrets,
                    self.settings.bigcommerce_api_url,
                    max_wait_seconds=BIGCOMMERCE_MAX_WAIT_SECONDS,
                ),
                clock=self.clock,
                on_published=self.observers.published,
                # A store's client lives as long as its token is kept: a refused token is read
                # again at once, so a long period costs no rotation, only fewer SSM reads.
                client_ttl_seconds=self.settings.api_token_cache_seconds,
            )

        return self._once("outbox_relay", build)

    @property
    def figure_tally(self) -> FigureTally:
        def build() -> FigureTally:
            from cartwatch.service.figure_tally import FigureTally

            return FigureTally(self.daily_counters)

        return self._once("figure_tally", build)

    @property
    def cart_queries(self) -> CartQueries:
        def build() -> CartQueries:
            from cartwatch.adapters.cart_table.listing import CartListingIndex
            from cartwatch.adapters.cursor_key import cursor_key_parameter, load_cursor_key
            from cartwatch.service.cart_queries import CartQueries
            from cartwatch.service.cursors import CursorCodec

            settings = self.settings
            key = load_cursor_key(self.clients.client("ssm"), cursor_key_parameter(settings.ssm_prefix))
            return CartQueries(
                self.carts,
                self.planner,
                CartListingIndex(self.clients.client("dynamodb"), settings.table_name),
                self.store_directory,
                CursorCodec(key),
                self.daily_counters,
                clock=self.clock,
            )

        return self._once("cart_queries", build)

    def hook_health_check(self, remaining_ms: Callable[[], int] | None = None) -> HookHealthCheck:
        """A turn of the check for one invocation: it stops before ``remaining_ms`` runs out."""
        from cartwatch.adapters.hook_health_cycle import CycleRecord
        from cartwatch.adapters.store_rows import StoreRows
        from cartwatch.service.hook_health import HookHealthCheck

        settings = self.settings
        webhook_base_url = settings.required(settings.webhook_base_url, ENV.WEBHOOK_BASE_URL)
        dynamodb = self.clients.client("dynamodb")
        return HookHealthCheck(
            StoreRows(dynamodb, settings.table_name),
            self.bigcommerce_clients,
            webhook_base_url,
            remaining_ms=remaining_ms,
            cycle=CycleRecord(dynamodb, settings.table_name),
            period_seconds=settings.hook_health_period_seconds,
            workers=settings.hook_health_workers,
            prefetch=self.store_secrets.prefetch_api_credentials,
            clock=self.clock,
        )

    @property
    def event_archive(self) -> EventArchive:
        def build() -> EventArchive:
            from cartwatch.adapters.event_archive import EventArchive

            bucket = self.settings.required(self.settings.archive_bucket, ENV.ARCHIVE_BUCKET)
            return EventArchive(self.clients.client("s3"), bucket)

        return self._once("event_archive", build)

    # --- uninstall, purge and the app's callbacks -----------------------------------------------

    @property
    def purge_queue(self) -> PurgeQueue:
        def build() -> PurgeQueue:
            from cartwatch.adapters.purge_queue import PurgeQueue

            queue_url = self.settings.required(self.settings.purge_queue_url, ENV.PURGE_QUEUE_URL)
            return PurgeQueue(self.clients.client("sqs"), queue_url)

        return self._once("purge_queue", build)

    @property
    def store_lifecycle(self) -> StoreLifecycle:
        """Everything that ends a store: the uninstall, its check, the purge job."""
        from cartwatch.composition.store_lifecycle import build_store_lifecycle

        return self._once("store_lifecycle", lambda: build_store_lifecycle(self))

    @property
    def app_callbacks(self) -> tuple[AppInstaller, MerchantPage]:
        """The app's install callback and its merchant page."""
        from cartwatch.composition.store_lifecycle import build_app_callbacks

        return self._once("app_callbacks", lambda: build_app_callbacks(self))


_DEPLOYED: dict[str, Composition] = {}


def composition_for(function: str) -> Composition:
    """The composition of the function this Lambda container runs, built from its environment."""
    composition = _DEPLOYED.get(function)
    if composition is None:
        composition = _DEPLOYED[function] = Composition(function, Settings.from_env())
    return composition
