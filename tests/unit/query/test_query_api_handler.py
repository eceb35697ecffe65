"""The query API's Lambda handler: parameters, errors and the OpenAPI document, without AWS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from tests.support import FakeLambdaContext

from cartwatch.domain.cart_views import CartPage
from cartwatch.domain.lifecycle import CartStatus
from cartwatch.domain.listing import CartFilter
from cartwatch.handlers import query_api
from cartwatch.resources import QUERY_ROUTES
from cartwatch.service.cart_queries import CartBusy, CartNotFound
from cartwatch.service.cursors import InvalidCursor

COMMITTED = Path(__file__).resolve().parents[3] / "docs" / "openapi" / "query-api.json"
IAM = {"accessKey": "AKIAEXAMPLE", "userArn": "arn:aws:iam::123456789012:user/consumer"}


class FakeQueries:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls: list[tuple[Any, ...]] = []

    def list_carts(
        self, store_hash: str, cart_filter: CartFilter, *, limit: int, cursor: str | None
    ) -> CartPage:
        self.calls.append((store_hash, cart_filter, limit, cursor))
        if self.error:
            raise self.error
        return CartPage(carts=[], next_cursor=None)

    def cart(self, store_hash: str, cart_id: str) -> Any:
        raise self.error or CartNotFound(f"no cart {cart_id}")

    def suppress(self, store_hash: str, cart_id: str) -> Any:
        raise self.error or CartNotFound(f"no cart {cart_id}")


def call(
    method: str,
    path: str,
    query: dict[str, Any] | None = None,
    *,
    iam: bool = True,
    queries: Any = None,
    headers: dict[str, str] | None = None,
    body: str | None = None,
) -> tuple[int, Any]:
    raw = urlencode(query or {}, doseq=True)
    event = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": raw,
        "queryStringParameters": {
            k: ",".join(map(str, v)) if isinstance(v, list) else str(v) for k, v in (query or {}).items()
        }
        or None,
        "headers": {"host": "api.example.com", **(headers or {})},
        **({"body": body} if body is not None else {}),
        "requestContext": {
            "http": {"method": method, "path": path},
            "stage": "$default",
            **({"authorizer": {"iam": IAM}} if iam else {}),
        },
        "isBase64Encoded": False,
    }
    response = query_api.handler(event, FakeLambdaContext(), queries=queries or FakeQueries())
    body = response.get("body")
    return response["statusCode"], json.loads(body) if body else None


def test_the_committed_openapi_document_is_what_the_handler_generates() -> None:
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert committed == query_api.openapi_document(), (
        "regenerate with: python -m cartwatch.handlers.query_api docs/openapi/query-api.json"
    )
    every_operation = [op for path in committed["paths"].values() for op in path.values()]
    assert all(op["security"] == [{"sigv4": []}] for op in every_operation)
    assert all({"400", "403", "404"} <= set(op["responses"]) for op in every_operation)
    assert not any("422" in op["responses"] for op in every_operation)


def test_the_handler_serves_exactly_the_routes_the_stack_and_local_gateway_know() -> None:
    routes = query_api.app._static_routes + query_api.app._dynamic_routes
    served = {(r.method, r.path.replace("<", "{").replace(">", "}")) for r in routes}
    assert served == set(QUERY_ROUTES)


def test_a_request_without_an_iam_identity_is_forbidden() -> None:
    status, body = call("GET", "/v1/stores/abc123/carts", iam=False)
    assert status == 403 and "SigV4" in body["error"]


@pytest.mark.parametrize("content_type", ["multipart/form-data", "multipart/form-data; boundary=x"])
def test_a_form_body_is_a_400_naming_the_content_type_not_a_server_error(content_type: str) -> None:
    status, body = call(
        "POST",
        "/v1/stores/abc123/shoppers/erase",
        headers={"content-type": content_type},
        body='{"email": "ada@example.com"}',
    )
    assert status == 400
    [field] = body["fields"]
    assert field["field"] == "header.content-type" and "JSON" in field["message"]


def test_parameters_become_the_listing_filter() -> None:
    queries = FakeQueries()
    status, _ = call(
        "GET",
        "/v1/stores/abc123/carts",
        {
            "status": ["abandoned", "recovered"],
            "created_from": "2025-01-01T00:00:00Z",
            "transitioned_to": "1700000000",
            "customer_email": "Ada@Example.com",
            "skip_empty_email": "true",
            "min_total": "10.50",
            "stage": ["1", "3"],
            "limit": "250",
            "cursor": "abc.def",
        },
        queries=queries,
    )
    assert status == 200
    store, cart_filter, limit, cursor = queries.calls[0]
    assert (store, limit, cursor) == ("abc123", 250, "abc.def")
    assert cart_filter.statuses == (CartStatus.ABANDONED, CartStatus.RECOVERED)
    assert (cart_filter.created_from, cart_filter.transitioned_to) == (1735689600, 1700000000)
    assert cart_filter.customer_email == "ada@example.com" and cart_filter.skip_empty_email
    assert str(cart_filter.min_total) == "10.50" and cart_filter.stages == (1, 3)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "query.limit"),
        ({"limit": "251"}, "query.limit"),
        ({"status": "lost"}, "query.status"),
        ({"abandoned_to": "soon"}, "query.abandoned_to"),
        ({"max_total": "-1"}, "query.max_total"),
        ({"currency": "dollars"}, "query.currency"),
        ({"suppressed": "maybe"}, "query.suppressed"),
    ],
)
def test_a_bad_parameter_is_400_naming_the_field(query: dict[str, str], field: str) -> None:
    status, body = call("GET", "/v1/stores/abc123/carts", query)
    assert status == 400
    assert body["error"] == "invalid request"
    assert body["fields"][0]["field"].startswith(field)


def test_domain_errors_map_to_their_status_codes() -> None:
    assert call("GET", "/v1/stores/abc123/carts/c1")[0] == 404
    assert call("POST", "/v1/stores/abc123/carts/c1/suppress")[0] == 404
    assert (
        call("POST", "/v1/stores/abc123/carts/c1/suppress", queries=FakeQueries(CartBusy("busy")))[0] == 409
    )
    status, body = call("GET", "/v1/stores/abc123/carts", queries=FakeQueries(InvalidCursor("altered")))
    assert (status, body["fields"][0]["field"]) == (400, "query.cursor")
    assert call("GET", "/v1/stores/ABC/carts")[0] == 400
    assert call("GET", "/v1/stores/abc123/carts/bad%20id")[0] == 400
    assert call("GET", "/v1/nothing/here")[0] == 404


def test_the_document_is_served_to_signed_callers() -> None:
    status, body = call("GET", "/v1/openapi.json")
    assert status == 200 and body["info"]["title"] == query_api.API_TITLE
