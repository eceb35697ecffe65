"""BigCommerce's REST API (v3, and v2 for orders) over ``urllib3``.

The store's API quota (150 requests per 30 s on Standard plans) is shared with every other
app installed on it, so this client is a polite neighbour: every request goes through
``bigcommerce_http.PoliteTransport`` (timeouts, quota pacing, bounded retries, typed
failures, a token that never shows).

The transport is urllib3, not requests: botocore already loads urllib3 in every function,
while requests (with charset-normalizer and idna) would add about a quarter of
``import boto3`` to the cold start of each function that talks to BigCommerce.  The CLI's
own HTTP (the query client, the simulator) stays on requests, where import time is moot.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import urllib3

from cartwatch.adapters.bigcommerce_http import (
    BigCommerceError,
    BigCommerceRejected,
    BigCommerceUnauthorized,
    BigCommerceUnavailable,
    PoliteTransport,
)
from cartwatch.settings import DEFAULT_BIGCOMMERCE_API_URL

__all__ = [
    "BigCommerceClient",
    "BigCommerceError",
    "BigCommerceRejected",
    "BigCommerceUnauthorized",
    "BigCommerceUnavailable",
]

_OPTIONS_INCLUDE = "cart.line_items.physical_items.options,cart.line_items.digital_items.options"
_CART_OPTIONS_INCLUDE = "line_items.physical_items.options,line_items.digital_items.options"
_HOOK_FIELDS = frozenset({"scope", "destination", "is_active", "headers"})
_HOOKS_PAGE_SIZE = 250


class BigCommerceClient:
    """One store's API.  Build it once per store and reuse it: it carries the pacing state."""

    def __init__(
        self,
        store_hash: str,
        access_token: str,
        *,
        api_url: str = DEFAULT_BIGCOMMERCE_API_URL,
        pool: urllib3.PoolManager | None = None,
        timeout: tuple[float, float] = (3.05, 10),
        max_attempts: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        max_wait_seconds: float = 30.0,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store_hash = store_hash
        self._base = f"{api_url.rstrip('/')}/stores/{quote(store_hash, safe='')}"
        self._http = PoliteTransport(
            self._base,
            access_token,
            pool=pool,
            timeout=timeout,
            max_attempts=max_attempts,
            sleep=sleep,
            max_wait_seconds=max_wait_seconds,
            rng=rng,
            clock=clock,
        )
        self._call = self._http.call

    @property
    def calls(self) -> int:
        """Requests sent so far, retries included (for budgets and tests)."""
        return self._http.calls

    def __repr__(self) -> str:
        return f"BigCommerceClient(store_hash={self.store_hash!r}, api={self._base!r})"

    # --- carts and checkouts -------------------------------------------------------------

    def get_checkout(self, cart_id: str) -> dict[str, Any] | None:
        """The checkout of a cart (same id): cart, billing address, consignments; None if gone."""
        path = f"/v3/checkouts/{_segment(cart_id)}"
        body = self._call("GET", path, {"include": _OPTIONS_INCLUDE}, missing_is_none=True)
        return None if body is None else _data_object(body)

    def get_cart(self, cart_id: str) -> dict[str, Any] | None:
        path = f"/v3/carts/{_segment(cart_id)}"
        body = self._call("GET", path, {"include": _CART_OPTIONS_INCLUDE}, missing_is_none=True)
        return None if body is None else _data_object(body)

    def cart_is_open(self, cart_id: str) -> bool:
        """Whether BigCommerce still has the cart: a bought cart is deleted with its order."""
        return self._call("GET", f"/v3/carts/{_segment(cart_id)}", missing_is_none=True) is not None

    def create_cart(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /v3/carts?include=redirect_urls``: a REST Management cart with its redirect URLs."""
        return _data_object(self._call("POST", "/v3/carts", {"include": "redirect_urls"}, body=body))

    # --- customers and consent -----------------------------------------------------------

    def get_customers(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        if not ids:
            return []
        params = {"id:in": ",".join(str(int(i)) for i in ids), "limit": max(len(ids), 1)}
        return _data_list(self._call("GET", "/v3/customers", params))

    def get_subscribers(self, email: str) -> list[dict[str, Any]]:
        # subscribers.v3.yml filters by ``email`` (an exact match), not ``email:in``.
        return _data_list(self._call("GET", "/v3/customers/subscribers", {"email": email}))

    # --- orders (v2) ---------------------------------------------------------------------

    def get_order(self, order_id: int) -> dict[str, Any] | None:
        body = self._call("GET", f"/v2/orders/{int(order_id)}", missing_is_none=True)
        if body is None:
            return None
        if not isinstance(body, dict):
            raise BigCommerceError("GET /v2/orders/{id}: the answer is not an order object")
        return body

    def find_order_of_cart(self, cart_id: str) -> dict[str, Any] | None:
        """The order placed from the cart (v2 orders keep their ``cart_id``), or None."""
        body = self._call("GET", "/v2/orders", {"cart_id": cart_id, "limit": 1}, missing_is_none=True)
        if body is None:  # 204: no order
            return None
        if not isinstance(body, list):
            raise BigCommerceError("GET /v2/orders: the answer is not a list of orders")
        return next((order for order in body if isinstance(order, dict)), None)

    # --- webhooks ------------------------------------------------------------------------

    def list_hooks(self) -> list[dict[str, Any]]:
        """Every hook this API account owns, all pages."""
        hooks: list[dict[str, Any]] = []
        page = 1
        while True:
            body = self._call("GET", "/v3/hooks", {"page": page, "limit": _HOOKS_PAGE_SIZE})
            batch = _data_list(body)
            hooks.extend(batch)
            pagination = (body.get("meta") or {}).get("pagination") or {}
            total_pages = pagination.get("total_pages")
            if not batch or not isinstance(total_pages, int) or page >= total_pages:
                return hooks
            page += 1

    def create_hook(
        self, scope: str, destination: str, headers: Mapping[str, str] | None, is_active: bool = True
    ) -> dict[str, Any]:
        body = {
            "scope": scope,
            "destination": destination,
            "is_active": is_active,
            "headers": dict(headers) if headers is not None else None,
        }
        return _data_object(self._call("POST", "/v3/hooks", body=body))

    def update_hook(self, hook_id: int, **fields: Any) -> dict[str, Any]:
        unknown = set(fields) - _HOOK_FIELDS
        if unknown or not fields:
            raise ValueError(f"update_hook takes some of {sorted(_HOOK_FIELDS)}, got {sorted(fields)}")
        return _data_object(self._call("PUT", f"/v3/hooks/{int(hook_id)}", body=fields))

    def delete_hook(self, hook_id: int) -> dict[str, Any] | None:
        """Delete a hook; None when it was already gone (so removal can be repeated)."""
        body = self._call("DELETE", f"/v3/hooks/{int(hook_id)}", missing_is_none=True)
        return None if body is None else _data_object(body)

    def get_hooks_admin(self) -> dict[str, Any]:
        """Notification emails, every hook with its ``status``, and blocked domains."""
        return _data_object(self._call("GET", "/v3/hooks/admin"))


def _segment(value: str) -> str:
    # Ids come from webhook bodies: never let one change the path it is placed in.
    return quote(str(value), safe="")


def _data_object(body: Any) -> dict[str, Any]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise BigCommerceError("the answer has no 'data' object")
    return data


def _data_list(body: Any) -> list[dict[str, Any]]:
    if body is None:
        return []
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise BigCommerceError("the answer has no 'data' list")
    return [item for item in data if isinstance(item, dict)]
