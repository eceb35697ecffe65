"""`cartwatch dlq list|redrive`: what is waiting after an incident, and sending it back.

* ``intake`` — webhooks the processor gave up on (its queue's ``maxReceiveCount``).  Redriven
  to the intake queue, where the processor applies them once (duplicates are dropped by
  webhook id and version).  In AWS, without ``--max``, SQS's own ``StartMessageMoveTask``
  moves them; with ``--max``, and against `cartwatch local` (moto has no move tasks), each
  message is received, sent to the intake queue, then deleted — the same result.
* ``publisher-stream`` — stream batches the publisher's mapping gave up on.  They hold stream
  coordinates only: nothing to redrive, the events themselves wait in their carts' outbox
  slots and the publisher's scheduled run publishes them (listed for the count).
* ``publisher-parked`` — events the publisher parked (a refused token, a store without
  credentials, …), with their reasons.  Redriven into the live outbox, due now: the
  publisher's next scheduled run (every minute) publishes them.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from typing import Any

from cartwatch_tools.cli.errors import CliError
from cartwatch_tools.cli.target import add_target_arguments, resolve_target

QUEUE_NAMES = ("intake", "publisher-stream")
NAMES = (*QUEUE_NAMES, "publisher-parked")
_SAMPLE = 10


def register(subparsers: Any) -> None:
    dlq = subparsers.add_parser(
        "dlq",
        help="list dead-letter queues and parked events; redrive them after a fix",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = dlq.add_subparsers(dest="dlq_command", required=True, metavar="COMMAND")
    target = argparse.ArgumentParser(add_help=False)
    add_target_arguments(target, store_options=False)
    listing = commands.add_parser("list", parents=[target], help="each DLQ with its depth and oldest age")
    listing.set_defaults(run=_list)
    redrive = commands.add_parser("redrive", parents=[target], help="send a DLQ's messages back")
    redrive.add_argument("name", choices=("intake", "publisher-parked"))
    redrive.add_argument("--max", type=int, default=None, help="at most this many messages")
    redrive.set_defaults(run=_redrive)


def _list(args: argparse.Namespace) -> int:
    target = resolve_target(args)
    sqs = target.client("sqs")
    for name in QUEUE_NAMES:
        url = target.required(
            target.intake_dlq_url if name == "intake" else target.publisher_dlq_url,
            f"{name} dead-letter queue",
        )
        depth, oldest = _depth_and_age(sqs, url)
        age = f"{oldest}s" if oldest is not None else "-"
        print(f"{name:<18} {depth:>6} messages  oldest {age}")
    parked = _parked(target)
    reasons = Counter(record.unpublished.parked for record in parked if record.unpublished)
    summary = ", ".join(f"{reason}: {count}" for reason, count in sorted(reasons.items()))
    print(f"{'publisher-parked':<18} {len(parked):>6} events    {summary or '-'}")
    return 0


def _redrive(args: argparse.Namespace) -> int:
    if args.max is not None and args.max < 1:
        raise CliError("--max must be at least 1")
    target = resolve_target(args)
    if args.name == "publisher-parked":
        from cartwatch.domain.write_planner import WritePlanner
        from cartwatch.service.publishing import redrive_parked

        planner = WritePlanner(due_shards=1, closed_retention_days=1)
        moved = redrive_parked(_carts(target), planner, int(time.time()), args.max)
        print(f"publisher-parked: {moved} events back in the outbox; the publisher's next run publishes them")
        return 0
    sqs = target.client("sqs")
    source = target.required(target.intake_dlq_url, "intake dead-letter queue")
    destination = target.required(target.intake_queue_url, "intake queue")
    if args.max is None and not target.local:
        arn = sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        task = sqs.start_message_move_task(SourceArn=arn)  # back to the queue that dead-lettered them
        print(f"intake: move task {task['TaskHandle'][:12]}… started; `cartwatch dlq list` shows the depth")
        return 0
    moved = _move(sqs, source, destination, args.max)
    print(f"intake: {moved} messages moved back to the intake queue")
    return 0


def _move(sqs: Any, source: str, destination: str, limit: int | None) -> int:
    moved = 0
    while limit is None or moved < limit:
        batch = sqs.receive_message(
            QueueUrl=source,
            MaxNumberOfMessages=min(10, limit - moved) if limit is not None else 10,
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not batch:
            break
        for message in batch:
            send: dict[str, Any] = {"QueueUrl": destination, "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                send["MessageAttributes"] = message["MessageAttributes"]
            sqs.send_message(**send)
            # Deleted only once it is in the intake queue: a crash in between duplicates, never loses.
            sqs.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return moved


def _depth_and_age(sqs: Any, url: str) -> tuple[int, int | None]:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    depth = int(attributes["Attributes"]["ApproximateNumberOfMessages"])
    if depth == 0:
        return 0, None
    # The oldest of a sample, looked at without taking it (visibility 0).
    sample = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=_SAMPLE, AttributeNames=["SentTimestamp"], VisibilityTimeout=0
    ).get("Messages", [])
    sent = [int(m["Attributes"]["SentTimestamp"]) for m in sample]
    return depth, (int(time.time() - min(sent) / 1000) if sent else None)


def _parked(target: Any) -> list[Any]:
    from cartwatch.service.publishing import parked_events

    return parked_events(_carts(target))


def _carts(target: Any) -> Any:
    from cartwatch.adapters.cart_table.store import DynamoCartStore

    return DynamoCartStore(target.client("dynamodb"), target.table_name)
