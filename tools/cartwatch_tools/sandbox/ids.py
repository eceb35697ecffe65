"""Identifiers the sandbox hands out: cart and line-item UUIDs, tokens, webhook message ids.

Seeded, so a run with the same seed and the same actions produces the same ids (and the same
webhook bodies); unseeded, they come from the operating system like real ones.
"""

from __future__ import annotations

import random
import string
import uuid

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


class IdFactory:
    def __init__(self, seed: int | str | None = None) -> None:
        # Not for secrecy: these ids only need to be unique, and reproducible when seeded.
        self._rng = random.Random(seed) if seed is not None else random.SystemRandom()  # noqa: S311

    def uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def hex(self, length: int) -> str:
        return f"{self._rng.getrandbits(length * 4):0{length}x}"

    def message_id(self) -> str:
        """A Standard Webhooks message id, ``msg_`` + 27 base62 characters like the spec's examples."""
        return "msg_" + "".join(self._rng.choice(_BASE62) for _ in range(27))
