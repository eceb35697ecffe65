"""What a `cartwatch` command says when it cannot do its job: one line, never a traceback."""

from __future__ import annotations


class CliError(Exception):
    """A failure the user can act on; its message is printed as ``cartwatch: error: …``."""

    exit_code = 1


class UsageError(CliError):
    """The command line itself is wrong (bad flag, bad value, missing secret)."""

    exit_code = 2
