"""Shell commands exactly as README.md and docs/ show them, for the e2e tests to run.

A fenced ``sh``/``bash`` block right after ``<!-- e2e: NAME -->`` is one a test runs: each
logical line (a trailing backslash continues it) is one command, run by bash as written, in
the directory holding `cartwatch local`'s default info file.  What the text tells the reader to
set (``CART_ID``, ``API_URL``, …) comes in as environment variables, and ``uv run`` finds this
repository's project and environment as it would from a checkout.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import cli_environment

REPO = Path(__file__).resolve().parents[2]


def documented_commands(document: str, name: str) -> list[str]:
    """The commands of the block marked ``<!-- e2e: name -->`` in ``document`` (relative to the repo)."""
    text = (REPO / document).read_text(encoding="utf-8")
    found = re.search(rf"<!-- e2e: {re.escape(name)} -->\n```(?:sh|bash)\n(.*?)\n```", text, re.DOTALL)
    assert found, f"{document} has no shell block marked `<!-- e2e: {name} -->`"
    return [line for line in re.split(r"(?<!\\)\n", found.group(1)) if line.strip()]


def documented_environment(**variables: str) -> dict[str, str]:
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "uv is not on PATH (scripts/bootstrap.sh installs it)"
    env = cli_environment()
    return env | {
        # What activating .venv does, and uv itself, for the commands without `uv run`.
        "PATH": os.pathsep.join((str(Path(sys.executable).parent), str(Path(uv).parent), env["PATH"])),
        # `uv run` from another directory: this checkout's project, its environment as installed
        # (a sync in the middle of a test run would change the environment under the tests).
        "UV_PROJECT": str(REPO),
        "UV_NO_SYNC": "1",
        **variables,
    }


def run_documented(command: str, cwd: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=documented_environment(**variables),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def start_documented(command: str, cwd: Path) -> subprocess.Popen[str]:
    """A long-running documented command (the reader's first terminal), in its own process group."""
    return subprocess.Popen(
        ["bash", "-c", command],
        cwd=cwd,
        env=documented_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def stats_totals(command: str, cwd: Path, expected: list[int], timeout: float = 30.0) -> list[int]:
    """The ``total`` row of a documented ``carts stats`` (created, abandoned, recovered,
    converted), run as written until it shows ``expected`` or ``timeout`` passes: the figures
    trail the carts by the figure tally's window (a few seconds in `cartwatch local`)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        done = run_documented(command, cwd)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        total = next(line.split() for line in done.stdout.splitlines() if line.startswith("total"))
        counts = [int(cell) for cell in total[1:5]]
        if counts == expected or time.monotonic() > deadline:
            return counts
        time.sleep(1.0)
