"""Fixtures of the BigCommerce client tests: a loopback BigCommerce and a client of it."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from tests.integration.bigcommerce.fake_bigcommerce import STORE_HASH, TOKEN, FakeBigCommerce, Sleeps, serve

from cartwatch.adapters.bigcommerce import BigCommerceClient


@pytest.fixture
def fake_bigcommerce() -> Iterator[FakeBigCommerce]:
    yield from serve(FakeBigCommerce())


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(fake_bigcommerce: FakeBigCommerce, sleeps: Sleeps) -> BigCommerceClient:
    return BigCommerceClient(
        STORE_HASH,
        TOKEN,
        api_url=fake_bigcommerce.url,
        sleep=sleeps,
        rng=random.Random(7),
        timeout=(2, 2),
    )
