"""Every boto3 client a function uses, made in one place.

One session and one client per service for each function, the functions' timeouts and
retries, and — the hook for counting or attributing a function's AWS calls — extra
botocore event handlers registered on every client (``event_handlers``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

# (botocore event name, handler), e.g. ("before-call.dynamodb", count): registered on every client.
EventHandler = tuple[str, Callable[..., Any]]


class AwsClients:
    """The boto3 clients of one function: one session, one client per service, the functions' config."""

    def __init__(
        self,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        event_handlers: Sequence[EventHandler] = (),
        max_pool_connections: int = 10,
    ) -> None:
        """``max_pool_connections``: botocore's default suits a Lambda function, which serves
        one request at a time; ``cartwatch local`` serves deliveries on many threads."""
        self.endpoint_url = endpoint_url
        self.region = region
        self.event_handlers = tuple(event_handlers)
        self.max_pool_connections = max_pool_connections
        self._session: Any = None
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                import boto3
                from botocore.config import Config

                # Tight timeouts and standard retries (3 attempts, with backoff): a function
                # should fail fast and let its event source retry rather than sit in a socket
                # until its own timeout.
                config = Config(
                    connect_timeout=2,
                    read_timeout=5,
                    retries={"mode": "standard", "max_attempts": 3},
                    max_pool_connections=self.max_pool_connections,
                )
                if self._session is None:
                    self._session = boto3.session.Session(region_name=self.region)
                client = self._session.client(service, endpoint_url=self.endpoint_url, config=config)
                for event, handler in self.event_handlers:
                    client.meta.events.register(event, handler)
                self._clients[service] = client
            return self._clients[service]
