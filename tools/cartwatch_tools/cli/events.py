"""`cartwatch events replay`: republish archived events with their original ids.

    cartwatch events replay STORE_HASH --from T --to T [--type TYPE]… [--cart ID]
        (--to-queue QUEUE_URL | --to-topic) [--dry-run] [--rate N] [--resume FILE]

To the topic, every subscriber gets the events again with the message attributes of the
original publish (filter policies on ``type`` keep working), plus ``cartwatch_replay``; to
one queue, only that consumer — the way to backfill a new one.  Consumers drop what they
already have by id.  Times are ISO 8601 (``2026-12-07T03:00:00Z``) or epoch seconds, both
ends inclusive.  ``--rate`` bounds events per second (default 50) so a replay cannot flood
a consumer; ``--resume FILE`` records each finished archive object there and skips the
recorded ones, so an interrupted replay picks up where it stopped.

Not on the query API: a replay runs for minutes, API Gateway answers within 30 s, and
republishing is an operator's action rather than a consumer's read (docs/architecture.md).
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from cartwatch_tools.cli.errors import CliError
from cartwatch_tools.cli.target import add_target_arguments, resolve_target

DEFAULT_RATE = 50.0


def register(subparsers: Any) -> None:
    events = subparsers.add_parser(
        "events",
        help="replay archived events to the topic or to one queue",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = events.add_subparsers(dest="events_command", required=True, metavar="COMMAND")
    replay = commands.add_parser("replay", help="republish a store's archived events of a time range")
    add_target_arguments(replay, store_options=False)
    replay.add_argument("store_hash", metavar="STORE_HASH")
    replay.add_argument("--from", dest="start", required=True, type=_time, metavar="T")
    replay.add_argument("--to", dest="end", required=True, type=_time, metavar="T")
    replay.add_argument("--type", dest="types", action="append", default=[], help="repeat for several")
    replay.add_argument("--cart", dest="cart_id", help="only this cart's events")
    where = replay.add_mutually_exclusive_group()
    where.add_argument("--to-queue", metavar="QUEUE_URL", help="send to this SQS queue only")
    where.add_argument("--to-topic", action="store_true", help="publish to the topic (every subscriber)")
    replay.add_argument("--dry-run", action="store_true", help="count what would be sent; send nothing")
    replay.add_argument("--rate", type=float, default=DEFAULT_RATE, help="events per second (default 50)")
    replay.add_argument("--resume", type=Path, help="record finished objects here; skip those recorded")
    replay.set_defaults(run=_replay)


def _replay(args: argparse.Namespace) -> int:
    from cartwatch.adapters.event_archive import EventArchive
    from cartwatch.domain.event_types import EVENT_TYPES
    from cartwatch.service.replay import (
        Destination,
        QueueDestination,
        RateLimit,
        ReplayFailed,
        ReplayRange,
        ReplaySummary,
        TopicDestination,
        replay,
    )

    if args.end < args.start:
        raise CliError("--to is before --from")
    unknown = sorted(set(args.types) - set(EVENT_TYPES))
    if unknown:
        raise CliError(f"unknown event type {unknown[0]} (one of {', '.join(EVENT_TYPES)})")
    if not (args.dry_run or args.to_queue or args.to_topic):
        raise CliError("say where to: --to-queue QUEUE_URL or --to-topic (or --dry-run)")
    if args.rate <= 0:
        raise CliError("--rate must be positive")
    target = resolve_target(args)
    archive = EventArchive(target.client("s3"), target.required(target.archive_bucket, "event archive"))
    destination: Destination | None = None
    if not args.dry_run:
        destination = (
            QueueDestination(target.client("sqs"), args.to_queue)
            if args.to_queue
            else TopicDestination(target.client("sns"), target.required(target.topic_arn, "topic"))
        )
    done: set[str] = set()
    if args.resume and args.resume.exists():
        done = {line for line in args.resume.read_text(encoding="utf-8").splitlines() if line}

    def progress(key: str, summary: ReplaySummary) -> None:
        if args.resume:
            with args.resume.open("a", encoding="utf-8") as record:
                record.write(key + "\n")
        print(f"\r{summary.objects} objects, {summary.events} events", end="", file=sys.stderr, flush=True)

    wanted = ReplayRange(args.store_hash, args.start, args.end, frozenset(args.types), args.cart_id)
    try:
        summary = replay(
            archive, wanted, destination, rate=RateLimit(args.rate), done=done, on_object=progress
        )
    except ReplayFailed as error:
        raise CliError(f"{error}; fix it and run again with --resume to go on") from None
    print(file=sys.stderr)
    verb = "would replay" if args.dry_run else "replayed"
    counts = ", ".join(f"{t}: {n}" for t, n in sorted(summary.sent.items())) or "nothing"
    print(f"{verb} {summary.events} events ({counts}) from {summary.objects} archive objects")
    return 0


def _time(text: str) -> int:
    if text.isdigit():
        return int(text)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time: {text!r} (ISO 8601 or epoch seconds)") from None
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone (add Z for UTC)")
    return int(parsed.timestamp())
