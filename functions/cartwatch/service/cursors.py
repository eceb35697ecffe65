"""Opaque, tamper-proof pagination cursors for the listing.

A cursor says where each status partition of a listing resumes.  It is bound to the store
and to the filter it was issued for, and authenticated with HMAC-SHA256 under a key only
the query API holds: a cursor that was altered, or replayed against another store or other
filters, is refused (400) instead of silently paging through something else.
"""

from __future__ import annotations

from dataclasses import dataclass

from cartwatch.domain.listing import Position
from cartwatch.service.sealed_tokens import MIN_KEY_BYTES, ForgedToken, MalformedToken, seal, unseal

_VERSION = 1


class InvalidCursor(ValueError):
    """The cursor was not issued by this API for this store and these filters."""


@dataclass(frozen=True)
class CursorState:
    """Per status partition: a position to resume after, or ``None`` (not started)."""

    positions: dict[str, Position | None]
    done: frozenset[str]
    # ``modified_at`` of the first page's newest cart: later pages list nothing newer, so a
    # cart that changes mid-listing (and moves up, or to another status) is not listed twice.
    watermark: int | None = None


class CursorCodec:
    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError("a cursor key needs at least 128 bits")
        self._key = key

    def issue(self, store_hash: str, fingerprint: str, state: CursorState) -> str:
        payload = {
            "v": _VERSION,
            "s": store_hash,
            "f": fingerprint,
            "p": {status: list(position) for status, position in state.positions.items() if position},
            "d": sorted(state.done),
            "w": state.watermark,
        }
        return seal(self._key, payload)

    def read(self, token: str, store_hash: str, fingerprint: str) -> CursorState:
        try:
            payload = unseal(self._key, token)
        except MalformedToken:
            raise InvalidCursor("cursor is malformed") from None
        except ForgedToken:
            raise InvalidCursor("cursor was not issued by this API (or was altered)") from None
        if payload.get("v") != _VERSION:
            raise InvalidCursor("cursor is from another version of this API")
        if payload.get("s") != store_hash:
            raise InvalidCursor("cursor belongs to another store")
        if payload.get("f") != fingerprint:
            raise InvalidCursor("cursor was issued for other filters; repeat the same filters or start over")
        positions: dict[str, Position | None] = {
            status: (int(position[0]), str(position[1])) for status, position in payload["p"].items()
        }
        watermark = payload.get("w")
        return CursorState(
            positions=positions,
            done=frozenset(payload["d"]),
            watermark=int(watermark) if watermark is not None else None,
        )
