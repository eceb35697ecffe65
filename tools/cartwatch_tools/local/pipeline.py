"""The whole cartwatch pipeline in one process, against moto server.

Every part runs the Lambda handler the stack deploys, fed the event shapes AWS would
feed it: the gateway plays API Gateway for the receiver, pollers play the SQS and
DynamoDB-stream event source mappings for the processor and the publisher, and a
ticker plays the EventBridge schedule for the sweeper.  ``drain()`` runs them to
quiescence for deterministic tests; ``start()`` runs them in background threads.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from cartwatch.adapters.bigcommerce import BigCommerceClient
from cartwatch.adapters.cart_listing import CartListingIndex
from cartwatch.adapters.cart_repository import CartRepository
from cartwatch.adapters.cursor_key import cursor_key_parameter, load_cursor_key
from cartwatch.adapters.event_publisher import SnsEventPublisher
from cartwatch.adapters.store_registry import StoreDirectory, StoreSecrets
from cartwatch.composition import build_app_callbacks, build_store_lifecycle
from cartwatch.domain.events import CloudEvent
from cartwatch.domain.lifecycle import SweepDecision, WebhookResult
from cartwatch.domain.stages import StageSchedule
from cartwatch.handlers import app_callbacks as app_handler
from cartwatch.handlers import processor as processor_handler
from cartwatch.handlers import publisher as publisher_handler
from cartwatch.handlers import query_api as query_api_handler
from cartwatch.handlers import receiver as receiver_handler
from cartwatch.handlers import store_purge as purge_handler
from cartwatch.handlers import sweeper as sweeper_handler
from cartwatch.resources import APP_ROUTES
from cartwatch.service.cart_queries import CartQueries
from cartwatch.service.cursors import CursorCodec
from cartwatch.service.processing import CartProcessor
from cartwatch.service.publishing import OutboxRelay
from cartwatch.service.sweeping import AbandonmentSweep
from cartwatch.settings import (
    AppSettings,
    BigCommerceSettings,
    StateSettings,
    StoreRegistrySettings,
    UninstallSettings,
)
from cartwatch_tools.local.event_sources import DynamoDBStreamEventSource, SqsEventSource
from cartwatch_tools.local.gateway import LocalGateway
from cartwatch_tools.local.moto_server import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY
from cartwatch_tools.local.provision import ProvisionedResources, provision
from cartwatch_tools.local.sigv4 import SigV4Verifier

logger = logging.getLogger(__name__)

# The gateway serves deliveries on as many threads as there are connections; with
# botocore's default pool of 10 connections, a burst would open and drop a connection to
# the emulator per call.
_CLIENT_CONFIG = Config(max_pool_connections=64)


@dataclass
class PipelineObserver:
    """Callbacks for live output; every one is optional."""

    delivery: Callable[[str, str, int], None] | None = None
    transition: Callable[[WebhookResult], None] | None = None
    sweep: Callable[[SweepDecision], None] | None = None
    published: Callable[[CloudEvent], None] | None = None


class _Context:
    """The Lambda context attributes the handlers read."""

    memory_limit_in_mb = 512
    aws_request_id = "local"

    def __init__(self, name: str, budget_ms: int = 60_000) -> None:
        self.function_name = f"cartwatch-local-{name}"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{self.function_name}"
        self._deadline = time.monotonic() + budget_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LocalPipeline:
    def __init__(
        self,
        endpoint_url: str,
        *,
        bigcommerce_api_url: str,
        default_stages: StageSchedule,
        ssm_prefix: str = "/cartwatch",
        name: str = "cartwatch",
        due_shards: int = 4,
        gateway_port: int = 0,
        observer: PipelineObserver | None = None,
        region: str = "us-east-1",
        login_url: str | None = None,
        frame_ancestors: tuple[str, ...] = ("https://*.mybigcommerce.com",),
        purge_start_delay_seconds: int = 2,
    ) -> None:
        """``login_url``: BigCommerce's login service (default: the API URL — the sandbox serves
        both).  ``purge_start_delay_seconds`` outlasts the 1-second store caches used here."""
        self.session = boto3.Session(region_name=region)
        self.resources: ProvisionedResources = provision(self.session, endpoint_url, name=name)
        self.ssm_prefix = ssm_prefix
        self.bigcommerce_api_url = bigcommerce_api_url
        observer = observer or PipelineObserver()
        dynamodb = self.client("dynamodb")
        self.repository = CartRepository(
            dynamodb, self.resources.table_name, due_shards=due_shards, closed_retention_days=30
        )
        self.stores = StoreDirectory(dynamodb, self.resources.table_name, default_stages, cache_seconds=1)
        from aws_lambda_powertools.utilities.parameters import SSMProvider

        self.secrets = StoreSecrets(SSMProvider(boto3_client=self.client("ssm")), ssm_prefix, cache_seconds=1)
        state = StateSettings(
            table_name=self.resources.table_name,
            due_shards=due_shards,
            closed_retention_days=30,
            stores=StoreRegistrySettings(self.resources.table_name, ssm_prefix, 1, default_stages),
        )
        uninstall = UninstallSettings(self.resources.purge_queue_url, purge_start_delay_seconds)
        self.lifecycle = build_store_lifecycle(
            dynamodb=dynamodb,
            ssm=self.client("ssm"),
            sqs=self.client("sqs"),
            secrets=self.secrets,
            state=state,
            uninstall=uninstall,
            bigcommerce_api_url=bigcommerce_api_url,
        )
        self.processor = CartProcessor(
            self.repository,
            self.stores,
            check_uninstall=self.lifecycle.request_check,
            on_result=observer.transition,
        )
        self._sweep_observer = observer.sweep
        self.relay = OutboxRelay(
            self.repository,
            self.stores,
            SnsEventPublisher(self.client("sns"), self.resources.topic_arn),
            self._bigcommerce_client,
            on_published=observer.published,
        )
        sqs = self.client("sqs")
        # The ack path's own client, built once: a client per delivery costs more than the
        # delivery itself.
        self._ack_sqs = self.client("sqs")
        self._intake = SqsEventSource(
            sqs,
            self.resources.intake_queue_url,
            lambda event: processor_handler.handler(event, _Context("processor"), processor=self.processor),
            batch_size=100,
            retry_visibility_seconds=1,
        )
        publisher = _Context("publisher")
        self._stream = DynamoDBStreamEventSource(
            self.client("dynamodbstreams"),
            self.resources.stream_arn,
            lambda event: publisher_handler.handler(event, _Context("publisher"), relay=self.relay),
            on_failure=lambda record: sqs.send_message(
                QueueUrl=self.resources.publisher_dlq_url, MessageBody=json.dumps(record)
            ),
            function_arn=publisher.invoked_function_arn,
        )
        self._purges = SqsEventSource(
            sqs,
            self.resources.purge_queue_url,
            lambda event: purge_handler.handler(
                event, _Context("purge"), job=self.lifecycle.job, check=self.lifecycle.check
            ),
            batch_size=1,
            retry_visibility_seconds=1,
        )
        self.queries = self._cart_queries(dynamodb, default_stages)
        self.gateway = LocalGateway(
            self._receive,
            port=gateway_port,
            on_delivery=observer.delivery,
            query_api=lambda event, context: query_api_handler.handler(event, context, queries=self.queries),
            verifier=SigV4Verifier(LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY, region),
            app_callbacks=lambda event, context: app_handler.handler(event, context, app=self.app),
        )
        app = AppSettings(
            login_url=(login_url or bigcommerce_api_url).rstrip("/"),
            auth_callback_url=self.app_callback_url("auth"),
            webhook_base_url=f"{self.gateway.url}/webhooks/bigcommerce",
            frame_ancestors=frame_ancestors,
            bigcommerce=BigCommerceSettings(bigcommerce_api_url),
            uninstall=uninstall,
        )
        installer, page = build_app_callbacks(
            dynamodb=dynamodb,
            ssm=self.client("ssm"),
            secrets=self.secrets,
            state=state,
            app=app,
            uninstall=self.lifecycle.uninstall,
        )
        self.app = app_handler.App(installer, page, frame_ancestors)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # One lock per function, not one for all: in AWS the processor, the sweeper, the
        # publisher and the purge job run side by side, each never overlapping itself here.
        self._intake_lock, self._sweep_lock, self._publish_lock, self._purge_lock = (
            threading.Lock() for _ in range(4)
        )

    def client(self, service: str) -> Any:
        return self.session.client(  # type: ignore[call-overload]
            service, endpoint_url=self.resources.endpoint_url, config=_CLIENT_CONFIG
        )

    def app_callback_url(self, name: str) -> str:
        """The public URL of one of the app's callbacks (``auth``, ``load``, ``uninstall``…)."""
        return f"{self.gateway.url}{APP_ROUTES[name][1]}"

    # --- the parts -------------------------------------------------------------------------

    def _cart_queries(self, dynamodb: Any, default_stages: StageSchedule) -> CartQueries:
        key = load_cursor_key(self.client("ssm"), cursor_key_parameter(self.ssm_prefix))
        # Its own store cache: the query API is its own function in AWS.
        stores = StoreDirectory(dynamodb, self.resources.table_name, default_stages, cache_seconds=1)
        return CartQueries(
            self.repository, CartListingIndex(dynamodb, self.resources.table_name), stores, CursorCodec(key)
        )

    def _receive(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        sqs = self._ack_sqs
        queue_url = self.resources.intake_queue_url
        response: dict[str, Any] = receiver_handler.handler(
            event,
            context,
            lookup_auth=self.secrets.webhook_auth,
            refresh_auth=self.secrets.refreshed_webhook_auth,
            enqueue=lambda message: sqs.send_message(QueueUrl=queue_url, MessageBody=message),
        )
        return response

    def _bigcommerce_client(self, store_hash: str) -> BigCommerceClient | None:
        credentials = self.secrets.api_credentials(store_hash)
        if credentials is None:
            return None
        return BigCommerceClient(store_hash, credentials.access_token, api_url=self.bigcommerce_api_url)

    def process_intake(self) -> int:
        with self._intake_lock:
            return self._intake.drain()

    def sweep(self, now: int | None = None) -> dict[str, Any]:
        with self._sweep_lock:
            job = AbandonmentSweep(self.repository, self.stores, on_transition=self._sweep_observer)
            summary: dict[str, Any] = sweeper_handler.handler({}, _Context("sweeper"), sweep=job, now=now)
            return summary

    def publish(self) -> int:
        with self._publish_lock:
            return self._stream.drain()

    def purge(self) -> int:
        """Uninstall checks and purge steps waiting on the purge queue."""
        with self._purge_lock:
            return self._purges.drain()

    def drain(self, now: int | None = None, *, sweep: bool = True) -> None:
        """Run intake, (a sweep,) publishing and purging until nothing is left to do."""
        for _ in range(20):
            moved = self.process_intake() + self.purge()
            if sweep:
                moved += self.sweep(now)["abandoned"]
            moved += self.publish()
            if moved == 0:
                return

    # --- background mode -------------------------------------------------------------------

    def start(self, *, sweep_every: float = 60.0, poll_every: float = 0.2) -> LocalPipeline:
        self.gateway.start()
        self._spawn("intake", poll_every, self.process_intake)
        self._spawn("publisher", poll_every, self.publish)
        # Its own lock-free loop: a purge runs beside the processor, as it does in AWS.
        self._spawn("purge", poll_every, self._purges.drain)
        self._spawn("sweeper", sweep_every, self.sweep)
        return self

    def _spawn(self, name: str, every: float, work: Callable[[], object]) -> None:
        def loop() -> None:
            while not self._stop.wait(every):
                try:
                    work()
                except Exception:
                    logger.exception("%s failed; retrying on the next tick", name)

        thread = threading.Thread(target=loop, name=f"cartwatch-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self.gateway.stop()
