"""Webhook subscriptions (webhooks.v3.yml): the ``/v3/hooks`` rules and which hooks an event reaches.

Hooks belong to the API account (client id) that created them and are invisible to others.
BigCommerce's platform limits apply: one hook per store + client + scope + destination, at most
ten per store + client + scope.  Destinations must be HTTPS on port 443 unless the sandbox
allows plain HTTP (``cartwatch local`` receives on http://127.0.0.1).

The delivery worker reads and deactivates hooks from its own thread, hence the lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

from cartwatch_tools.sandbox.errors import ApiError, not_found, unprocessable

MAX_HOOKS_PER_SCOPE = 10
INVALID = "JSON data is missing or invalid"


class HookStatus(Enum):
    ACTIVE = "active"
    INACTIVE = "inactive"  # switched off through the API
    DEACTIVATED = "deactivated"  # switched off by BigCommerce after deliveries kept failing


@dataclass(frozen=True)
class Hook:
    id: int
    client_id: str
    store_hash: str
    scope: str
    destination: str
    # Custom headers often carry a shared secret: keep them out of reprs (and so out of logs).
    headers: Mapping[str, str] | None = field(repr=False)
    is_active: bool
    created_at: int
    updated_at: int
    deactivated: bool = False

    @property
    def status(self) -> HookStatus:
        if self.is_active:
            return HookStatus.ACTIVE
        return HookStatus.DEACTIVATED if self.deactivated else HookStatus.INACTIVE

    def matches(self, event_scope: str) -> bool:
        """Exact scope, or a wildcard: ``store/cart/*`` covers ``store/cart/lineItem/created`` too."""
        if self.scope.endswith("/*"):
            return event_scope.startswith(self.scope[:-1])
        return self.scope == event_scope

    def as_json(self, *, with_status: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "client_id": self.client_id,
            "store_hash": self.store_hash,
            "scope": self.scope,
            "destination": self.destination,
            "headers": dict(self.headers) if self.headers is not None else None,
            "is_active": self.is_active,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
        if with_status:
            body["status"] = self.status.value
        return body


def _scope(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("store/") or "//" in value or value.endswith("/"):
        raise unprocessable(INVALID, scope="must be a webhook scope such as store/cart/created")
    return value


def _headers(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise unprocessable(INVALID, headers="must be an object of string values")
    return dict(value)


def _is_active(value: Any) -> bool:
    if not isinstance(value, bool):
        raise unprocessable(INVALID, is_active="must be a boolean")
    return value


class HookRegistry:
    def __init__(
        self, store_hash: str, *, allow_http: bool = False, clock: Callable[[], float] = time.time
    ) -> None:
        self._store_hash = store_hash
        self._allow_http = allow_http
        self._clock = clock
        self._lock = threading.Lock()
        self._hooks: dict[int, Hook] = {}
        self._emails: dict[str, list[str]] = {}
        self._next_id = 25_000_001  # BigCommerce hook ids are large integers

    def _now(self) -> int:
        return int(self._clock())

    def _destination(self, value: Any) -> str:
        if not isinstance(value, str):
            raise unprocessable(INVALID, destination="error.path.missing.")
        parts = urlsplit(value)
        if self._allow_http and parts.scheme in ("http", "https") and parts.hostname:
            return value
        if parts.scheme != "https" or not parts.hostname or parts.port not in (None, 443):
            raise unprocessable(INVALID, destination="must be an https URL on port 443")
        return value

    def _check_limits(self, client_id: str, scope: str, destination: str, ignore: int | None = None) -> None:
        same_scope = [
            h
            for h in self._hooks.values()
            if h.client_id == client_id and h.scope == scope and h.id != ignore
        ]
        if any(h.destination == destination for h in same_scope):
            raise unprocessable(
                "Only one webhook is allowed per store, client, scope and destination.",
                destination="duplicate",
            )
        if len(same_scope) >= MAX_HOOKS_PER_SCOPE:
            raise unprocessable(
                f"At most {MAX_HOOKS_PER_SCOPE} webhooks are allowed per store, client and scope.",
                scope="limit",
            )

    def create(self, client_id: str, body: Mapping[str, Any]) -> Hook:
        scope = _scope(body.get("scope"))
        destination = self._destination(body.get("destination"))
        is_active = _is_active(body.get("is_active", True))
        headers = _headers(body.get("headers"))
        with self._lock:
            self._check_limits(client_id, scope, destination)
            now = self._now()
            hook = Hook(
                self._next_id, client_id, self._store_hash, scope, destination, headers, is_active, now, now
            )
            self._hooks[hook.id] = hook
            self._next_id += 1
            return hook

    def _owned(self, client_id: str, hook_id: int) -> Hook:
        hook = self._hooks.get(hook_id)
        if hook is None or hook.client_id != client_id:
            raise not_found(f"Webhook with id [{hook_id}] not found")
        return hook

    def get(self, client_id: str, hook_id: int) -> Hook:
        with self._lock:
            return self._owned(client_id, hook_id)

    def update(self, client_id: str, hook_id: int, body: Mapping[str, Any]) -> Hook:
        fields = {k: body[k] for k in ("scope", "destination", "is_active", "headers") if k in body}
        if not fields:
            raise ApiError(400, "At least one of scope, destination, is_active or headers is required.")
        with self._lock:
            hook = self._owned(client_id, hook_id)
            scope = _scope(fields["scope"]) if "scope" in fields else hook.scope
            destination = (
                self._destination(fields["destination"]) if "destination" in fields else hook.destination
            )
            is_active = _is_active(fields["is_active"]) if "is_active" in fields else hook.is_active
            headers = _headers(fields["headers"]) if "headers" in fields else hook.headers
            if (scope, destination) != (hook.scope, hook.destination):
                self._check_limits(client_id, scope, destination, ignore=hook_id)
            updated = replace(
                hook,
                scope=scope,
                destination=destination,
                is_active=is_active,
                headers=headers,
                updated_at=self._now(),
                # Re-activating through the API clears BigCommerce's deactivation (overview.mdx).
                deactivated=hook.deactivated and not is_active,
            )
            self._hooks[hook_id] = updated
            return updated

    def delete(self, client_id: str, hook_id: int) -> Hook:
        with self._lock:
            hook = self._owned(client_id, hook_id)
            del self._hooks[hook_id]
            return hook

    def delete_all(self, client_id: str) -> int:
        """Every hook of one client gone at once (BigCommerce, when an app is uninstalled)."""
        with self._lock:
            doomed = [hook_id for hook_id, hook in self._hooks.items() if hook.client_id == client_id]
            for hook_id in doomed:
                del self._hooks[hook_id]
            return len(doomed)

    def find(
        self,
        client_id: str,
        *,
        scope: str | None = None,
        is_active: bool | None = None,
        destination: str | None = None,
    ) -> list[Hook]:
        with self._lock:
            return [
                h
                for h in sorted(self._hooks.values(), key=lambda h: h.id)
                if h.client_id == client_id
                and (scope is None or h.scope == scope)
                and (is_active is None or h.is_active == is_active)
                and (destination is None or h.destination == destination)
            ]

    def matching(self, event_scope: str) -> list[Hook]:
        """Active hooks of every client that an event of ``event_scope`` is delivered to."""
        with self._lock:
            return [
                h
                for h in sorted(self._hooks.values(), key=lambda h: h.id)
                if h.is_active and h.matches(event_scope)
            ]

    def is_active(self, hook_id: int) -> bool:
        with self._lock:
            hook = self._hooks.get(hook_id)
            return hook is not None and hook.is_active

    def deactivate(self, hook_id: int) -> None:
        """What BigCommerce does once a hook's retries are exhausted (about 48 h of failures)."""
        with self._lock:
            hook = self._hooks.get(hook_id)
            if hook is not None:
                self._hooks[hook_id] = replace(
                    hook, is_active=False, deactivated=True, updated_at=self._now()
                )

    def admin(self, client_id: str, is_active: bool | None = None) -> dict[str, Any]:
        hooks = self.find(client_id, is_active=is_active)
        with self._lock:
            emails = list(self._emails.get(client_id, []))
        return {
            "emails": emails,
            "hooks_list": [h.as_json(with_status=True) for h in hooks],
            # The sandbox does not blocklist destinations (BigCommerce's 90 %-in-2-minutes rule).
            "blocked_domains": [],
        }

    def set_emails(self, client_id: str, body: Mapping[str, Any]) -> None:
        emails = body.get("emails")
        if not isinstance(emails, list) or not all(isinstance(e, str) and "@" in e for e in emails):
            raise unprocessable(INVALID, emails="must be a list of email addresses")
        with self._lock:
            self._emails[client_id] = list(emails)
