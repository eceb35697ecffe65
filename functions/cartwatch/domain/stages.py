"""Abandonment stage schedules: "1h,24h,48h" and friends."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")

# BigCommerce's Abandoned Cart Saver sends its three reminders 1 hour, 1 day and 2 days
# after a cart goes quiet; merchants already think in that rhythm.
DEFAULT_STAGES = "1h,24h,48h"

# Carts expire in BigCommerce 30 days after their last modification.
CART_LIFETIME_SECONDS = 30 * 86400


def parse_duration(text: str) -> int:
    """``"90s"``, ``"15m"``, ``"1h"``, ``"2d"`` -> seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like 30s, 15m, 1h or 2d")
    return int(match.group(1)) * _UNITS[match.group(2)]


def format_duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True)
class StageSchedule:
    """Idle times, measured from a cart's last activity, at which each stage falls due."""

    delays: tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.delays:
            raise ValueError("at least one stage is required")
        if len(self.delays) > 10:
            raise ValueError("at most 10 stages are supported")
        if any(d <= 0 for d in self.delays):
            raise ValueError("stage delays must be positive")
        if any(b <= a for a, b in zip(self.delays, self.delays[1:], strict=False)):
            raise ValueError("stage delays must increase, e.g. 1h,24h,48h")
        if self.delays[-1] >= CART_LIFETIME_SECONDS:
            raise ValueError("the last stage must fall before BigCommerce expires the cart (30 days)")

    @classmethod
    def parse(cls, text: str) -> StageSchedule:
        parts = [p for p in text.split(",") if p.strip()]
        return cls(tuple(parse_duration(p) for p in parts))

    @property
    def count(self) -> int:
        return len(self.delays)

    def delay(self, stage: int) -> int:
        """Idle seconds after which ``stage`` (1-based) falls due."""
        return self.delays[stage - 1]

    def __str__(self) -> str:
        return ",".join(format_duration(d) for d in self.delays)


@dataclass(frozen=True)
class ChannelStages:
    """One channel's own stages (``2:30m,6h``): a BigCommerce storefront with an audience of its own.

    A multi-storefront store runs each storefront as a channel; carts of a channel with its
    own stages follow them, every other cart the store's stages.
    """

    channel_id: int
    stages: StageSchedule

    def __post_init__(self) -> None:
        if isinstance(self.channel_id, bool) or self.channel_id <= 0:
            raise ValueError(f"channel {self.channel_id!r}: a channel id is a positive whole number")

    @classmethod
    def parse(cls, text: str) -> ChannelStages:
        """``CHANNEL:STAGES``, e.g. ``2:30m,6h``; ValueError says what is wrong."""
        channel, colon, stages = text.partition(":")
        if not colon or not channel.strip() or not stages.strip():
            raise ValueError(f"{text!r} is not CHANNEL:STAGES, e.g. 2:30m,6h")
        if not channel.strip().isdecimal() or int(channel) <= 0:
            raise ValueError(f"{channel.strip()!r} is not a channel id (a positive whole number) in {text!r}")
        try:
            return cls(int(channel), StageSchedule.parse(stages))
        except ValueError as error:
            raise ValueError(f"channel {int(channel)}: {error}") from None

    def __str__(self) -> str:
        return f"{self.channel_id}:{self.stages}"


def by_channel(schedules: Iterable[ChannelStages]) -> tuple[ChannelStages, ...]:
    """Channel schedules in channel order; a channel given twice is refused (ValueError)."""
    ordered = sorted(schedules, key=lambda schedule: schedule.channel_id)
    for first, second in pairwise(ordered):
        if first.channel_id == second.channel_id:
            raise ValueError(f"channel {first.channel_id} is given more than one schedule")
    return tuple(ordered)
