"""`cartwatch sandbox …`: play the merchant in the built-in sandbox's control panel.

With `cartwatch local --sandbox-app CLIENT_ID:SECRET`, the sandbox knows cartwatch as a
single-click app.  These commands do what a merchant does with it — install it into a
sandbox store, open it, remove a user, uninstall it — and the sandbox calls cartwatch's
callbacks exactly as BigCommerce would.
"""

from __future__ import annotations

import argparse
import re
from html import unescape
from pathlib import Path
from typing import Any

import requests

from cartwatch_tools.cli.errors import CliError
from cartwatch_tools.cli.info_file import DEFAULT_INFO_FILE, LocalInfo

_TITLE = re.compile(r"<h2>(.*?)</h2>", re.S)


def register(subparsers: Any) -> None:
    sandbox = subparsers.add_parser(
        "sandbox",
        help="play the merchant in the built-in sandbox: install, open, uninstall the app",
        description=__doc__,
    )
    commands = sandbox.add_subparsers(dest="sandbox_command", required=True, metavar="COMMAND")
    for name, run, text in (
        ("install-app", _install, "install the app into a sandbox store (its auth callback runs)"),
        ("open-app", _open, "print the control panel page that shows the app (open it in a browser)"),
        ("remove-user", _remove_user, "the store owner removes a user's access to the app"),
        ("uninstall-app", _uninstall, "uninstall the app from a sandbox store (its uninstall callback runs)"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("store_hash", metavar="STORE_HASH")
        command.add_argument("--client-id", help="the app (default: the only app the sandbox knows)")
        command.add_argument(
            "--user-id", type=int, required=name == "remove-user", help="the user (default: the store owner)"
        )
        command.add_argument("--local", action="store_true", help="accepted for symmetry: always local")
        command.add_argument("--info-file", type=Path, default=DEFAULT_INFO_FILE)
        command.set_defaults(run=run)


def _install(args: argparse.Namespace) -> int:
    return _callback(args, "install", "installed")


def _uninstall(args: argparse.Namespace) -> int:
    return _callback(args, "uninstall", "uninstalled")


def _remove_user(args: argparse.Namespace) -> int:
    return _callback(args, "remove-user", f"removed user {args.user_id} from")


def _open(args: argparse.Namespace) -> int:
    base, client_id = _sandbox(args)
    url = f"{base}/_sandbox/stores/{args.store_hash}/apps/{client_id}/control-panel"
    if args.user_id is not None:
        url += f"?user_id={args.user_id}"
    print(url)
    return 0


def _callback(args: argparse.Namespace, action: str, done: str) -> int:
    base, client_id = _sandbox(args)
    body = {"user_id": args.user_id} if args.user_id is not None else {}
    answer = _request("POST", f"{base}/_sandbox/stores/{args.store_hash}/apps/{client_id}/{action}", body)
    status, page = answer.get("status"), str(answer.get("page", ""))
    title = _TITLE.search(page)
    said = unescape(title.group(1)) if title else page[:200]
    if status != 200:
        raise CliError(f"cartwatch answered the {action} callback with {status}: {said}")
    print(f"{done} app {client_id} in store {args.store_hash}: cartwatch answered {status} — {said}")
    return 0


def _sandbox(args: argparse.Namespace) -> tuple[str, str]:
    info = LocalInfo.read(args.info_file)
    if not info.sandbox:
        raise CliError("these commands need `cartwatch local` with its built-in sandbox")
    base = info.bigcommerce_api_url.rstrip("/")
    if args.client_id:
        return base, args.client_id
    apps = _request("GET", f"{base}/_sandbox/apps").get("client_ids", [])
    if len(apps) != 1:
        raise CliError(
            "the sandbox knows no app: start `cartwatch local --sandbox-app CLIENT_ID:SECRET`"
            if not apps
            else f"the sandbox knows {len(apps)} apps: pick one with --client-id"
        )
    return base, str(apps[0])


def _request(method: str, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    try:
        response = requests.request(method, url, json=body, timeout=60)
    except requests.RequestException as error:
        raise CliError(
            f"the sandbox at {url} did not answer ({type(error).__name__}): is `cartwatch local` running?"
        ) from None
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if response.status_code != 200:
        detail = answer.get("title") if isinstance(answer, dict) else None
        raise CliError(f"the sandbox refused: {detail or response.status_code}")
    return answer if isinstance(answer, dict) else {}
