"""The README's first two commands, as a newcomer runs them.

``./scripts/demo`` runs exactly as written from the repository root: it installs what is
missing, runs the whole pipeline with the demo store and shoppers, reports that every cart got
exactly its events, and a Ctrl-C then stops everything and frees the port.  The second command,
``./scripts/test``, is the one CI runs on a clean checkout (``.ci/run``): this test only checks
that the two stay the same command, since running the test suite from inside itself proves
nothing more.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import threading
import time

import pytest
from tests.e2e.documented import REPO, documented_commands, start_documented

pytestmark = pytest.mark.e2e

DEMO, TEST = documented_commands("README.md", "readme-first")


def command(line: str) -> str:
    return line.split("#", 1)[0].strip()


def test_the_readme_test_command_is_the_one_ci_runs() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert f"exec {command(TEST)}" in ci


def test_the_readme_demo_command_shows_every_cart_its_events_and_stops_on_ctrl_c() -> None:
    demo = start_documented(DEMO, REPO)
    assert demo.stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(demo.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        deadline = time.monotonic() + 150
        while not any("every cart got exactly its events" in line for line in lines):
            assert demo.poll() is None, "".join(lines)
            assert not any("some carts got unexpected events" in line for line in lines), "".join(lines)
            assert time.monotonic() < deadline, "the demo did not finish:\n" + "".join(lines)
            time.sleep(0.5)
    finally:
        os.killpg(demo.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        code = demo.wait(timeout=60)
        reader.join(timeout=10)
    output = "".join(lines)
    assert code == 0, output
    assert "Traceback" not in output
    assert "cartwatch.cart.abandoned" in output
    assert "cartwatch.cart.recovered" in output
    assert "stopping" in output
    assert not (REPO / ".cartwatch" / "local.json").exists(), "the info file outlived the run"
    found = re.search(r"webhooks\s+http://127\.0\.0\.1:(\d+)/", output)
    assert found, output
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", int(found.group(1))), timeout=2).close()
