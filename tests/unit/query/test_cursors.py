"""Pagination cursors: opaque, bound to their store and filters, and tamper-proof."""

from __future__ import annotations

import base64

import pytest

from cartwatch.service.cursors import CursorCodec, CursorState, InvalidCursor

CODEC = CursorCodec(b"k" * 32)
STATE = CursorState(
    positions={"abandoned": (1_700_000_000, "cart-9")}, done=frozenset({"active"}), watermark=17
)


def test_a_cursor_reads_back_what_it_was_issued_with() -> None:
    token = CODEC.issue("store1", "f1", STATE)
    assert CODEC.read(token, "store1", "f1") == STATE
    assert "cart-9" not in token.split(".")[1]


@pytest.mark.parametrize(
    ("token_for", "store", "fingerprint"),
    [
        (lambda t: t, "store2", "f1"),  # another store
        (lambda t: t, "store1", "f2"),  # other filters
        (lambda t: t[:-2] + ("A" if t[-2] != "A" else "B") + t[-1], "store1", "f1"),  # altered MAC
        (lambda t: "e30." + t.split(".")[1], "store1", "f1"),  # another body
        (lambda t: t.split(".")[0], "store1", "f1"),  # no MAC
        (lambda t: "%%%.@@@", "store1", "f1"),  # not base64
    ],
)
def test_a_foreign_altered_or_refiltered_cursor_is_refused(token_for, store, fingerprint) -> None:  # type: ignore[no-untyped-def]
    token = token_for(CODEC.issue("store1", "f1", STATE))
    with pytest.raises(InvalidCursor):
        CODEC.read(token, store, fingerprint)


def test_a_cursor_from_another_key_is_refused() -> None:
    token = CursorCodec(b"x" * 32).issue("store1", "f1", STATE)
    with pytest.raises(InvalidCursor):
        CODEC.read(token, "store1", "f1")


def test_a_bit_flipped_body_is_refused() -> None:
    body, _, mac = CODEC.issue("store1", "f1", STATE).partition(".")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[5] ^= 0x01
    flipped = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(InvalidCursor):
        CODEC.read(f"{flipped}.{mac}", "store1", "f1")


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="128 bits"):
        CursorCodec(b"short")
