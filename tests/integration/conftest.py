"""Integration fixtures: fresh cartwatch resources in moto server (over HTTP) per test."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from tests.integration.pipeline_support import World, make_world
from tests.support import unique_name

from cartwatch.adapters.cart_repository import CartRepository
from cartwatch.adapters.store_registry import StoreDirectory, StoreSecrets, StoreWriter
from cartwatch.composition import StoreLifecycle, build_store_lifecycle
from cartwatch.domain.stages import StageSchedule
from cartwatch.domain.store import StoreSettings
from cartwatch.settings import StateSettings, StoreRegistrySettings, UninstallSettings
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

    def repository(self, due_shards: int = 4) -> CartRepository:
        return CartRepository(
            self.client("dynamodb"),
            self.resources.table_name,
            due_shards=due_shards,
            closed_retention_days=30,
        )

    def directory(self, default_stages: StageSchedule = DEFAULT_STAGES) -> StoreDirectory:
        return StoreDirectory(
            self.client("dynamodb"), self.resources.table_name, default_stages, cache_seconds=0
        )

    def writer(self) -> StoreWriter:
        return StoreWriter(
            self.client("dynamodb"), self.client("ssm"), self.resources.table_name, self.prefix
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

    def state(self, default_stages: StageSchedule = DEFAULT_STAGES) -> StateSettings:
        return StateSettings(
            table_name=self.resources.table_name,
            due_shards=4,
            closed_retention_days=30,
            stores=StoreRegistrySettings(self.resources.table_name, self.prefix, 0, default_stages),
        )

    def lifecycle(
        self, *, start_delay_seconds: int = 0, bigcommerce_api_url: str = "https://api.bigcommerce.com"
    ) -> StoreLifecycle:
        """Uninstall, uninstall check and purge job, wired as the functions wire them."""
        return build_store_lifecycle(
            dynamodb=self.client("dynamodb"),
            ssm=self.client("ssm"),
            sqs=self.client("sqs"),
            secrets=self.secrets(),
            state=self.state(),
            uninstall=UninstallSettings(self.resources.purge_queue_url, start_delay_seconds),
            bigcommerce_api_url=bigcommerce_api_url,
        )

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
