"""Integration fixtures: fresh cartwatch resources in moto server (over HTTP) per test."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from tests.integration.pipeline_support import World, make_world
from tests.support import unique_name

from cartwatch.adapters.cart_table.store import DynamoCartStore
from cartwatch.adapters.store_registry import StoreDirectory, StoreSecrets, StoreWriter
from cartwatch.adapters.webhook_credentials import WebhookCredentials
from cartwatch.composition import AwsClients, Composition, EventHandler
from cartwatch.composition.store_lifecycle import StoreLifecycle
from cartwatch.domain.stages import StageSchedule
from cartwatch.domain.store import StoreSettings
from cartwatch.settings import Settings
from cartwatch_tools.iam.recording import Deployment, acting_as, attributed_to
from cartwatch_tools.local.provision import ProvisionedResources, provision

SSM_PREFIX = "/cartwatch"
DEFAULT_STAGES = StageSchedule.parse("1h,24h,48h")


@dataclass
class Aws:
    resources: ProvisionedResources
    session: boto3.Session
    prefix: str

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.resources.endpoint_url)  # type: ignore[call-overload]

    def settings(self, **overrides: Any) -> Settings:
        """The functions' settings for these resources: 4 due shards, no caches (tests change stores)."""
        values: dict[str, Any] = {
            "table_name": self.resources.table_name,
            "ssm_prefix": self.prefix,
            "default_stages": DEFAULT_STAGES,
            "due_shards": 4,
            "store_cache_seconds": 0,
            "api_token_cache_seconds": 0,
            "intake_queue_url": self.resources.intake_queue_url,
            "topic_arn": self.resources.topic_arn,
            "purge_queue_url": self.resources.purge_queue_url,
            "credentials_table_name": self.resources.credentials_table_name,
            # A store a test adds is known to the receiver at once.
            "store_index_reread_on_miss": True,
        }
        return Settings(**(values | overrides))

    def function(
        self, name: str, *, event_handlers: Sequence[EventHandler] = (), clock: Any = None, **settings: Any
    ) -> Composition:
        """One function, built by the composition root against moto server; every AWS call of
        its clients is checked against its role in the stack (tests/iam_conformance.py)."""
        clients = AwsClients(
            endpoint_url=self.resources.endpoint_url,
            event_handlers=(attributed_to(name, self.deployment), *event_handlers),
        )
        extra = {"clock": clock} if clock is not None else {}
        return Composition(name, self.settings(**settings), clients, **extra)

    @property
    def deployment(self) -> Deployment:
        return Deployment.of(self.resources, self.prefix)

    def acting_as(self, function: str) -> AbstractContextManager[None]:
        """Run a function's code with clients of the test's own as that function: its AWS
        calls are checked against its role in the stack (tests/iam_conformance.py)."""
        return acting_as(function, self.deployment)

    def carts(self) -> DynamoCartStore:
        return DynamoCartStore(self.client("dynamodb"), self.resources.table_name)

    def directory(self, default_stages: StageSchedule = DEFAULT_STAGES) -> StoreDirectory:
        return StoreDirectory(
            self.client("dynamodb"), self.resources.table_name, default_stages, cache_seconds=0
        )

    def writer(self) -> StoreWriter:
        return StoreWriter(
            self.client("dynamodb"),
            self.client("ssm"),
            self.resources.table_name,
            self.prefix,
            credentials_table=self.resources.credentials_table_name,
        )

    def credentials(self, **options: Any) -> WebhookCredentials:
        """The receiver's view of the webhook credentials (``index_seconds`` etc. as given)."""
        options.setdefault("reread_index_on_miss", True)
        return WebhookCredentials(self.client("dynamodb"), self.resources.credentials_table_name, **options)

    def rotate_token(self, store: Store, new_token: str, until: int) -> None:
        """What `cartwatch stores rotate-token` writes: the new token, the replaced one until then."""
        self.writer().save(
            StoreSettings(store.store_hash, DEFAULT_STAGES),
            access_token=store.access_token,
            client_secret=store.client_secret,
            webhook_token=new_token,
            created_at=0,
            replaced_token=(store.webhook_token, until),
        )

    def secrets(self) -> StoreSecrets:
        from aws_lambda_powertools.utilities.parameters import SSMProvider

        return StoreSecrets(SSMProvider(boto3_client=self.client("ssm")), self.prefix, cache_seconds=0)

    def queue_messages(self, queue_url: str, wait: int = 0) -> list[dict[str, Any]]:
        sqs = self.client("sqs")
        messages: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait, VisibilityTimeout=0
            ).get("Messages", [])
            fresh = [m for m in batch if m["MessageId"] not in {x["MessageId"] for x in messages}]
            if not fresh:
                return messages
            messages += fresh

    def lifecycle(
        self, *, start_delay_seconds: int = 0, bigcommerce_api_url: str = "https://api.bigcommerce.com"
    ) -> StoreLifecycle:
        """Uninstall, uninstall check and purge job, as the purge function builds them."""
        function = self.function(
            "store_purge",
            purge_start_delay_seconds=start_delay_seconds,
            bigcommerce_api_url=bigcommerce_api_url,
        )
        return function.store_lifecycle

    def table_items(self) -> list[dict[str, Any]]:
        return self.client("dynamodb").scan(TableName=self.resources.table_name).get("Items", [])


@dataclass
class Store:
    store_hash: str
    access_token: str
    client_secret: str
    webhook_token: str


@pytest.fixture
def aws(moto_endpoint: str) -> Aws:
    session = boto3.Session(region_name="us-east-1")
    prefix = f"{SSM_PREFIX}/{unique_name()}"
    return Aws(
        resources=provision(session, moto_endpoint, name=unique_name("cw")), session=session, prefix=prefix
    )


@pytest.fixture
def add_store(aws: Aws) -> Callable[..., Store]:
    def add(
        store_hash: str | None = None,
        *,
        stages: str = "1h,24h,48h",
        require_signature: bool = False,
        recovery_links: bool = False,
        client_secret: str | None = None,
    ) -> Store:
        store = Store(
            store_hash=store_hash or unique_name("s"),
            access_token=secrets.token_hex(16),
            client_secret=client_secret or secrets.token_hex(16),
            webhook_token=secrets.token_urlsafe(24),
        )
        aws.writer().save(
            StoreSettings(
                store.store_hash,
                StageSchedule.parse(stages),
                require_signature=require_signature,
                recovery_links=recovery_links,
            ),
            access_token=store.access_token,
            client_secret=store.client_secret,
            webhook_token=store.webhook_token,
            created_at=0,
        )
        return store

    return add


@pytest.fixture
def store(add_store: Callable[..., Store]) -> Store:
    return add_store()


@pytest.fixture
def world(moto_endpoint: str) -> Iterator[World]:
    """A BigCommerce sandbox store wired to a whole local pipeline (see pipeline_support)."""
    yield from make_world(moto_endpoint)
