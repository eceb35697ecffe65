"""Who may call the query API, and what a bad request gets: through `cartwatch local`'s gateway."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from tests.integration.pipeline_support import World
from tests.integration.query.query_support import HOUR, LOCAL_CREDENTIALS, api_client

from cartwatch_tools.cli.query_client import ApiCredentials
from cartwatch_tools.local.moto_server import LOCAL_ACCESS_KEY

pytestmark = pytest.mark.integration

COMMITTED = Path(__file__).resolve().parents[3] / "docs" / "openapi" / "query-api.json"


def abandoned_cart(world: World) -> str:
    cart_id = world.shop.storefront_add_to_cart(88, 1)
    world.deliver()
    world.pipeline.drain(now=int(time.time()) + HOUR + 5)
    return cart_id


def test_unsigned_or_wrongly_signed_requests_are_forbidden(fresh: World) -> None:
    cart_id = abandoned_cart(fresh)
    path = f"/v1/stores/{fresh.store_hash}/carts/{cart_id}"
    assert api_client(fresh).request("GET", path).status == 200
    assert api_client(fresh).request("GET", path, signed=False).status == 403
    wrong_secret = api_client(fresh, ApiCredentials(LOCAL_ACCESS_KEY, "not-the-secret"))
    wrong_key = api_client(fresh, ApiCredentials("AKIAOTHER", "cartwatch-local-secret"))
    for client in (wrong_secret, wrong_key):
        for method, route in (("GET", path), ("DELETE", path), ("POST", f"{path}/suppress")):
            response = client.request(method, route)
            assert response.status == 403, (method, route, response.body)
    # Nothing happened to the cart.
    assert api_client(fresh).cart(fresh.store_hash, cart_id).body["suppressed"] is False


def test_a_signature_over_another_request_is_forbidden(fresh: World) -> None:
    import requests

    from cartwatch_tools.cli.query_client import sign

    url = f"{fresh.pipeline.gateway.url}/v1/stores/{fresh.store_hash}/carts?limit=1"
    headers = sign("GET", url, LOCAL_CREDENTIALS, "us-east-1")
    assert requests.get(url, headers=headers, timeout=10).status_code == 200
    assert requests.get(url.replace("limit=1", "limit=2"), headers=headers, timeout=10).status_code == 403


def test_bad_parameters_are_400_naming_the_field(fresh: World) -> None:
    api = api_client(fresh)
    for params, field in (
        ({"limit": 0}, "query.limit"),
        ({"limit": 251}, "query.limit"),
        ({"status": "lost"}, "query.status"),
        ({"created_from": "yesterday"}, "query.created_from"),
        ({"min_total": "lots"}, "query.min_total"),
        ({"stage": 11}, "query.stage"),
        ({"customer_id": "ada"}, "query.customer_id"),
    ):
        response = api.list_carts(fresh.store_hash, **params)
        assert response.status == 400, (params, response.body)
        assert response.body["fields"][0]["field"].startswith(field), (params, response.body)
    bad_store = api.request("GET", "/v1/stores/NOT_A_HASH/carts")
    assert (bad_store.status, bad_store.body["fields"][0]["field"]) == (400, "path.store_hash")
    backwards = api.stats(fresh.store_hash, **{"from": 2000, "to": 1000})
    assert (backwards.status, backwards.body["fields"][0]["field"]) == (400, "query.from")


def test_unknown_carts_and_stores_are_404(fresh: World) -> None:
    api = api_client(fresh)
    for response in (
        api.cart(fresh.store_hash, "no-such-cart"),
        api.suppress(fresh.store_hash, "no-such-cart"),
        api.erase(fresh.store_hash, "no-such-cart"),
        api.list_carts("nosuchstore"),
        api.stats("nosuchstore"),
    ):
        assert response.status == 404, response.body
        assert response.body["error"]


def test_the_openapi_document_is_served_and_is_the_committed_one(fresh: World) -> None:
    response = api_client(fresh).request("GET", "/v1/openapi.json")
    assert response.status == 200
    assert response.body == json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert api_client(fresh).request("GET", "/v1/openapi.json", signed=False).status == 403
