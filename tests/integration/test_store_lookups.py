"""Store lookups that scale (architecture decision 60), against moto server.

The receiver knows which stores exist from an index it reads once a minute, so a delivery
to an unknown store hash costs no AWS call at all; a known store's credentials are read once
and kept until the index shows they changed.  These tests run the receiver as deployed (its
composition root, from the environment the stack sets) and count every AWS call it makes.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from tests.integration.conftest import Aws, Store
from tests.support import FakeLambdaContext, cart_webhook, http_api_event, signed_headers

from cartwatch.adapters.webhook_credentials import CredentialsTable, WebhookCredentials
from cartwatch.composition import AwsClients, Composition
from cartwatch.domain.store import ROTATION_GRACE_SECONDS, WebhookAuth
from cartwatch.handlers import receiver
from cartwatch.service.intake import Delivery, Rejection, accept_delivery
from cartwatch.settings import Settings
from cartwatch_tools.iam.recording import attributed_to

pytestmark = pytest.mark.integration


class DeployedReceiver:
    """The receiver's composition root, built from the environment the stack sets (pointed at
    this test's resources); ``calls`` counts every AWS call it makes."""

    def __init__(self, aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CARTWATCH_TABLE_NAME", aws.resources.table_name)
        monkeypatch.setenv("CARTWATCH_INTAKE_QUEUE_URL", aws.resources.intake_queue_url)
        monkeypatch.setenv("CARTWATCH_CREDENTIALS_TABLE_NAME", aws.resources.credentials_table_name)
        self.calls: Counter[str] = Counter()

        def count(model: Any, **_: Any) -> None:
            self.calls.update([f"{model.service_model.service_name}.{model.name}"])

        self.function = Composition(
            "receiver",
            Settings.from_env(),
            AwsClients(
                endpoint_url=aws.resources.endpoint_url,
                region="us-east-1",
                event_handlers=[attributed_to("receiver", aws.deployment), ("before-call", count)],
            ),
        )

    def deliver(self, store_hash: str, body: bytes, headers: dict[str, str]) -> int:
        event = http_api_event(store_hash, body, headers)
        response = receiver.handler(event, FakeLambdaContext(), intake=self.function.webhook_intake)
        return int(response["statusCode"])


@pytest.fixture
def deployed_receiver(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> DeployedReceiver:
    return DeployedReceiver(aws, monkeypatch)


def test_a_thousand_deliveries_to_unknown_stores_cost_no_aws_call(
    deployed_receiver: DeployedReceiver, store: Store
) -> None:
    calls, deliver = deployed_receiver.calls, deployed_receiver.deliver
    body = json.dumps(cart_webhook(store.store_hash, "store/cart/created", "c-1", int(time.time()))).encode()
    # A known store's delivery warms the receiver: the index (one Query), its credentials
    # (one GetItem), and the one SendMessage.
    assert deliver(store.store_hash, body, signed_headers(store.client_secret, body)) == 200
    assert calls == {"dynamodb.Query": 1, "dynamodb.GetItem": 1, "sqs.SendMessage": 1}
    calls.clear()

    statuses = Counter(
        deliver(secrets.token_hex(8), body, signed_headers(store.client_secret, body)) for _ in range(1000)
    )

    assert statuses == {404: 1000}
    assert calls == {}  # no SSM, no DynamoDB, nothing: answered from the index in memory
    # The known store is still served from memory: one SendMessage, nothing else.
    assert deliver(store.store_hash, body, {"x-cartwatch-token": store.webhook_token}) == 200
    assert calls == {"sqs.SendMessage": 1}


def test_the_receiver_reads_no_ssm_parameter_at_all(
    deployed_receiver: DeployedReceiver, add_store: Any
) -> None:
    stores = [add_store() for _ in range(20)]
    for index, store in enumerate(stores):
        body = json.dumps(
            cart_webhook(store.store_hash, "store/cart/created", f"c-{index}", int(time.time()))
        ).encode()
        headers = signed_headers(store.client_secret, body)
        assert deployed_receiver.deliver(store.store_hash, body, headers) == 200
    # One index read, one GetItem per store, one send per delivery; every store's second
    # delivery is free of reads.
    calls = deployed_receiver.calls
    assert calls == {"dynamodb.Query": 1, "dynamodb.GetItem": 20, "sqs.SendMessage": 20}
    assert not [call for call in calls if call.startswith("ssm.")]


def receiver_client(aws: Aws) -> Any:
    """A DynamoDB client whose calls are the receiver's (the IAM conformance check's caller)."""
    client = aws.client("dynamodb")
    event, handler = attributed_to("receiver", aws.deployment)
    client.meta.events.register(event, handler)
    return client


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class WarmReceiver:
    """One deployed receiver instance's lookups, on a clock the test moves."""

    def __init__(self, aws: Aws) -> None:
        self.clock = Clock()
        self.reads: Counter[str] = Counter()
        client = receiver_client(aws)
        client.meta.events.register("before-call", lambda model, **_: self.reads.update([model.name]))
        self.credentials = WebhookCredentials(client, aws.resources.credentials_table_name, clock=self.clock)

    def accept(self, store: Store, token: str, wall_clock: float) -> int | str:
        body = json.dumps(
            cart_webhook(store.store_hash, "store/cart/updated", "c-1", int(wall_clock))
        ).encode()
        try:
            return accept_delivery(
                Delivery(store.store_hash, body, {"x-cartwatch-token": token}),
                lookup_auth=self.credentials.webhook_auth,
                refresh_auth=self.credentials.refreshed_webhook_auth,
                enqueue=lambda message: None,
                clock=lambda: wall_clock,
            ).authenticated_by
        except Rejection as rejection:
            return rejection.status


def test_a_rotation_is_honoured_within_its_window(aws: Aws, store: Store) -> None:
    """The new token works at once; every warm instance learns of the rotation within the
    index's minute; the replaced token is refused exactly when its grace period ends."""
    now = time.time()
    receiving_new, receiving_old = WarmReceiver(aws), WarmReceiver(aws)
    for instance in (receiving_new, receiving_old):
        assert instance.accept(store, store.webhook_token, now) == "token"
    new_token = "rotated-" + store.webhook_token
    grace_end = int(now) + ROTATION_GRACE_SECONDS
    aws.rotate_token(store, new_token, grace_end)

    # An instance that gets the new token before its index says so reads past its cache once.
    receiving_new.reads.clear()
    assert receiving_new.accept(store, new_token, now + 1) == "token"
    assert receiving_new.reads == {"GetItem": 1}
    assert receiving_new.accept(store, store.webhook_token, now + 1) == "previous token"

    # An instance that only sees the old token keeps its copy until the index shows the new
    # version — at most the index's 60 seconds — then reads the store again.
    receiving_old.reads.clear()
    receiving_old.clock.now += 59
    assert receiving_old.accept(store, store.webhook_token, now + 59) == "token"
    assert receiving_old.reads == {}
    receiving_old.clock.now += 2
    assert receiving_old.accept(store, store.webhook_token, now + 61) == "previous token"
    assert receiving_old.reads == {"Query": 1, "GetItem": 1}
    assert receiving_old.accept(store, new_token, now + 61) == "token"

    # The replaced token counts until its grace period ends, and not a second longer.
    for instance in (receiving_new, receiving_old):
        assert instance.accept(store, store.webhook_token, grace_end - 1) == "previous token"
        assert instance.accept(store, store.webhook_token, grace_end) == 401
        assert instance.accept(store, new_token, grace_end) == "token"


def test_a_removed_store_is_refused_within_the_window(aws: Aws, store: Store) -> None:
    instance = WarmReceiver(aws)
    now = time.time()
    assert instance.accept(store, store.webhook_token, now) == "token"
    aws.writer().delete_secrets(store.store_hash)

    instance.clock.now += 59
    assert instance.accept(store, store.webhook_token, now + 59) == "token"  # its copy, < 1 minute old
    instance.clock.now += 2
    assert instance.accept(store, store.webhook_token, now + 61) == 404
    assert instance.credentials.webhook_auth(store.store_hash) is None


def test_an_unreadable_index_defers_deliveries_and_a_stale_one_keeps_serving(aws: Aws, store: Store) -> None:
    from botocore.exceptions import ClientError

    from cartwatch.adapters.webhook_credentials import CredentialsUnavailable

    clock = Clock()
    client = receiver_client(aws)
    throttled = {"on": True}

    def throttle(**_: Any) -> None:
        if throttled["on"]:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "Query")

    client.meta.events.register("before-call.dynamodb.Query", throttle)
    credentials = WebhookCredentials(client, aws.resources.credentials_table_name, clock=clock)
    with pytest.raises(CredentialsUnavailable):
        credentials.webhook_auth(store.store_hash)  # nothing known yet: the receiver answers 503

    throttled["on"] = False
    assert isinstance(credentials.webhook_auth(store.store_hash), WebhookAuth)
    throttled["on"] = True
    clock.now += 61
    # The index is due but cannot be read: the last one keeps serving.
    assert isinstance(credentials.webhook_auth(store.store_hash), WebhookAuth)


def test_threads_that_find_the_index_stale_together_read_it_once(aws: Aws, store: Store) -> None:
    # `cartwatch local` serves every delivery of a burst from one receiver instance, on many
    # threads: when its index went stale, each of them used to read it again at once.
    instance = WarmReceiver(aws)
    assert isinstance(instance.credentials.webhook_auth(store.store_hash), WebhookAuth)
    instance.clock.now += 61
    instance.reads.clear()
    start = threading.Barrier(24)

    def deliver() -> WebhookAuth | None:
        start.wait()
        return instance.credentials.webhook_auth(store.store_hash)

    with ThreadPoolExecutor(max_workers=24) as pool:
        answers = list(pool.map(lambda _: deliver(), range(24)))
    assert all(isinstance(answer, WebhookAuth) for answer in answers)  # the last index served meanwhile
    assert instance.reads["Query"] == 1


def test_threads_that_miss_a_new_store_together_share_one_read(aws: Aws, store: Store) -> None:
    # Locally an unknown store hash reads the index again, so a store added a moment ago is
    # served at once; a burst to it costs one read, not one per delivery.
    reads: Counter[str] = Counter()
    client = receiver_client(aws)
    client.meta.events.register("before-call", lambda model, **_: reads.update([model.name]))
    clock = TickingClock()
    reading = WebhookCredentials(
        client, aws.resources.credentials_table_name, clock=clock, reread_index_on_miss=True
    )
    assert reading.webhook_auth("not-yet-added") is None
    CredentialsTable(aws.client("dynamodb"), aws.resources.credentials_table_name).put(
        "not-yet-added", WebhookAuth(client_secret=None, token="t" * 32)
    )
    reads.clear()  # still within the minute: only a miss reads the index again
    start = threading.Barrier(16)

    def deliver() -> WebhookAuth | None:
        start.wait()
        return reading.webhook_auth("not-yet-added")

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: deliver(), range(16)))
    assert all(isinstance(answer, WebhookAuth) for answer in answers)
    # One read for every thread that missed before it began; a thread that missed while it
    # was under way needs the next one.  Each thread reading for itself made it 16.
    assert reads["Query"] <= 3


class TickingClock(Clock):
    """Time moves a microsecond each time it is read, as a monotonic clock's does."""

    def __call__(self) -> float:
        self.now += 1e-6
        return self.now
