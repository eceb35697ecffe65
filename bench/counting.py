"""Count the AWS API calls a client makes (botocore's before-call hook)."""

from __future__ import annotations

from collections import Counter
from typing import Any


class CallCounter:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def attach(self, client: Any) -> Any:
        service = client.meta.service_model.service_name

        def count(model: Any, **_: Any) -> None:
            self.calls[f"{service}.{model.name}"] += 1

        client.meta.events.register("before-call", count)
        return client

    @property
    def total(self) -> int:
        return sum(self.calls.values())
