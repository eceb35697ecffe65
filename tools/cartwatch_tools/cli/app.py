"""`cartwatch app configure|show`: cartwatch as a BigCommerce app.

The app's client id and secret come from the BigCommerce developer portal and are stored
once, like store secrets (an SSM SecureString, ``{prefix}/app/credentials``).  The three
callback URLs printed here are what the developer portal asks for.
"""

from __future__ import annotations

import argparse
from typing import Any

from cartwatch.adapters.store_registry import AppNotConfigured, StoreSecrets
from cartwatch.domain.app_install import CLIENT_ID, AppCredentials
from cartwatch.resources import APP_ROUTES
from cartwatch_tools.cli.errors import CliError, UsageError
from cartwatch_tools.cli.secret_input import SecretOption, add_secret_argument, mask, read_secret
from cartwatch_tools.cli.target import Target, add_target_arguments, resolve_target

APP_CLIENT_SECRET = SecretOption(
    "client-secret", "CARTWATCH_APP_CLIENT_SECRET", "the app's client secret (developer portal)"
)
# What the developer portal calls each URL, and the route it is.
PORTAL_FIELDS = (
    ("Auth Callback URL", "auth"),
    ("Load Callback URL", "load"),
    ("Uninstall Callback URL", "uninstall"),
    ("Remove User Callback URL", "remove_user"),
)


def register(subparsers: Any) -> None:
    app = subparsers.add_parser(
        "app",
        help="cartwatch as a BigCommerce app: its credentials and callback URLs",
        description=__doc__,
    )
    commands = app.add_subparsers(dest="app_command", required=True, metavar="COMMAND")
    target = argparse.ArgumentParser(add_help=False)
    add_target_arguments(target)

    configure = commands.add_parser(
        "configure",
        parents=[target],
        help="store the app's client id and secret",
        description="Store the app's client id and client secret (encrypted in SSM); safe to repeat.",
    )
    configure.add_argument("--client-id", required=True, help="the app's client id (developer portal)")
    add_secret_argument(configure, APP_CLIENT_SECRET)
    configure.set_defaults(run=_configure)

    show = commands.add_parser(
        "show", parents=[target], help="the stored client id (secret masked) and the callback URLs"
    )
    show.set_defaults(run=_show)


def callback_urls(target: Target) -> list[tuple[str, str]]:
    if not target.api_url:
        raise CliError(f"{target.description} does not say its API URL (ApiUrl)")
    return [(label, f"{target.api_url}{APP_ROUTES[route][1]}") for label, route in PORTAL_FIELDS]


def _configure(args: argparse.Namespace) -> int:
    if not CLIENT_ID.match(args.client_id):
        raise UsageError("--client-id must be the app's client id (letters, digits, - and _)")
    credentials = AppCredentials(args.client_id, read_secret(args, APP_CLIENT_SECRET))
    target = resolve_target(args)
    target.store_writer().save_app_credentials(credentials)
    print(f"app credentials stored in {target.description}: client id {credentials.client_id}")
    _print_urls(target)
    return 0


def _show(args: argparse.Namespace) -> int:
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    target = resolve_target(args)
    secrets = StoreSecrets(SSMProvider(boto3_client=target.client("ssm")), target.ssm_prefix, cache_seconds=0)
    try:
        credentials = secrets.app_credentials()
    except AppNotConfigured:
        raise CliError(
            f"no app credentials in {target.description}: run `cartwatch app configure` first"
        ) from None
    print(f"client id      {credentials.client_id}")
    print(f"client secret  {mask(credentials.client_secret)}")
    _print_urls(target)
    return 0


def _print_urls(target: Target) -> None:
    print("paste into the BigCommerce developer portal:")
    for label, url in callback_urls(target):
        print(f"  {label:<25} {url}")
