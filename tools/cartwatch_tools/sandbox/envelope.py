"""The v3 response envelope ``{"data": ..., "meta": {...}}``, pagination and list filters.

Shared by every collection endpoint so page/limit and ``attr:in=a,b`` behave the same everywhere
(docs/start/about/common-query-params.mdx).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from cartwatch_tools.sandbox.errors import ApiError

DEFAULT_LIMIT = 50
MAX_LIMIT = 250


def envelope(data: Any, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"data": data, "meta": meta if meta is not None else {}}


def _positive_int(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ApiError(400, f"The query parameter '{name}' must be a positive integer.")
    return value


def paginate[T](items: Sequence[T], query: Mapping[str, str]) -> tuple[list[T], dict[str, Any]]:
    """One page of ``items`` and its ``meta.pagination`` (links are query strings, as BigCommerce's are)."""
    page = _positive_int(query, "page", 1)
    limit = min(_positive_int(query, "limit", DEFAULT_LIMIT), MAX_LIMIT)
    total = len(items)
    total_pages = max(1, math.ceil(total / limit))
    chunk = list(items[(page - 1) * limit : page * limit])
    links = {"current": f"?page={page}&limit={limit}"}
    if page > 1:
        links["previous"] = f"?page={page - 1}&limit={limit}"
    if page < total_pages:
        links["next"] = f"?page={page + 1}&limit={limit}"
    pagination = {
        "total": total,
        "count": len(chunk),
        "per_page": limit,
        "current_page": page,
        "total_pages": total_pages,
        "links": links,
    }
    return chunk, {"pagination": pagination}


def list_filter(query: Mapping[str, str], name: str) -> list[str] | None:
    """``name:in=a,b`` -> ``["a", "b"]``; ``None`` when the filter is absent."""
    raw = query.get(name)
    if raw is None:
        return None
    return [part.strip() for part in raw.split(",") if part.strip()]


def int_list_filter(query: Mapping[str, str], name: str) -> set[int] | None:
    values = list_filter(query, name)
    if values is None:
        return None
    try:
        return {int(v) for v in values}
    except ValueError as exc:
        raise ApiError(400, f"The filter '{name}' takes comma-separated integers.") from exc


def bool_filter(query: Mapping[str, str], name: str) -> bool | None:
    raw = query.get(name)
    if raw is None:
        return None
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise ApiError(400, f"The query parameter '{name}' must be true or false.")
