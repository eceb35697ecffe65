"""The whole cartwatch pipeline in one process, against moto server.

Every part runs the Lambda handler the stack deploys, fed the event shapes AWS would
feed it: the gateway plays API Gateway for the receiver, pollers play the SQS and
DynamoDB-stream event source mappings for the processor, the publisher and the figure
tally, and a ticker plays the EventBridge schedule for the sweeper.  ``drain()`` runs them to
quiescence for deterministic tests; ``start()`` runs them in background threads.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any

import boto3
from botocore.config import Config

from cartwatch.adapters.store_registry import StoreSecrets, StoreWriter
from cartwatch.adapters.webhook_credentials import WebhookCredentials
from cartwatch.composition import AwsClients, Composition, EventHandler, Observers
from cartwatch.domain.cloud_events import CloudEvent
from cartwatch.domain.lifecycle import SweepDecision, WebhookResult
from cartwatch.domain.stages import StageSchedule
from cartwatch.handlers import app_callbacks as app_handler
from cartwatch.handlers import archiver as archiver_handler
from cartwatch.handlers import figure_tally as tally_handler
from cartwatch.handlers import processor as processor_handler
from cartwatch.handlers import publisher as publisher_handler
from cartwatch.handlers import query_api as query_api_handler
from cartwatch.handlers import receiver as receiver_handler
from cartwatch.handlers import store_purge as purge_handler
from cartwatch.handlers import sweeper as sweeper_handler
from cartwatch.handlers.publisher import SCHEDULED_SOURCE
from cartwatch.resources import (
    APP_ROUTES,
    ARCHIVE_BATCH_SIZE,
    FIGURE_TALLY_STREAM,
    FIGURE_TALLY_STREAM_FILTER,
    OUTBOX_RESCUE_MINUTES,
)
from cartwatch.settings import DEFAULT_FRAME_ANCESTORS, Settings
from cartwatch_tools.iam.recording import Deployment, acting_as, attributed_to
from cartwatch_tools.local.event_sources import DynamoDBStreamEventSource, SqsEventSource
from cartwatch_tools.local.gateway import LocalGateway
from cartwatch_tools.local.moto_server import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY
from cartwatch_tools.local.provision import ProvisionedResources, provision
from cartwatch_tools.local.sigv4 import SigV4Verifier

logger = logging.getLogger(__name__)

# The gateway serves deliveries on as many threads as there are connections; with
# botocore's default pool of 10 connections, a burst would open and drop a connection to
# the emulator per call.
_POOL_CONNECTIONS = 64
_CLIENT_CONFIG = Config(max_pool_connections=_POOL_CONNECTIONS)

# Processor batches in flight at once in background mode: AWS runs up to the stack's
# processorMaxConcurrency (20); on one machine a few keep the queue drained without
# starving the gateway's threads of the GIL.
INTAKE_BATCHES_AT_ONCE = 4

# Every function but the daily hook-health check, which has no local schedule.
LOCAL_FUNCTIONS = (
    "receiver",
    "processor",
    "sweeper",
    "publisher",
    "figure_tally",
    "query_api",
    "store_purge",
    "app_callbacks",
    "archiver",
)


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
    """Every function of the stack, each built by the composition root as Lambda builds it.

    One :class:`~cartwatch.composition.Composition` per function, each with its own AWS
    clients, which name their function to the IAM conformance check
    (``cartwatch_tools.iam.recording``); ``client_event_handlers(function)`` adds more botocore
    event handlers to that function's clients.  The event sources poll with clients of the
    pipeline's (Lambda's pollers are not the function's code, nor bound by its timeouts),
    named as their function all the same: Lambda's pollers use the function's role.
    """

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
        client_event_handlers: Callable[[str], Sequence[EventHandler]] | None = None,
        login_url: str | None = None,
        frame_ancestors: tuple[str, ...] = DEFAULT_FRAME_ANCESTORS,
        purge_start_delay_seconds: int | None = None,
        tally_window_seconds: int = 2,
        cache_seconds: int = 1,
    ) -> None:
        """``login_url``: BigCommerce's login service (default: the API URL — the sandbox serves
        both).  ``cache_seconds``: how long the functions keep store settings and access tokens —
        a second, so a store added or changed with `stores add|update --local` works at once;
        the load run keeps them as long as deployed functions do, for at a thousand stores
        re-reading every store's row each second was a third of the pipeline's work.
        ``purge_start_delay_seconds`` (default: a second past ``cache_seconds``) outlasts the
        store caches, so no function still calls an uninstalled store active when its purge begins.
        ``tally_window_seconds``: the figure tally's tumbling window here (15 minutes in AWS),
        so the stats follow the carts within seconds."""
        self.session = boto3.Session(region_name=region)
        self.resources: ProvisionedResources = provision(self.session, endpoint_url, name=name)
        self.ssm_prefix = ssm_prefix
        # Who calls AWS, for the IAM conformance check: each function's clients name it.
        self.deployment = Deployment.of(self.resources, ssm_prefix)
        self.bigcommerce_api_url = bigcommerce_api_url
        observer = observer or PipelineObserver()
        self.gateway = LocalGateway(
            self._receive,
            port=gateway_port,
            on_delivery=observer.delivery,
            query_api=lambda event, context: query_api_handler.handler(
                event, context, queries=self.functions["query_api"].cart_queries
            ),
            verifier=SigV4Verifier(LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY, region),
            app_callbacks=lambda event, context: app_handler.handler(event, context, app=self.app),
        )
        self.settings = Settings(
            table_name=self.resources.table_name,
            ssm_prefix=ssm_prefix,
            default_stages=default_stages,
            # Short caches by default: a store added with `cartwatch stores add --local` works at once.
            store_cache_seconds=cache_seconds,
            api_token_cache_seconds=cache_seconds,
            due_shards=due_shards,
            bigcommerce_api_url=bigcommerce_api_url,
            intake_queue_url=self.resources.intake_queue_url,
            topic_arn=self.resources.topic_arn,
            purge_queue_url=self.resources.purge_queue_url,
            archive_bucket=self.resources.archive_bucket,
            purge_start_delay_seconds=(
                cache_seconds + 1 if purge_start_delay_seconds is None else purge_start_delay_seconds
            ),
            webhook_base_url=f"{self.gateway.url}/webhooks/bigcommerce",
            bigcommerce_login_url=(login_url or bigcommerce_api_url).rstrip("/"),
            app_auth_callback_url=self.app_callback_url("auth"),
            app_frame_ancestors=frame_ancestors,
            credentials_table_name=self.resources.credentials_table_name,
            # A store added a moment ago (by a test, or `stores add --local`) is served at once:
            # an unknown hash re-reads the index of known stores here, never in AWS.
            store_index_seconds=1,
            store_index_reread_on_miss=True,
        )
        observers = Observers(
            transition=observer.transition, sweep=observer.sweep, published=observer.published
        )
        self._region, self._client_event_handlers = region, client_event_handlers
        self.functions = {
            function: self.function(function, observers=observers) for function in LOCAL_FUNCTIONS
        }
        for composition in self.functions.values():
            # As a warm container has them: the first webhook should not wait for clients.
            composition.prepare()
        # What the purge function runs (a test may swap a part of it for a recording one).
        self.lifecycle = self.functions["store_purge"].store_lifecycle
        app = self.functions["app_callbacks"]
        installer, page = app.app_callbacks
        self.app = app_handler.App(installer, page, app.settings.app_frame_ancestors)
        # The store secrets as cartwatch reads them, for tests and tooling (outside every function).
        from aws_lambda_powertools.utilities.parameters import SSMProvider

        self.secrets = StoreSecrets(SSMProvider(boto3_client=self.client("ssm")), ssm_prefix, cache_seconds=1)
        # The receiver's view of the stores' webhook credentials (the one its function uses).
        self.credentials: WebhookCredentials = self.functions["receiver"].webhook_credentials
        with self.acting_as("processor"):  # the event source mapping reads the queue's attributes
            self._intake = SqsEventSource(
                self.client("sqs"),
                self.resources.intake_queue_url,
                lambda event: processor_handler.handler(
                    event, _Context("processor"), processor=self.functions["processor"].cart_processor
                ),
                batch_size=100,
                retry_visibility_seconds=1,
            )
        publisher = _Context("publisher")
        self._stream = DynamoDBStreamEventSource(
            self.client("dynamodbstreams"),
            self.resources.stream_arn,
            lambda event: publisher_handler.handler(
                event, _Context("publisher"), relay=self.functions["publisher"].outbox_relay
            ),
            on_failure=lambda record: self.client("sqs").send_message(
                QueueUrl=self.resources.publisher_dlq_url, MessageBody=json.dumps(record)
            ),
            function_arn=publisher.invoked_function_arn,
        )
        tally = _Context("figure_tally")
        self._figures = DynamoDBStreamEventSource(
            self.client("dynamodbstreams"),
            self.resources.stream_arn,
            lambda event: tally_handler.handler(
                event, _Context("figure_tally"), tally=self.functions["figure_tally"].figure_tally
            ),
            settings=FIGURE_TALLY_STREAM,
            filter_pattern=FIGURE_TALLY_STREAM_FILTER,
            window_seconds=tally_window_seconds,
            function_arn=tally.invoked_function_arn,
        )
        with self.acting_as("store_purge"):
            self._purges = SqsEventSource(
                self.client("sqs"),
                self.resources.purge_queue_url,
                lambda event: purge_handler.handler(
                    event, _Context("purge"), job=self.lifecycle.job, check=self.lifecycle.check
                ),
                batch_size=1,
                retry_visibility_seconds=1,
            )
        with self.acting_as("archiver"):
            self._archive = SqsEventSource(
                self.client("sqs"),
                self.resources.archive_queue_url,
                lambda event: archiver_handler.handler(
                    event, _Context("archiver"), archive=self.functions["archiver"].event_archive
                ),
                batch_size=ARCHIVE_BATCH_SIZE,
                retry_visibility_seconds=1,
            )
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # One lock per function, not one for all: in AWS the processor, the sweeper, the
        # publisher and the purge job run side by side; each but the processor never
        # overlaps itself here.
        self._sweep_lock, self._publish_lock, self._purge_lock, self._tally_lock = (
            threading.Lock() for _ in range(4)
        )
        # The processor's event source mapping runs several batches at once in AWS (its
        # maximum concurrency); here a few, each taking its own batch off the queue.
        self._intake_slots = threading.BoundedSemaphore(INTAKE_BATCHES_AT_ONCE)

    def client(self, service: str) -> Any:
        """A client of the emulator outside any function (the event sources, tests' own checks)."""
        return self.session.client(  # type: ignore[call-overload]
            service, endpoint_url=self.resources.endpoint_url, config=_CLIENT_CONFIG
        )

    def function(self, name: str, *, observers: Observers | None = None, **settings: Any) -> Composition:
        """``name`` as the composition root builds it here (``settings`` overriding the
        pipeline's), with clients of its own that name it to the IAM conformance check —
        how the pipeline builds its functions, and a test one the pipeline does not run
        (hook health has no local schedule)."""
        handlers = self._client_event_handlers
        clients = AwsClients(
            endpoint_url=self.resources.endpoint_url,
            region=self._region,
            event_handlers=(attributed_to(name, self.deployment), *(handlers(name) if handlers else ())),
            max_pool_connections=_POOL_CONNECTIONS,
        )
        return Composition(name, replace(self.settings, **settings), clients, observers=observers)

    def acting_as(self, function: str) -> AbstractContextManager[None]:
        """Attribute the AWS calls made inside to ``function`` (its handler module's name): for
        the event sources, and a test that runs a function's code with clients of its own."""
        return acting_as(function, self.deployment)

    def writer(self) -> StoreWriter:
        """What `stores add` writes a store with, for this pipeline's resources (outside every function)."""
        return StoreWriter(
            self.client("dynamodb"),
            self.client("ssm"),
            self.resources.table_name,
            self.ssm_prefix,
            credentials_table=self.resources.credentials_table_name,
        )

    def app_callback_url(self, name: str) -> str:
        """The public URL of one of the app's callbacks (``auth``, ``load``, ``uninstall``…)."""
        return f"{self.gateway.url}{APP_ROUTES[name][1]}"

    # --- the parts -------------------------------------------------------------------------

    def _receive(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        response: dict[str, Any] = receiver_handler.handler(
            event, context, intake=self.functions["receiver"].webhook_intake
        )
        return response

    def process_intake(self) -> int:
        with self._intake_slots, self.acting_as("processor"):
            return self._intake.drain()

    def sweep(self, now: int | None = None) -> dict[str, Any]:
        with self._sweep_lock:
            context = _Context("sweeper")
            job = self.functions["sweeper"].abandonment_sweep(
                remaining_ms=context.get_remaining_time_in_millis
            )
            summary: dict[str, Any] = sweeper_handler.handler({}, context, sweep=job, now=now)
            return summary

    def publish(self) -> int:
        with self._publish_lock, self.acting_as("publisher"):
            return self._stream.drain()

    def rescue(self, now: int | None = None) -> dict[str, Any]:
        """The publisher's scheduled run (the outbox's safety net), as EventBridge invokes it."""
        with self._publish_lock:
            summary: dict[str, Any] = publisher_handler.handler(
                {"source": SCHEDULED_SOURCE, "detail-type": "Scheduled Event"},
                _Context("publisher"),
                relay=self.functions["publisher"].outbox_relay,
                now=now,
            )
            return summary

    def archive(self) -> int:
        """Published events waiting on the archive queue, written to the archive bucket."""
        # The event source mapping polls the queue with the archiver's role, as in AWS.
        with self.acting_as("archiver"):
            return self._archive.drain()

    def tally(self, *, close_windows: bool = True) -> int:
        """The figure tally over the writes the stream holds; ``close_windows``: end its open
        window now, as if the window's time were up (the stats then show every write)."""
        with self._tally_lock, self.acting_as("figure_tally"):
            if close_windows:
                self._figures.close_windows()
            return self._figures.drain()

    def purge(self) -> int:
        """Uninstall checks and purge steps waiting on the purge queue."""
        with self._purge_lock:
            return self._purge_steps()

    def _purge_steps(self) -> int:
        # (A test may swap in parts built on clients of its own, ``self.lifecycle``: they run
        # as the purge function all the same.)
        with self.acting_as("store_purge"):
            return self._purges.drain()

    def drain(self, now: int | None = None, *, sweep: bool = True) -> None:
        """Run intake, (a sweep,) publishing and purging until nothing is left to do, then the
        figure tally over everything written."""
        for _ in range(20):
            moved = self.process_intake() + self.purge()
            if sweep:
                moved += self.sweep(now)["abandoned"]
            moved += self.publish()
            moved += self.archive()
            if moved == 0:
                break
        self.tally()

    # --- background mode -------------------------------------------------------------------

    def start(
        self,
        *,
        sweep_every: float = 60.0,
        poll_every: float = 0.2,
        rescue_every: float = OUTBOX_RESCUE_MINUTES * 60.0,
    ) -> LocalPipeline:
        self.gateway.start()
        for n in range(INTAKE_BATCHES_AT_ONCE):
            self._spawn(f"intake-{n}", poll_every, self.process_intake)
        self._spawn("publisher", poll_every, self.publish)
        self._spawn("archiver", poll_every, self.archive)
        self._spawn("tally", poll_every, lambda: self.tally(close_windows=False))
        # Its own lock-free loop: a purge runs beside the processor, as it does in AWS.
        self._spawn("purge", poll_every, self._purge_steps)
        self._spawn("sweeper", sweep_every, self.sweep)
        self._spawn("rescue", rescue_every, self.rescue)
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

    # How long stopping waits for the jobs' current turns, all together (they are daemon
    # threads: what is left of a turn ends with the process, and every job is at-least-once).
    STOP_SECONDS = 10.0

    def stop(self) -> None:
        self._stop.set()
        deadline = time.monotonic() + self.STOP_SECONDS
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self.gateway.stop()
