"""BigCommerce API clients for the stores in the registry, built from their stored credentials.

Shared by the publisher (enrichment) and the hook-health check.  It lives apart from both so
that hook-health, which never validates a model, does not import the publisher's pydantic
event models on its cold start.
"""

from __future__ import annotations

from typing import Any, Protocol

from cartwatch.adapters.bigcommerce import BigCommerceClient
from cartwatch.adapters.bigcommerce_http import connection_pool
from cartwatch.adapters.store_registry import StoreSecrets


class ClientFactory(Protocol):
    def __call__(self, store_hash: str, *, fresh: bool = False) -> BigCommerceClient | None:
        """The store's client (None: no credentials stored); ``fresh`` reads them past the cache."""
        ...


def bigcommerce_clients(
    secrets: StoreSecrets, api_url: str, *, connections: int = 1, **options: Any
) -> ClientFactory:
    """A factory that builds a store's API client from its stored credentials (None: none stored).

    ``options`` go to every client (e.g. a short ``max_wait_seconds`` behind a web page).
    Every store's API is on one host, so the clients share one pool of connections: a
    connection (and its TLS session) opened for one store serves the next, where a pool per
    client made a handshake for every store a function met.  ``connections``: how many the
    pool keeps, as many as the caller's threads that call BigCommerce at once.
    """
    options = {"pool": connection_pool(connections), **options}

    def build(store_hash: str, *, fresh: bool = False) -> BigCommerceClient | None:
        credentials = secrets.api_credentials(store_hash, fresh=fresh)
        if credentials is None:
            return None
        return BigCommerceClient(store_hash, credentials.access_token, api_url=api_url, **options)

    return build
