"""Query API fixtures: a store seeded through the real pipeline (shared by a module), and
fresh worlds for tests that suppress or erase."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.integration.pipeline_support import World, make_world
from tests.integration.query.query_support import Seeded, make_seeded


@pytest.fixture(scope="module")
def seeded(moto_endpoint: str) -> Iterator[Seeded]:
    yield from make_seeded(moto_endpoint)


@pytest.fixture
def fresh(moto_endpoint: str) -> Iterator[World]:
    yield from make_world(moto_endpoint)
