"""The README's "Connect stores as a BigCommerce app" commands, run exactly as written.

The block marked ``app-local`` starts `cartwatch local` (in the background, as the reader's
first terminal); every line of ``app-walkthrough`` then runs in order, in the same directory.
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest
from tests.e2e.documented import documented_commands, run_documented, start_documented

pytestmark = pytest.mark.e2e


def test_the_readme_app_walkthrough_runs_as_written(tmp_path: Path) -> None:
    (start,) = documented_commands("README.md", "app-local")
    steps = documented_commands("README.md", "app-walkthrough")
    local = start_documented(start, tmp_path)
    info = tmp_path / ".cartwatch" / "local.json"
    said: dict[str, str] = {}
    try:
        deadline = time.monotonic() + 90
        while not info.exists():
            assert local.poll() is None, local.stdout.read() if local.stdout else ""
            assert time.monotonic() < deadline, "cartwatch local did not start"
            time.sleep(0.2)
        for line in steps:
            done = run_documented(line, tmp_path)
            assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
            said[line] = done.stdout
    finally:
        os.killpg(local.pid, signal.SIGINT)
        log, _ = local.communicate(timeout=60)

    def output(command: str) -> list[str]:
        return [out for line, out in said.items() if line.startswith(command)]

    assert "Auth Callback URL" in output("uv run cartwatch app configure")[0]
    assert "cartwatch answered 200" in output("uv run cartwatch sandbox install-app")[0]
    connected, uninstalled = output("uv run cartwatch stores show")
    assert "BigCommerce app" in connected and connected.count("active, token ok") == 10
    assert "all events as expected" in output("uv run cartwatch simulate")[0]
    control_panel = output("uv run cartwatch sandbox open-app")[0]
    assert re.search(r"^http://127\.0\.0\.1:\d+/_sandbox/.*/control-panel$", control_panel, re.M)
    assert "uninstalled" in uninstalled
    assert "app-secret-0123456789abcdef0123456789" not in log + "".join(said.values())
    assert "Traceback" not in log
