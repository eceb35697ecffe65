"""Schemathesis against the committed OpenAPI document, served by `cartwatch local`'s gateway.

Every operation is fuzzed with generated parameters (bounded: a few dozen examples each);
no answer may be a 5xx, and every answer must match the document: status code, content
type, headers and body schema.  Requests are SigV4-signed like any consumer's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from tests.integration.pipeline_support import World, make_world
from tests.integration.query.query_support import HOUR, LOCAL_CREDENTIALS

from cartwatch_tools.cli.query_client import SigV4RequestAuth
from cartwatch_tools.local.moto_server import LOCAL_REGION

pytestmark = pytest.mark.integration

DOCUMENT = Path(__file__).resolve().parents[3] / "docs" / "openapi" / "query-api.json"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_path(DOCUMENT)
# Valid requests and invalid ones: an invalid parameter must be a 400, never a 5xx.
schema.config.generation.update(modes=list(schemathesis.GenerationMode))


@pytest.fixture(scope="module")
def served(moto_endpoint: str) -> Iterator[World]:
    for world in make_world(moto_endpoint):
        # A few real carts, so listings and stats have something to serialize.
        for product in (88, 104, 112):
            world.shop.storefront_add_to_cart(product, 2)
        world.deliver()
        world.pipeline.drain(now=int(time.time()) + HOUR + 5)
        yield world


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_no_server_errors_and_every_answer_matches_the_document(
    case: schemathesis.Case, served: World
) -> None:
    if case.operation.path.endswith("/carts") and len(case.query or {}) % 2 and case.path_parameters:
        case.path_parameters["store_hash"] = served.store_hash  # often ask about the store with carts
    response = case.call(
        base_url=served.pipeline.gateway.url, auth=SigV4RequestAuth(LOCAL_CREDENTIALS, LOCAL_REGION)
    )
    case.validate_response(response, checks=CHECKS)
