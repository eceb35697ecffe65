"""App fixtures: a sandbox that knows cartwatch as an app, and a pipeline answering its callbacks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.integration.app.app_support import AppWorld, make_app_world


@pytest.fixture
def world(moto_endpoint: str) -> Iterator[AppWorld]:
    yield from make_app_world(moto_endpoint)


@pytest.fixture
def unconfigured(moto_endpoint: str) -> Iterator[AppWorld]:
    yield from make_app_world(moto_endpoint, configure=False)
