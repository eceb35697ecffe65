"""One composition root, built per function: `cartwatch local` runs each function with its own
clients, and every AWS call can be attributed to the function that made it."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from tests.integration.pipeline_support import World, make_world

from cartwatch.composition import FUNCTIONS, EventHandler

pytestmark = pytest.mark.integration
HOUR = 3600


class CallsByFunction:
    """A botocore handler per function, as an IAM conformance check would install them."""

    def __init__(self) -> None:
        self.calls: dict[str, set[str]] = defaultdict(set)

    def handlers(self, function: str) -> list[EventHandler]:
        def record(model: Any, **_: Any) -> None:
            self.calls[function].add(f"{model.service_model.service_name}:{model.name}")

        return [("before-call", record)]


@pytest.fixture
def attributed(moto_endpoint: str) -> Iterator[tuple[World, CallsByFunction]]:
    calls = CallsByFunction()
    for world in make_world(moto_endpoint, client_event_handlers=calls.handlers):
        yield world, calls


def test_each_function_makes_only_its_own_calls_through_its_own_clients(
    attributed: tuple[World, CallsByFunction],
) -> None:
    world, calls = attributed
    queue = world.consumer_queue("cartwatch.cart.abandoned")
    world.shop.storefront_add_to_cart(88, 1)
    world.deliver()
    world.pipeline.drain(now=int(time.time()) + HOUR + 5)
    assert world.received(queue)

    by_function = calls.calls
    assert "sqs:SendMessage" in by_function["receiver"]
    # The ack path reads the stores' webhook credentials from their table: the index of known
    # stores and single items, never SSM (architecture decision 60).
    assert "dynamodb:Query" in by_function["receiver"]
    assert by_function["receiver"] <= {"sqs:SendMessage", "dynamodb:Query", "dynamodb:GetItem"}
    assert "dynamodb:BatchGetItem" in by_function["processor"]
    assert "dynamodb:Query" in by_function["sweeper"] and "dynamodb:UpdateItem" in by_function["sweeper"]
    assert "sns:PublishBatch" in by_function["publisher"]
    # Nothing crosses over: the publisher never touches the queue.
    assert not any(call.startswith("sqs:") for call in by_function["publisher"])
    assert "sns:PublishBatch" not in by_function["processor"] | by_function["sweeper"]
    # Each function's clients are its own objects.
    clients = [world.pipeline.functions[f].clients for f in world.pipeline.functions]
    assert len({id(c) for c in clients}) == len(clients)
    assert set(world.pipeline.functions) <= set(FUNCTIONS)
