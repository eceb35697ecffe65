"""Replay: archived events republished with their original ids, to the topic or to one queue.

Reads the archive's objects of a store's time range (``EventArchive.keys`` — a contiguous key
range, so reads are proportional to what the range holds), keeps the events that match the
filters, and sends them on at a bounded rate.  Consumers drop what they already have by id.

Resumable: objects are replayed whole and in key order, and every finished object's key is
reported (``on_object``), so an interrupted replay given those keys (``done``) goes on after
the last finished object — at most that object's events are sent twice, with their ids.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cartwatch.adapters.event_archive import ArchivedEvent, EventArchive
from cartwatch.resources import REPLAY_ATTRIBUTE


class Destination(Protocol):
    def send(self, events: Sequence[ArchivedEvent]) -> int:
        """Send the events; how many were accepted (the rest raise or are reported)."""
        ...


@dataclass(frozen=True)
class ReplayRange:
    store_hash: str
    start: int  # epoch seconds, inclusive
    end: int  # epoch seconds, inclusive
    types: frozenset[str] = frozenset()  # empty: every type
    cart_id: str | None = None

    def admits(self, event: ArchivedEvent) -> bool:
        return (
            event.store_hash == self.store_hash
            and self.start <= event.time <= self.end
            and (not self.types or event.type in self.types)
            and (self.cart_id is None or event.subject == self.cart_id)
        )


@dataclass
class ReplaySummary:
    objects: int = 0
    sent: Counter[str] = field(default_factory=Counter)  # type → events (or matched, in a dry run)
    reads: int = 0

    @property
    def events(self) -> int:
        return sum(self.sent.values())


class RateLimit:
    """At most ``per_second`` events a second, on average (sleeps between chunks)."""

    def __init__(
        self,
        per_second: float,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_second <= 0:
            raise ValueError("the rate must be positive")
        self._interval = 1.0 / per_second
        self._sleep = sleep
        self._clock = clock
        self._next = clock()

    def take(self, count: int) -> None:
        now = self._clock()
        if self._next > now:
            self._sleep(self._next - now)
        self._next = max(self._next, now) + count * self._interval


def replay(
    archive: EventArchive,
    wanted: ReplayRange,
    destination: Destination | None,
    *,
    rate: RateLimit | None = None,
    done: Collection[str] = (),
    on_object: Callable[[str, ReplaySummary], None] | None = None,
    chunk: int = 10,
) -> ReplaySummary:
    """Replay the range; ``destination`` None is a dry run (count what would be sent)."""
    summary = ReplaySummary()
    reads_before = archive.reads
    for key in archive.keys(wanted.store_hash, wanted.start, wanted.end):
        if key in done:
            continue
        events = [e for e in archive.events(key) if wanted.admits(e)]
        for start in range(0, len(events), chunk):
            part = events[start : start + chunk]
            if destination is not None:
                if rate is not None:
                    rate.take(len(part))
                destination.send(part)
            summary.sent.update(e.type for e in part)
        summary.objects += 1
        summary.reads = archive.reads - reads_before
        if on_object is not None:
            on_object(key, summary)
    summary.reads = archive.reads - reads_before
    return summary


class ReplayFailed(RuntimeError):
    """The destination refused events; the replay stops (resume it after the fix)."""


class QueueDestination:
    """One SQS queue: the event's JSON as the body, as a raw-delivery subscription would get it."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._url = queue_url

    def send(self, events: Sequence[ArchivedEvent]) -> int:
        entries = [{"Id": str(n), "MessageBody": e.body} for n, e in enumerate(events)]
        response = self._sqs.send_message_batch(QueueUrl=self._url, Entries=entries)
        if response.get("Failed"):
            raise ReplayFailed(f"the queue refused {len(response['Failed'])} events")
        return len(entries)


class TopicDestination:
    """The topic: every subscriber, with the message attributes of the original publish.

    One attribute more, ``cartwatch_replay``, which the archive's own subscription filters
    out (a replayed event is archived already)."""

    def __init__(self, sns: Any, topic_arn: str) -> None:
        from cartwatch.adapters.event_publisher import SnsEventPublisher

        self._publisher = SnsEventPublisher(sns, topic_arn)

    def send(self, events: Sequence[ArchivedEvent]) -> int:
        from cartwatch.adapters.event_publisher import OutgoingMessage
        from cartwatch.domain.cart_cloud_events import sns_attributes
        from cartwatch.domain.cloud_events import parse_event

        messages = [
            OutgoingMessage(
                body=e.body,
                attributes={
                    **sns_attributes(parse_event(e.body)),
                    REPLAY_ATTRIBUTE: {"DataType": "String", "StringValue": "true"},
                },
            )
            for e in events
        ]
        failures = self._publisher.publish(messages)
        if failures:
            raise ReplayFailed(f"SNS refused {len(failures)} events ({failures[0].code})")
        return len(messages)
