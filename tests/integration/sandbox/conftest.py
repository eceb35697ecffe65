"""Fixtures for the sandbox over real loopback sockets."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tests.integration.sandbox.sandbox_support import (
    OPENAPI_DIR,
    SECRET,
    STORE_HASH,
    TOKEN,
    Api,
    OpenApiContract,
    Receiver,
)

from cartwatch_tools.sandbox import BigCommerceSandbox, Store


@pytest.fixture(scope="session")
def contract() -> OpenApiContract:
    return OpenApiContract(OPENAPI_DIR)


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., BigCommerceSandbox]]:
    started: list[BigCommerceSandbox] = []

    def make(**options: Any) -> BigCommerceSandbox:
        options.setdefault("allow_http_destinations", True)
        options.setdefault("abandon_after", None)
        sandbox = BigCommerceSandbox(port=0, **options).start()
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in started:
        sandbox.stop()


@pytest.fixture
def sandbox(make_sandbox: Callable[..., BigCommerceSandbox]) -> BigCommerceSandbox:
    return make_sandbox(time_scale=1e-6, seed=7)


@pytest.fixture
def store(sandbox: BigCommerceSandbox) -> Store:
    return sandbox.add_store(STORE_HASH, TOKEN, SECRET, client_id="cartwatch-test-client")


@pytest.fixture
def api(sandbox: BigCommerceSandbox, store: Store) -> Iterator[Api]:
    client = Api(f"{sandbox.url}/stores/{store.hash}")
    yield client
    client.session.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    destination = Receiver()
    yield destination
    destination.close()
