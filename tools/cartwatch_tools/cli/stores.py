"""`cartwatch stores add|update|list|show|remove|verify|rotate-token`: the stores cartwatch serves."""

from __future__ import annotations

import argparse
from decimal import Decimal
from typing import Any

from cartwatch.domain.cart_webhooks import HOOK_SCOPES
from cartwatch.domain.eligibility import parse_min_value
from cartwatch.domain.shopper import ReminderScope
from cartwatch.domain.stages import ChannelStages, StageSchedule
from cartwatch.domain.store import ROTATION_GRACE_SECONDS, StoreStatus, is_store_hash
from cartwatch_tools.cli.errors import CliError, UsageError
from cartwatch_tools.cli.secret_input import ACCESS_TOKEN, CLIENT_SECRET, add_secret_argument, read_secret
from cartwatch_tools.cli.store_admin import (
    ChannelStagesChange,
    NewStore,
    RulesChange,
    SettingsUpdate,
    StoreAdmin,
)
from cartwatch_tools.cli.store_views import (
    channel_stages_text,
    details_lines,
    health_lines,
    hook_lines,
    store_table,
)
from cartwatch_tools.cli.target import add_target_arguments, resolve_target


def register(subparsers: Any) -> None:
    stores = subparsers.add_parser(
        "stores",
        help="add, list, show, remove, verify stores; rotate their webhook token",
        description="Manage the BigCommerce stores cartwatch serves.",
    )
    commands = stores.add_subparsers(dest="stores_command", required=True, metavar="COMMAND")
    target = argparse.ArgumentParser(add_help=False)
    add_target_arguments(target)

    settings = argparse.ArgumentParser(add_help=False)
    settings.add_argument(
        "--stages", type=_stages, help="abandonment stage delays, e.g. 1h,24h,48h (default: the deployment's)"
    )
    settings.add_argument(
        "--channel-stages",
        type=_channel_stages,
        action="append",
        default=[],
        metavar="CHANNEL:STAGES",
        help="a channel's (storefront's) own stage delays, e.g. 2:30m,6h; repeatable, one per channel "
        "(channels without their own follow the store's stages)",
    )
    settings.add_argument(
        "--clear-channel-stages",
        type=_channel_id,
        action="append",
        default=[],
        metavar="CHANNEL",
        help="the channel follows the store's stages again; repeatable",
    )
    _switch(settings, "--recovery-links", "create cart recovery links for abandoned-cart events")
    settings.add_argument(
        "--min-value",
        type=_amount,
        metavar="AMOUNT",
        help="skip abandoned carts worth less than this, in the cart's currency (0: no minimum, the default)",
    )
    _switch(settings, "--require-email", "skip abandoned carts without a shopper email (default: required)")
    _switch(
        settings,
        "--require-consent",
        "skip shoppers who did not consent to abandoned-cart emails (default: not required)",
    )
    settings.add_argument(
        "--reminders",
        type=_reminders,
        metavar="|".join(ReminderScope),
        help="several abandoned carts of one shopper: announce only the most recently active one "
        "per stage (per_shopper, the default) or every cart (per_cart)",
    )
    _switch(
        settings,
        "--list-active",
        "list open carts never abandoned too (`status=active`); costs a listing-index write per cart "
        "(default: off)",
    )

    add = commands.add_parser(
        "add",
        parents=[target, settings],
        help="add a store (or bring it up to date) and register its webhooks",
        description="Store the store's credentials (encrypted in SSM) and register one webhook per "
        f"cart scope ({len(HOOK_SCOPES)} in all, and one per channel with its own stages) through "
        "BigCommerce's /v3/hooks; safe to repeat. Settings left out keep their value.",
    )
    _store_hash_argument(add)
    add_secret_argument(add, ACCESS_TOKEN)
    add_secret_argument(add, CLIENT_SECRET)
    _switch(add, "--require-signature", "accept only deliveries with a valid Standard Webhooks signature")
    add.set_defaults(run=_add)

    update = commands.add_parser(
        "update",
        parents=[target, settings],
        help="change a store's stages, channel stages, recovery links, eligibility rules or reminders",
        description="Change settings of a store cartwatch serves, without its secrets; settings left "
        "out keep their value. BigCommerce is called only when the channels with their own stages "
        "change, to register or retire their hooks.",
    )
    _store_hash_argument(update)
    update.set_defaults(run=_update)

    listing = commands.add_parser("list", parents=[target], help="list the stores")
    listing.set_defaults(run=_list)

    for name, run, text in (
        ("show", _show, "a store's settings, masked secrets and hooks"),
        ("verify", _verify, "check a store's hooks, re-activate or re-create them, check API scopes"),
        ("rotate-token", _rotate, "give a store's hooks a new X-Cartwatch-Token"),
    ):
        command = commands.add_parser(name, parents=[target], help=text, description=text)
        _store_hash_argument(command)
        command.set_defaults(run=run)

    migrate = commands.add_parser(
        "migrate-credentials",
        parents=[target],
        help="move webhook credentials kept in SSM by an older cartwatch into their table",
        description="Deployments from before the credentials table kept each store's webhook "
        "credentials in an SSM parameter ({prefix}/stores/HASH/webhook-auth); the receiver no longer "
        "reads those. Moves each into the table and deletes the parameter; safe to repeat.",
    )
    migrate.set_defaults(run=_migrate)

    remove = commands.add_parser(
        "remove", parents=[target], help="delete a store's hooks in BigCommerce, then its carts and secrets"
    )
    _store_hash_argument(remove)
    remove.add_argument(
        "--force", action="store_true", help="remove the store even if BigCommerce cannot delete its hooks"
    )
    remove.set_defaults(run=_remove)


def _switch(parser: argparse.ArgumentParser, flag: str, text: str) -> None:
    """``--flag`` / ``--no-flag``; left out: None (the store keeps its value)."""
    parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=text)


def _store_hash_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store_hash", type=_store_hash, metavar="STORE_HASH", help="e.g. abc123xyz")


def _store_hash(text: str) -> str:
    if not is_store_hash(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a BigCommerce store hash (lowercase letters and digits)"
        )
    return text


def _amount(text: str) -> Decimal:
    try:
        return parse_min_value(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _rules(args: argparse.Namespace) -> RulesChange:
    return RulesChange(args.min_value, args.require_email, args.require_consent)


def _reminders(text: str) -> ReminderScope:
    try:
        return ReminderScope(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(ReminderScope)}") from None


def _stages(text: str) -> StageSchedule:
    try:
        return StageSchedule.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _channel_stages(text: str) -> ChannelStages:
    try:
        return ChannelStages.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _channel_id(text: str) -> int:
    if not text.strip().isdecimal() or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a channel id (a positive whole number)")
    return int(text)


def _channels(args: argparse.Namespace) -> ChannelStagesChange:
    """The per-channel options, checked together before anything is looked up or stored."""
    try:
        return ChannelStagesChange(tuple(args.channel_stages), frozenset(args.clear_channel_stages))
    except ValueError as error:
        raise UsageError(f"--channel-stages: {error}") from None


# --- the commands ------------------------------------------------------------------------------


def _admin(args: argparse.Namespace) -> StoreAdmin:
    return StoreAdmin(resolve_target(args))


def _add(args: argparse.Namespace) -> int:
    # Usage first: a missing secret is reported before anything is looked up.
    channels = _channels(args)
    new = NewStore(
        args.store_hash,
        access_token=read_secret(args, ACCESS_TOKEN),
        client_secret=read_secret(args, CLIENT_SECRET),
        stages=args.stages,
        require_signature=args.require_signature,
        recovery_links=args.recovery_links,
        rules=_rules(args),
        reminders=args.reminders,
        list_active=args.list_active,
        channels=channels,
    )
    result = _admin(args).add(new)
    print(
        f"store {new.store_hash} {'added' if result.created else 'updated'}; webhooks → {result.destination}"
    )
    _print(hook_lines(result.hooks))
    failures = result.hooks.failures
    if failures:
        raise CliError(
            f"{len(failures)} of {len(result.hooks.results)} hooks of store {new.store_hash} could not be "
            "registered (see above); the store is saved: run the same `cartwatch stores add` again"
        )
    return 0


def _update(args: argparse.Namespace) -> int:
    change = SettingsUpdate(
        stages=args.stages,
        recovery_links=args.recovery_links,
        rules=_rules(args),
        reminders=args.reminders,
        list_active=args.list_active,
        channels=_channels(args),
    )
    result = _admin(args).update(args.store_hash, change)
    settings = result.settings
    print(f"store {args.store_hash} updated")
    print(f"  stages          {settings.stages}")
    print(f"  channel stages  {channel_stages_text(settings)}")
    print(f"  recovery links  {'yes' if settings.recovery_links else 'no'}")
    print(f"  eligibility     {settings.eligibility.describe()}")
    print(f"  reminders       {settings.reminders}")
    print(f"  list active     {'yes' if settings.list_active else 'no'}")
    if result.hooks is not None:
        _print(hook_lines(result.hooks))
        if result.hooks.failures:
            raise CliError(
                f"{len(result.hooks.failures)} hooks of store {args.store_hash} could not be registered or "
                "retired (see above); the settings are saved: run `cartwatch stores verify` to finish"
            )
    return 0


def _list(args: argparse.Namespace) -> int:
    _print(store_table(_admin(args).rows.all()))
    return 0


def _show(args: argparse.Namespace) -> int:
    details = _admin(args).details(args.store_hash)
    _print(details_lines(details))
    if details.live_hooks is None and details.row.settings.status is not StoreStatus.UNINSTALLED:
        raise CliError(f"could not list the hooks of store {args.store_hash}: {details.hooks_error}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    result = _admin(args).remove(args.store_hash, force=args.force)
    if result.warning:
        print(f"warning: {result.warning}")
    hooks = "no hooks deleted" if result.hooks_deleted is None else f"{result.hooks_deleted} hook(s) deleted"
    print(f"store {args.store_hash} removed: {hooks}, {result.cart_items_deleted} cart item(s) deleted")
    return 0


def _verify(args: argparse.Namespace) -> int:
    health = _admin(args).verify(args.store_hash)
    print(f"store {args.store_hash}")
    _print(health_lines(health))
    problems = health.unfixed
    if problems:
        said = "; ".join(problems) if len(problems) <= 2 else f"{problems[0]}; and {len(problems) - 1} more"
        raise CliError(f"store {args.store_hash}: could not fix: {said} (see above)")
    print("all good")
    return 0


def _rotate(args: argparse.Namespace) -> int:
    report = _admin(args).rotate_token(args.store_hash)
    print(
        f"store {args.store_hash}: new webhook token stored; the previous one is accepted for "
        f"{ROTATION_GRACE_SECONDS // 60} more minutes"
    )
    _print(hook_lines(report))
    if report.failures:
        raise CliError(
            f"{len(report.failures)} hooks of store {args.store_hash} did not take the new token "
            "(see above): run `cartwatch stores rotate-token` again"
        )
    return 0


def _migrate(args: argparse.Namespace) -> int:
    moved = _admin(args).migrate_credentials()
    print(f"{len(moved)} store(s) moved: {', '.join(moved)}" if moved else "nothing to move")
    return 0


def _print(lines: list[str]) -> None:
    print("\n".join(lines))
