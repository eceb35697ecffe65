"""Secrets on the command line: a flag, a file or an environment variable — and never echoed.

A flag is visible in ``ps`` and shell history; a file or the environment is not, so all three
are offered.  Messages about a secret name the flag, never its value.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cartwatch_tools.cli.errors import UsageError


@dataclass(frozen=True)
class SecretOption:
    flag: str  # "access-token": --access-token VALUE, --access-token-file PATH
    env: str
    help: str

    @property
    def dest(self) -> str:
        return self.flag.replace("-", "_")


ACCESS_TOKEN = SecretOption(
    "access-token", "CARTWATCH_ACCESS_TOKEN", "the store-level API account's access token"
)
CLIENT_SECRET = SecretOption("client-secret", "CARTWATCH_CLIENT_SECRET", "the API account's client secret")


def add_secret_argument(parser: argparse.ArgumentParser, option: SecretOption) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        f"--{option.flag}", dest=option.dest, metavar="VALUE", help=f"{option.help} (or ${option.env})"
    )
    group.add_argument(
        f"--{option.flag}-file",
        dest=f"{option.dest}_file",
        type=Path,
        metavar="PATH",
        help=f"read {option.help} from a file ('-' for stdin)",
    )


def read_secret(
    args: argparse.Namespace, option: SecretOption, environ: Mapping[str, str] = os.environ
) -> str:
    value: str | None = getattr(args, option.dest, None)
    path: Path | None = getattr(args, f"{option.dest}_file", None)
    if value is None and path is not None:
        value = _read_file(path, option)
    if value is None:
        value = environ.get(option.env)
    value = (value or "").strip()
    if not value:
        raise UsageError(f"missing --{option.flag} (or --{option.flag}-file, or ${option.env})")
    return value


def _read_file(path: Path, option: SecretOption) -> str:
    if str(path) == "-":
        return sys.stdin.readline()
    try:
        return path.read_text()
    except OSError as error:
        # strerror only: it says what went wrong without quoting anything read.
        raise UsageError(f"cannot read --{option.flag}-file {path}: {error.strerror}") from None


def mask(secret: str | None) -> str:
    """``****abcd``: enough to tell two secrets apart, too little to use one."""
    if not secret:
        return "(none)"
    # Four characters of a short secret would give away too much of it.
    return f"****{secret[-4:]}" if len(secret) >= 16 else "****"
