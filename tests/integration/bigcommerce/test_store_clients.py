"""A function's BigCommerce clients, one per store, share their connections."""

from __future__ import annotations

import pytest

from cartwatch.adapters.bigcommerce import BigCommerceClient
from cartwatch.adapters.store_clients import bigcommerce_clients
from cartwatch.domain.store import ApiCredentials
from cartwatch_tools.sandbox import BigCommerceSandbox

pytestmark = pytest.mark.integration

STORES = ("one", "two", "three")


class Tokens:
    """The stores' API tokens, as ``StoreSecrets`` reads them from SSM."""

    def api_credentials(self, store_hash: str, *, fresh: bool = False) -> ApiCredentials | None:
        return ApiCredentials(access_token=f"token-{store_hash}") if store_hash in STORES else None


def test_one_kept_alive_connection_serves_store_after_store() -> None:
    with BigCommerceSandbox(abandon_after=None) as sandbox:
        for store_hash in STORES:
            sandbox.add_store(store_hash, f"token-{store_hash}", "secret")
        clients = bigcommerce_clients(Tokens(), sandbox.url)  # type: ignore[arg-type]

        for store_hash in STORES:
            client = clients(store_hash)
            assert client is not None
            client.list_hooks()
            client.list_hooks()

        assert clients("unknown") is None
        # Every store's API is on one host: a connection (in AWS, its TLS session too) made
        # for one store serves the next, where a client of its own made one per store.
        assert sandbox.connections_opened == 1
        for store_hash in STORES:
            BigCommerceClient(store_hash, f"token-{store_hash}", api_url=sandbox.url).list_hooks()
        assert sandbox.connections_opened == 1 + len(STORES)
