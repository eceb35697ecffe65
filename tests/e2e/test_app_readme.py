"""The README's "Connect stores as a BigCommerce app" commands, run exactly as written.

The first block starts `cartwatch local` (in the background, as the reader's first terminal);
every line of the second runs in order through a shell, in a fresh directory, with `uv run`
finding this project through ``UV_PROJECT``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from tests.e2e.conftest import cli_environment

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Connect stores as a BigCommerce app"


def readme_blocks() -> list[list[str]]:
    text = (ROOT / "README.md").read_text()
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return [block.strip().splitlines() for block in re.findall(r"```sh\n(.*?)```", section, re.S)]


def environment() -> dict[str, str]:
    uv = shutil.which("uv")
    assert uv, "uv is not on PATH (scripts/bootstrap.sh puts it there)"
    # The commands' own `uv run` must use this checkout's environment, as is, offline.
    return {**cli_environment(), "UV_PROJECT": str(ROOT), "UV_NO_SYNC": "1", "UV_OFFLINE": "1"}


def test_the_readme_app_walkthrough_runs_as_written(tmp_path: Path) -> None:
    (start,), steps = readme_blocks()
    assert start.startswith("uv run cartwatch local ") and len(steps) >= 6
    env = environment()
    local = subprocess.Popen(  # noqa: S602 — the README's own command line
        start, shell=True, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip
    info = tmp_path / ".cartwatch" / "local.json"
    try:
        deadline = time.monotonic() + 90
        while not info.exists():
            assert local.poll() is None, local.stdout.read() if local.stdout else ""
            assert time.monotonic() < deadline, "cartwatch local did not start"
            time.sleep(0.2)
        outputs = []
        for line in steps:
            done = subprocess.run(  # noqa: S602
                line, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180,
                check=False,
            )  # fmt: skip
            assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
            outputs.append(done.stdout)
        said = dict(zip(steps, outputs, strict=True))
    finally:
        os.killpg(local.pid, signal.SIGINT)
        log, _ = local.communicate(timeout=60)

    def output(command: str) -> list[str]:
        return [out for line, out in said.items() if line.startswith(command)]

    assert "Auth Callback URL" in output("uv run cartwatch app configure")[0]
    assert "cartwatch answered 200" in output("uv run cartwatch sandbox install-app")[0]
    connected, uninstalled = output("uv run cartwatch stores show")
    assert "BigCommerce app" in connected and "active, token ok" in connected
    assert connected.count("active, token ok") == 10
    assert "all events as expected" in output("uv run cartwatch simulate")[0]
    assert re.search(
        r"^http://127\.0\.0\.1:\d+/_sandbox/.*/control-panel$",
        output("uv run cartwatch sandbox open-app")[0],
        re.M,
    )
    assert "uninstalled" in uninstalled
    assert "app-secret-0123456789abcdef0123456789" not in log + "".join(outputs)
    assert "Traceback" not in log
