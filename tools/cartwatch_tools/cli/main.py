"""The `cartwatch` command line.

Each command group lives in its own module with a ``register(subparsers)`` function that adds
its parser and sets ``run`` (``Namespace -> exit code``) as a default; listing a module in
``COMMAND_MODULES`` is all it takes to add a command.

Failures the user can act on print one line, ``cartwatch: error: …``, and exit 1 (2 for a
wrong command line).  Messages never carry a secret: argparse's own are filtered (it would
quote a mistyped ``--acces-token VALUE`` back), and AWS errors are named by code only.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import NoReturn

from cartwatch.adapters.store_registry import StoreRegistryUnavailable
from cartwatch_tools.cli import app, carts, dlq, events, local, sandbox, simulate, stores
from cartwatch_tools.cli.errors import CliError, UsageError

COMMAND_MODULES = (local, simulate, stores, carts, dlq, events, app, sandbox)
_UNRECOGNIZED = "unrecognized arguments: "


class CliParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        if message.startswith(_UNRECOGNIZED):
            # Only the option names: the values after them may be secrets.
            options = [word for word in message[len(_UNRECOGNIZED) :].split() if word.startswith("-")]
            message = _UNRECOGNIZED + (" ".join(options) or "(values not shown)")
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> CliParser:
    parser = CliParser(prog="cartwatch", description="Cart-abandonment events from BigCommerce, on AWS.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    # Library warnings (e.g. the BigCommerce client's retries) would reach stderr through
    # logging's last-resort handler and break the one-line contract; the error says enough.
    library = logging.getLogger("cartwatch")
    if not library.handlers:
        library.addHandler(logging.NullHandler())
    try:
        args = build_parser().parse_args(argv)
        return int(args.run(args))
    except SystemExit as done:  # --help
        return done.code if isinstance(done.code, int) else 0
    except CliError as error:
        return _fail(str(error), error.exit_code)
    except StoreRegistryUnavailable as error:
        return _fail(f"AWS: {error}", 1)
    except ClientError as error:
        return _fail(_describe_client_error(error), 1)
    except BotoCoreError as error:
        on_loopback = any(host in str(error) for host in ("127.0.0.1", "localhost"))
        return _fail(f"AWS: {error}" + (" (is `cartwatch local` still running?)" if on_loopback else ""), 1)
    except KeyboardInterrupt:
        return 130


def _describe_client_error(error: object) -> str:
    response = getattr(error, "response", {}) or {}
    code = response.get("Error", {}).get("Code", "error")
    operation = getattr(error, "operation_name", "call")
    # The code and operation only: some services quote request parameters in their messages.
    hint = " (does the table exist? is the target right?)" if code == "ResourceNotFoundException" else ""
    return f"AWS {operation} failed: {code}{hint}"


def _fail(message: str, code: int) -> int:
    print(f"cartwatch: error: {' '.join(message.split())}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
