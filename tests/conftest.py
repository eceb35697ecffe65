"""Shared fixtures: real BigCommerce bodies, and (for integration tests) moto server over HTTP."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

# No test may ever reach real AWS: fake credentials and a loopback endpoint are set before
# anything builds a client.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "cartwatch-test",
        "AWS_SECRET_ACCESS_KEY": "cartwatch-test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "Cartwatch",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_DEV": "false",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
)


@pytest.fixture
def webhook_bodies() -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in (FIXTURES / "webhooks").glob("*.json")}


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from cartwatch_tools.local.moto_server import MotoServer

    server = MotoServer().start()
    os.environ["AWS_ENDPOINT_URL"] = server.endpoint_url
    try:
        yield server.endpoint_url
    finally:
        server.stop()


def pytest_configure(config: pytest.Config) -> None:
    # Every AWS call a Lambda function makes in a test is checked against its IAM role.
    from tests.iam_conformance import register

    register(config)
