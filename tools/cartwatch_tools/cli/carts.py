"""`cartwatch carts list|show|suppress|erase|erase-shopper|stats`: the query API from the command line.

Every request is signed with AWS SigV4 (service ``execute-api``): with ``--local`` against a
running `cartwatch local` (its info file's ``api_url`` and the local credentials), otherwise
against the deployed stack's ``ApiUrl`` with your AWS credentials — which need
``execute-api:Invoke`` on the routes (see docs/query-api.md).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from cartwatch_tools.cli.errors import CliError
from cartwatch_tools.cli.query_client import ApiCredentials, ApiResponse, QueryApiClient, QueryValue
from cartwatch_tools.cli.target import add_target_arguments, resolve_target

STATUSES = ("active", "abandoned", "recovered", "converted", "deleted", "expired")
_FILTERS = (
    "created_from",
    "created_to",
    "modified_from",
    "modified_to",
    "transitioned_from",
    "transitioned_to",
    "abandoned_from",
    "abandoned_to",
    "customer_id",
    "customer_email",
    "min_total",
    "max_total",
    "currency",
)


def register(subparsers: Any) -> None:
    carts = subparsers.add_parser(
        "carts",
        help="list carts, show one, suppress its reminders, erase it; store stats",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = carts.add_subparsers(dest="carts_command", required=True, metavar="COMMAND")
    target = argparse.ArgumentParser(add_help=False)
    add_target_arguments(target, store_options=False)
    target.add_argument("--json", action="store_true", help="print the API's JSON answer")

    listing = commands.add_parser(
        "list", parents=[target], help="list a store's carts, newest transition first (filters below)"
    )
    _store_argument(listing)
    listing.add_argument("--status", action="append", choices=STATUSES, help="repeat for several")
    for name in _FILTERS:
        listing.add_argument(f"--{name.replace('_', '-')}", dest=name, metavar=name.split("_")[-1].upper())
    listing.add_argument("--stage", action="append", type=int, help="stage reached; repeat for several")
    listing.add_argument("--skip-empty-email", action="store_true", help="only carts with a customer email")
    listing.add_argument("--suppressed", action=argparse.BooleanOptionalAction, default=None)
    listing.add_argument(
        "--fields", help="with --json: only these fields of each cart, comma-separated (cart_id always)"
    )
    listing.add_argument("--limit", type=int, default=50, help="carts per page (1-250, default 50)")
    listing.add_argument("--cursor", help="continue after a page (its next_cursor)")
    listing.add_argument("--all", action="store_true", help="follow next_cursor to the last page")
    listing.set_defaults(run=_list)

    for name, run, text in (
        ("show", _show, "one cart: its state, customer, items, lifecycle history and events"),
        ("suppress", _suppress, "stop the cart's abandonment reminders (no further stages)"),
        ("erase", _erase, "erase the cart and its personal data (GDPR); cannot be undone"),
    ):
        command = commands.add_parser(name, parents=[target], help=text, description=text)
        _store_argument(command)
        command.add_argument("cart_id", metavar="CART_ID")
        if name == "erase":
            command.add_argument("--yes", action="store_true", help="really erase it")
        command.set_defaults(run=run)

    text = "erase every cart of a shopper and their personal data (GDPR); cannot be undone"
    shopper = commands.add_parser("erase-shopper", parents=[target], help=text, description=text)
    _store_argument(shopper)
    shopper.add_argument("--email", required=True, help="the shopper's email (case-insensitive)")
    shopper.add_argument("--yes", action="store_true", help="really erase them")
    shopper.set_defaults(run=_erase_shopper)

    stats = commands.add_parser(
        "stats",
        parents=[target],
        help="per day: carts created, abandoned, recovered, converted; rates; revenue per currency",
    )
    _store_argument(stats)
    stats.add_argument(
        "--from",
        dest="start",
        help="a time in the first day (RFC 3339 or epoch seconds; default 30 days ago)",
    )
    stats.add_argument("--to", dest="end", help="a time in the last day (default now)")
    stats.set_defaults(run=_stats)


def _store_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store_hash", metavar="STORE_HASH")


# --- the commands ------------------------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    client = api_client(args)
    params: dict[str, QueryValue] = {name: getattr(args, name) for name in _FILTERS}
    params |= {
        "status": args.status,
        "stage": args.stage,
        "skip_empty_email": args.skip_empty_email or None,
        "suppressed": args.suppressed,
        "fields": args.fields,
        "limit": args.limit,
        "cursor": args.cursor,
    }
    if args.fields and not args.json:
        raise CliError("--fields selects fields of the JSON answer: add --json")
    while True:
        page = _ok(client.list_carts(args.store_hash, **params))
        if args.json:
            print(json.dumps(page))
        else:
            for cart in page["carts"]:
                print(_cart_line(cart))
        cursor = page.get("next_cursor")
        if not cursor or not args.all:
            if cursor and not args.json:
                print(f"more: --cursor {cursor}")
            return 0
        params["cursor"] = cursor


def _show(args: argparse.Namespace) -> int:
    cart = _ok(api_client(args).cart(args.store_hash, args.cart_id))
    if args.json:
        print(json.dumps(cart))
        return 0
    print(_cart_line(cart))
    customer = cart.get("customer") or {}
    if customer:
        name = " ".join(filter(None, (customer.get("first_name"), customer.get("last_name"))))
        print(f"  customer  {name or '-'} <{customer.get('email') or '-'}>")
    for item in cart.get("line_items") or []:
        print(f"  item      {item['quantity']} x {item['name']}  {item['extended_sale_price']}")
    print("  history")
    for entry in cart["history"]:
        print(f"    {entry['at']}  {entry['status']:<9} stage {entry['stage']}  {entry['cause']}")
    print("  events")
    for event in cart["events"]:
        print(f"    {event['time']}  {event['type']}  {event['id']}")
    return 0


def _suppress(args: argparse.Namespace) -> int:
    cart = _ok(api_client(args).suppress(args.store_hash, args.cart_id))
    print(json.dumps(cart) if args.json else f"cart {args.cart_id}: reminders suppressed ({cart['status']})")
    return 0


def _erase(args: argparse.Namespace) -> int:
    if not args.yes:
        raise CliError(f"erasing cart {args.cart_id} cannot be undone: add --yes")
    _ok(api_client(args).erase(args.store_hash, args.cart_id))
    print(f"cart {args.cart_id} erased")
    return 0


def _erase_shopper(args: argparse.Namespace) -> int:
    if not args.yes:
        raise CliError(f"erasing every cart of {args.email} cannot be undone: add --yes")
    erased = _ok(api_client(args).erase_shopper(args.store_hash, args.email))["erased"]
    if args.json:
        print(json.dumps({"erased": erased}))
    else:
        print(f"{len(erased)} cart(s) of {args.email} erased" + "".join(f"\n  {cart}" for cart in erased))
    return 0


_STATS_COLUMNS = ("created", "abandoned", "recovered", "converted")


def _stats(args: argparse.Namespace) -> int:
    stats = _ok(api_client(args).stats(args.store_hash, **{"from": args.start, "to": args.end}))
    if args.json:
        print(json.dumps(stats))
        return 0
    print(f"store {stats['store_hash']}  {stats['from'][:10]} .. {stats['to'][:10]} (UTC days)")
    print(_stats_row("", ("created", "abandoned", "recovered", "converted", "abandon%", "recover%")))
    for day in stats["days"]:
        if day["created"] or any(day[name]["count"] for name in _STATS_COLUMNS[1:]):
            print(_stats_row(day["day"], _figures(day)))
    total = stats["total"]
    print(_stats_row("total", _figures(total)))
    for name, label in (
        ("recovered", "recovered revenue"),
        ("abandoned", "abandoned value"),
        ("converted", "converted value"),
    ):
        figure = total[name]
        values = ", ".join(f"{v['amount']} {v['currency']}" for v in figure["value"]) or "-"
        unknown = f"  ({figure['without_value']} of unknown value)" if figure["without_value"] else ""
        print(f"{label:<18} {values}{unknown}")
    return 0


def _figures(period: dict[str, Any]) -> tuple[str, ...]:
    counts = (str(period["created"]), *(str(period[name]["count"]) for name in _STATS_COLUMNS[1:]))
    rates = (period["abandonment_rate"], period["recovery_rate"])
    return (*counts, *("-" if rate is None else f"{rate:.1%}" for rate in rates))


def _stats_row(label: str, cells: tuple[str, ...]) -> str:
    return f"{label:<10}" + "".join(f"{cell:>10}" for cell in cells)


# --- plumbing ------------------------------------------------------------------------------------


def api_client(args: argparse.Namespace) -> QueryApiClient:
    """A signing client for ``--local`` (the info file) or the deployed stack (its ``ApiUrl``)."""
    target = resolve_target(args)
    if not target.api_url:
        raise CliError(f"{target.description} has no API URL (output ApiUrl): is it a cartwatch stack?")
    if target.local:
        from cartwatch_tools.local.moto_server import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY

        credentials = ApiCredentials(LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY)
    else:
        credentials = _aws_credentials()
    return QueryApiClient(target.api_url, credentials, target.region or "us-east-1")


def _aws_credentials() -> ApiCredentials:
    import boto3

    found = boto3.Session().get_credentials()
    frozen = found.get_frozen_credentials() if found is not None else None
    if frozen is None or not frozen.access_key or not frozen.secret_key:
        raise CliError("no AWS credentials found to sign the request with (configure them, or use --local)")
    return ApiCredentials(frozen.access_key, frozen.secret_key, frozen.token)


def _ok(response: ApiResponse) -> Any:
    if response.ok:
        return response.body
    body = response.body if isinstance(response.body, dict) else {}
    message = body.get("error") or body.get("message") or f"HTTP {response.status}"
    fields = "; ".join(f"{f['field']}: {f['message']}" for f in body.get("fields") or [])
    hint = ""
    if response.status == 403:
        hint = " (are your AWS credentials allowed execute-api:Invoke on this store's routes?)"
    raise CliError(f"{message}{': ' + fields if fields else ''}{hint}")


def _cart_line(cart: dict[str, Any]) -> str:
    email = (cart.get("customer") or {}).get("email") or "-"
    total = f"{cart['total']} {cart['currency']}" if cart.get("total") is not None else "-"
    stage = f"stage {cart['stage_reached']}" if cart["stage_reached"] else "       "
    suppressed = "  suppressed" if cart["suppressed"] else ""
    columns = (cart["cart_id"], f"{cart['status']:<9}", stage, cart["modified_at"], email, total)
    return "  ".join(columns) + suppressed
