"""`cartwatch simulate`: shoppers against a running `cartwatch local`, then a tally.

Prints a progress bar while events arrive and, at the end, expected vs received events
per type.  Exits 0 when every cart got exactly the events its shopper's story implies.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

import requests

from cartwatch.domain.event_types import EVENT_TYPES
from cartwatch_tools.cli.errors import CliError
from cartwatch_tools.cli.info_file import DEFAULT_INFO_FILE, LocalInfo
from cartwatch_tools.cli.simulation import (
    STOREFRONT_CHANNEL,
    EventInbox,
    SimulationResult,
    Storefront,
    plan,
    simulate,
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "simulate", help="run shoppers against `cartwatch local` and tally the events", description=__doc__
    )
    parser.add_argument("store_hash", nargs="?", help="store to shop at (default: the only store)")
    parser.add_argument("--carts", type=int, default=10, help="number of shoppers (default 10)")
    parser.add_argument("--seed", type=int, default=1, help="seed for the shopper mix")
    parser.add_argument(
        "--duplicates", type=float, default=None, help="share of webhooks the sandbox sends twice"
    )
    parser.add_argument(
        "--reorder", action="store_true", help="have the sandbox deliver webhooks out of order"
    )
    parser.add_argument("--timeout", type=float, default=None, help="seconds to wait for events")
    parser.add_argument("--info-file", type=Path, default=DEFAULT_INFO_FILE)
    parser.add_argument("--report-file", type=Path, help="write per-cart expected/received events as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.carts < 1:
        raise CliError("--carts must be at least 1")
    info = LocalInfo.read(args.info_file)
    target = LocalStore.find(info, args.store_hash)
    if args.duplicates is not None or args.reorder:
        if not info.sandbox:
            raise CliError("--duplicates/--reorder need the built-in sandbox")
        _configure_sandbox(info, args.duplicates, args.reorder)
    result = run_simulation(info, target, carts=args.carts, seed=args.seed, timeout=args.timeout)
    if args.report_file:
        args.report_file.write_text(json.dumps(result.to_json(), indent=2) + "\n")
    return 0 if result.ok else 1


class LocalStore:
    """A store registered in a running `cartwatch local`: its hash, token and stage count."""

    def __init__(self, store_hash: str, access_token: str, stage_count: int, stage_seconds: int) -> None:
        self.store_hash = store_hash
        self.access_token = access_token
        self.stage_count = stage_count
        self.stage_seconds = stage_seconds

    @classmethod
    def find(cls, info: LocalInfo, store_hash: str | None) -> LocalStore:
        from cartwatch.domain.stages import StageSchedule

        session = info.session()
        dynamodb = session.client("dynamodb", endpoint_url=info.aws_endpoint_url)
        try:
            items = dynamodb.query(
                TableName=info.table_name,
                KeyConditionExpression="pk = :store",
                ExpressionAttributeValues={":store": {"S": "STORE"}},
            )["Items"]
        except Exception as error:  # noqa: BLE001 — any failure here means "not running"
            raise CliError(
                f"cannot reach cartwatch local at {info.aws_endpoint_url} ({type(error).__name__})"
            ) from None
        stores = {item["sk"]["S"]: item for item in items}
        if store_hash is None:
            if len(stores) != 1:
                names = ", ".join(sorted(stores)) or "none"
                raise CliError(f"name the store to shop at (stores: {names})")
            store_hash = next(iter(stores))
        if store_hash not in stores:
            raise CliError(
                f"unknown store {store_hash!r}; add it with `cartwatch stores add {store_hash} --local …`"
            )
        ssm = session.client("ssm", endpoint_url=info.aws_endpoint_url)
        parameter = ssm.get_parameter(Name=f"{info.ssm_prefix}/stores/{store_hash}/api", WithDecryption=True)
        token = json.loads(parameter["Parameter"]["Value"])["access_token"]
        from cartwatch.adapters.store_registry import store_from_item

        settings = store_from_item(stores[store_hash], StageSchedule.parse(info.default_stages))
        # The simulated shoppers fill carts on the default storefront, channel 1.
        stages = settings.stages_for(STOREFRONT_CHANNEL)
        return cls(store_hash, token, stages.count, stages.delays[-1])


def _configure_sandbox(info: LocalInfo, duplicates: float | None, reorder: bool) -> None:
    settings: dict[str, Any] = {"reorder": reorder}
    if duplicates is not None:
        settings["duplicate_rate"] = duplicates
    response = requests.put(f"{info.bigcommerce_api_url}/_sandbox/delivery", json=settings, timeout=5)
    if response.status_code != 200:
        raise CliError(f"the sandbox refused the delivery settings: {response.text[:200]}")


def run_simulation(
    info: LocalInfo,
    store: LocalStore,
    *,
    carts: int,
    seed: int,
    timeout: float | None,
    show_progress: bool = True,
) -> SimulationResult:
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    console = Console()
    inbox = EventInbox(info.session(), info.aws_endpoint_url, info.topic_arn)
    rng = random.Random(seed)  # noqa: S311 — a reproducible shopper mix, not a secret
    storefront = Storefront(info.bigcommerce_api_url, store.store_hash, store.access_token, rng)
    shoppers = plan(carts, seed)
    # Long enough for the last stage to fall due and be swept, with room for slow machines.
    deadline = timeout if timeout is not None else store.stage_seconds * 1.5 + 30
    try:
        with Progress(console=console, transient=True, disable=not show_progress) as progress:
            task = progress.add_task(f"{carts} shoppers at {store.store_hash}: events", total=None)

            def advance(received: int, expected: int) -> None:
                progress.update(task, completed=received, total=expected)

            result = simulate(
                storefront,
                inbox,
                shoppers,
                stage_count=store.stage_count,
                deadline_seconds=deadline,
                on_progress=advance,
            )
    finally:
        inbox.close()
    table = Table(title=f"cartwatch simulate — {carts} shoppers, store {store.store_hash}")
    table.add_column("event type")
    table.add_column("expected", justify="right")
    table.add_column("received", justify="right")
    expected, received = result.expected_totals(), result.received_totals()
    for event_type in EVENT_TYPES:
        table.add_row(event_type, str(expected[event_type]), str(received[event_type]))
    console.print(table)
    for problem in result.mismatches():
        console.print(f"[red]mismatch[/red] {problem}")
    console.print(
        "[green]all events as expected[/green]" if result.ok else "[red]events differ from expected[/red]"
    )
    return result
