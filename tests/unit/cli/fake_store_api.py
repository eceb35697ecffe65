"""An in-memory BigCommerce hooks API with the same rules as ``/v3/hooks`` (no sockets)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cartwatch.adapters.bigcommerce import BigCommerceError


class FakeStoreApi:
    def __init__(self, hooks: Sequence[Mapping[str, Any]] = ()) -> None:
        self.hooks: dict[int, dict[str, Any]] = {int(h["id"]): dict(h) for h in hooks}
        self.calls: list[str] = []
        # "create store/cart/updated", "list", "get_cart", ...: the next such call raises this.
        self.failures: dict[str, BigCommerceError] = {}
        self.blocked: list[dict[str, Any]] = []
        self._next_id = 1000

    def _call(self, name: str) -> None:
        self.calls.append(name)
        error = self.failures.get(name) or self.failures.get(name.split(" ", maxsplit=1)[0])
        if error is not None:
            raise error

    def list_hooks(self) -> list[dict[str, Any]]:
        self._call("list")
        return [dict(h) for _, h in sorted(self.hooks.items())]

    def create_hook(
        self, scope: str, destination: str, headers: Mapping[str, str] | None, is_active: bool = True
    ) -> dict[str, Any]:
        self._call(f"create {scope}")
        self._next_id += 1
        hook = {
            "id": self._next_id,
            "scope": scope,
            "destination": destination,
            "headers": dict(headers) if headers is not None else None,
            "is_active": is_active,
        }
        self.hooks[self._next_id] = hook
        return dict(hook)

    def update_hook(self, hook_id: int, **fields: Any) -> dict[str, Any]:
        self._call(f"update {self.hooks[hook_id]['scope']}")
        self.hooks[hook_id].update(fields)
        return dict(self.hooks[hook_id])

    def delete_hook(self, hook_id: int) -> dict[str, Any] | None:
        self._call(f"delete {hook_id}")
        return self.hooks.pop(hook_id, None)

    def get_hooks_admin(self) -> dict[str, Any]:
        self._call("admin")
        return {"emails": [], "hooks_list": list(self.hooks.values()), "blocked_domains": self.blocked}

    def get_cart(self, cart_id: str) -> dict[str, Any] | None:
        self._call("get_cart")
        return None

    def get_customers(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        self._call("get_customers")
        return []

    def get_order(self, order_id: int) -> dict[str, Any] | None:
        self._call("get_order")
        return None

    def of(self, destination: str) -> list[dict[str, Any]]:
        return [h for _, h in sorted(self.hooks.items()) if h["destination"] == destination]
