"""Placeholders for attribute names and values, as every DynamoDB expression needs them.

An update, its condition and a query's key and filter conditions all name attributes
through ``#n…`` and values through ``:v…``; one request's expressions share one set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Placeholders:
    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)

    def name(self, attribute: str) -> str:
        for placeholder, named in self.names.items():
            if named == attribute:
                return placeholder
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: dict[str, Any]) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = value
        return placeholder
