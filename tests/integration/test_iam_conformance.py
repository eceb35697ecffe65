"""IAM conformance on purpose: a store's whole life through every function, checked against the
deployed roles; the check failing when one grant is taken out; function code nobody named.

(Every other integration and e2e test is checked too, at its teardown: tests/iam_conformance.py.)
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from tests.iam_conformance import deployed, recorded_calls
from tests.integration.conftest import Aws, Store
from tests.integration.pipeline_support import World, make_world
from tests.integration.query.query_support import api_client
from tests.integration.test_processor import make_processor, message
from tests.integration.test_uninstall_purge import store_carts
from tests.support import FakeLambdaContext, sqs_event

from cartwatch.composition import AwsClients, Composition
from cartwatch.handlers import hook_health
from cartwatch.handlers import processor as processor_handler
from cartwatch_tools.iam.conformance import ConformanceCheck
from cartwatch_tools.iam.recording import RecordedCall
from cartwatch_tools.iam.template import Grant

pytestmark = pytest.mark.integration

HOUR, DAY = 3600, 86400
FUNCTIONS = {
    "receiver",
    "processor",
    "sweeper",
    "publisher",
    "figure_tally",
    "query_api",
    "hook_health",
    "store_purge",
    "archiver",
}
TABLE = "${StateTable.Arn}"


@pytest.fixture
def linking_world(moto_endpoint: str) -> Iterator[World]:
    """A store that asks for recovery links: the publisher mints a cart copy and marks it."""
    yield from make_world(moto_endpoint, recovery_links=True)


def abandon_with_a_recovery_link(world: World) -> str:
    """A registered shopper's cart, abandoned at stage 1; returns the copy the link points at."""
    queue = world.consumer_queue("cartwatch.cart.abandoned")
    customer = world.shop.add_customer("ada@example.com", "Ada", "Lovelace")
    cart_id = world.shop.storefront_add_to_cart(88, 2, customer_id=customer)
    world.deliver()
    world.pipeline.drain(now=int(time.time()) + HOUR + 5)
    [abandoned] = world.received(queue)
    assert abandoned["subject"] == cart_id
    return str(abandoned["data"]["recovery_link"]["cart_id"])


def a_store_s_whole_life(world: World) -> None:
    copy_id = abandon_with_a_recovery_link(world)
    world.deliver()  # the copy's own webhooks
    world.shop.storefront_convert(copy_id)  # the shopper follows the link and buys
    world.deliver()
    world.pipeline.drain(now=int(time.time()) + HOUR + 10)

    # A second shopper abandons too; the query API lists, shows, suppresses and erases.
    other = world.shop.storefront_add_to_cart(104, 1)
    world.shop.storefront_set_guest_email(other, "guest@example.com", first_name="Guest")
    world.deliver()
    world.pipeline.drain(now=int(time.time()) + HOUR + 20)
    api = api_client(world)
    assert api.list_carts(world.store_hash, status="abandoned").status == 200
    assert api.cart(world.store_hash, other).status == 200
    assert api.suppress(world.store_hash, other).status == 200
    assert api.stats(world.store_hash).status == 200
    assert api.erase(world.store_hash, other).status == 204

    # The daily hook check; then the store is cancelled: BigCommerce sends the uninstall
    # webhook and its token stops working, so the purge job's check confirms it and purges.
    check = world.pipeline.function("hook_health").hook_health_check()
    assert hook_health.handler({}, FakeLambdaContext(), check=check)["stores_checked"] == 1
    world.shop.fire_app_uninstalled()
    world.deliver()
    world.shop.remove_api_account(world.shop.account.client_id)
    deadline = time.monotonic() + 20
    while store_carts(world, world.store_hash) and time.monotonic() < deadline:
        world.pipeline.purge()
    assert store_carts(world, world.store_hash) == 0


def test_conformance_every_function_over_a_store_s_whole_life(linking_world: World) -> None:
    with recorded_calls() as calls:
        a_store_s_whole_life(linking_world)

    violations, exercised = ConformanceCheck(deployed()).check(calls)
    assert violations == []
    assert {c.function for c in calls} == FUNCTIONS
    # The grants this issue added or narrowed, each used for real:
    assert {
        Grant("publisher", "dynamodb:PutItem", TABLE),  # marking the recovery link's copy
        Grant("publisher", "kms:GenerateDataKey", "${PublishingEventsKey.Arn}"),  # AWS asks it of a publish
        Grant("processor", "sqs:SendMessage", "${PurgingQueue.Arn}"),  # an uninstall only queues a check
        Grant("store_purge", "dynamodb:Scan", TABLE),  # the purge scans …
        Grant("store_purge", "dynamodb:BatchWriteItem", TABLE),  # … and deletes cart items only
        Grant("query_api", "dynamodb:PutItem", TABLE),  # the erasure's tombstone
    } <= exercised


def test_conformance_check_fails_when_the_publisher_loses_put_item(linking_world: World) -> None:
    with recorded_calls() as calls:
        abandon_with_a_recovery_link(linking_world)

    violations, _ = ConformanceCheck(deployed().without("publisher", "dynamodb:PutItem")).check(calls)

    table = linking_world.pipeline.resources.table_name
    assert [(v.function, v.call.split("(")[0]) for v in violations] == [("publisher", "dynamodb.PutItem")]
    assert f"missing grant: dynamodb:PutItem on arn:aws:dynamodb:us-east-1:123456789012:table/{table}" in (
        violations[0].problem
    )
    assert str(violations[0]).startswith("publisher: dynamodb.PutItem(")
    assert ConformanceCheck(deployed()).check(calls)[0] == []  # the stack as it is allows it


def test_conformance_flags_function_code_run_without_naming_the_function(aws: Aws, store: Store) -> None:
    # The processor built on clients that do not name it (aws.function's would).
    unnamed = Composition("processor", aws.settings(), AwsClients(endpoint_url=aws.resources.endpoint_url))
    with recorded_calls(checked_at_teardown=False) as calls:
        processor_handler.handler(
            sqs_event(message(store, "store/cart/created", "c1", int(time.time()))),
            FakeLambdaContext(),
            processor=unnamed.cart_processor,
        )

    violations, _ = ConformanceCheck(deployed()).check(calls)
    assert violations and all(_unnamed(v.function, v.problem) for v in violations)
    assert {c.call.split("(")[0] for c in calls} >= {"dynamodb.BatchGetItem", "dynamodb.PutItem"}


def _unnamed(function: str | None, problem: str) -> bool:
    return function is None and "outside any function" in problem and "acting_as" in problem


def test_conformance_records_only_what_functions_call(aws: Aws, store: Store) -> None:
    with recorded_calls() as calls:
        aws.table_items()  # the test's own look at the table
        processor_handler.handler(  # the processor's own clients name it
            sqs_event(message(store, "store/cart/created", "c1", int(time.time()))),
            FakeLambdaContext(),
            processor=make_processor(aws),
        )
    assert calls and {c.function for c in calls} == {"processor"}
    assert all(isinstance(c, RecordedCall) and c.requests and not c.problem for c in calls)


def test_conformance_a_function_s_clients_name_it_whoever_the_thread_acts_as(aws: Aws, store: Store) -> None:
    """A call is the function's whose clients make it: a test naming another function around
    it (acting_as) does not change whose role it needs."""
    with recorded_calls() as calls, aws.acting_as("query_api"):
        aws.function("sweeper").abandonment_sweep().run(int(time.time()))
        aws.client("dynamodb").get_item(
            TableName=aws.resources.table_name, Key={"pk": {"S": "CART#x"}, "sk": {"S": "STATE"}}
        )
    assert {c.function for c in calls if c.call.startswith("dynamodb.Query")} == {"sweeper"}
    assert {c.function for c in calls if c.call.startswith("dynamodb.GetItem")} == {"query_api"}
