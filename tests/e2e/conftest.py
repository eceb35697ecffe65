"""End-to-end fixtures: `cartwatch local` as a real subprocess, driven through the CLI."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from tests.iam_conformance import check_call_log

from cartwatch_tools.iam.recording import CALL_LOG_ENV

CARTWATCH = str(Path(sys.executable).with_name("cartwatch"))


@dataclass
class LocalRun:
    process: subprocess.Popen[str]
    info_file: Path
    info: dict[str, Any]
    workdir: Path
    call_log: Path  # every AWS call its functions made (CARTWATCH_AWS_CALL_LOG)

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CARTWATCH, *args],
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=cli_environment(),
            check=False,
        )

    def client(self, service: str) -> Any:
        session = boto3.Session(region_name=self.info["region"])
        return session.client(service, endpoint_url=self.info["aws_endpoint_url"])  # type: ignore[call-overload]


def cli_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT")}
    env.update({"POWERTOOLS_LOG_LEVEL": "WARNING", "NO_COLOR": "1", "COLUMNS": "120"})
    return env


@pytest.fixture(autouse=True)
def aws_call_log(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Any `cartwatch local` a test starts on its own (the demo, the README's commands, the
    burst) records its functions' AWS calls here, checked against their roles like the
    rest (tests/iam_conformance.py); `start_local` gives each of its runs a log of its own."""
    call_log = tmp_path_factory.mktemp("aws-calls") / "calls.jsonl"
    check_call_log(call_log)
    monkeypatch.setenv(CALL_LOG_ENV, str(call_log))


def start_local(workdir: Path, *extra: str) -> LocalRun:
    info_file = workdir / ".cartwatch" / "local.json"
    # Every AWS call the pipeline's functions make is checked against their roles when the
    # test is torn down (tests/iam_conformance.py).
    call_log = workdir / ".cartwatch" / f"aws-calls-{secrets.token_hex(4)}.jsonl"
    check_call_log(call_log)
    process = subprocess.Popen(
        [CARTWATCH, "local", "--port", "0", "--sweep-every", "1s", "--info-file", str(info_file), *extra],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**cli_environment(), CALL_LOG_ENV: str(call_log)},
    )
    deadline = time.monotonic() + 60
    while not info_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            output = process.stdout.read() if process.stdout else ""
            process.kill()
            raise AssertionError(f"cartwatch local did not start:\n{output}")
        time.sleep(0.1)
    return LocalRun(process, info_file, json.loads(info_file.read_text()), workdir, call_log)


def stop_local(run: LocalRun) -> str:
    run.process.send_signal(signal.SIGINT)
    try:
        output, _ = run.process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        run.process.kill()
        output, _ = run.process.communicate()
        raise AssertionError(f"cartwatch local did not stop on Ctrl-C:\n{output}") from None
    return output


def onboard(run: LocalRun, store: SandboxStore) -> None:
    added = run.cli(
        "stores",
        "add",
        store.store_hash,
        "--local",
        "--info-file",
        str(run.info_file),
        "--access-token",
        store.access_token,
        "--client-secret",
        store.client_secret,
    )
    assert added.returncode == 0, added.stderr
    assert store.access_token not in added.stdout + added.stderr
    assert store.client_secret not in added.stdout + added.stderr


def simulate(run: LocalRun, tmp_path: Path, *flags: str, carts: int = 8) -> dict[str, Any]:
    """``cartwatch simulate``'s per-cart report: each cart's id, its shopper's role, its events."""
    report = tmp_path / f"report-{uuid.uuid4().hex[:6]}.json"
    done = run.cli(
        "simulate",
        *("--info-file", str(run.info_file), "--carts", str(carts), "--report-file", str(report)),
        *flags,
    )
    assert report.exists(), done.stdout + done.stderr
    result: dict[str, Any] = json.loads(report.read_text())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "expected" in done.stdout and "received" in done.stdout  # the tally table
    return result


@dataclass
class SandboxStore:
    store_hash: str
    access_token: str
    client_secret: str

    @property
    def spec(self) -> str:
        return f"{self.store_hash}:{self.access_token}:{self.client_secret}"


@pytest.fixture
def sandbox_store() -> SandboxStore:
    return SandboxStore("e2estore", secrets.token_hex(12), secrets.token_hex(12))


@pytest.fixture
def local(tmp_path: Path, sandbox_store: SandboxStore) -> Iterator[LocalRun]:
    run = start_local(tmp_path, "--stages", "3s,6s", "--sandbox-store", sandbox_store.spec)
    try:
        yield run
    finally:
        if run.process.poll() is None:
            stop_local(run)


@dataclass
class Quickstart:
    """The README's quickstart after shoppers came by, and what each shopper did."""

    run: LocalRun
    store: SandboxStore
    report: dict[str, Any]  # `cartwatch simulate`'s report

    def carts(self, role: str) -> set[str]:
        """The ids of the carts whose shopper played ``role`` (abandons, buys, returns, empties)."""
        return {cart["cart_id"] for cart in self.report["carts"] if cart["role"] == role}


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Quickstart]:
    """The README's "Run the pieces yourself", run exactly as written: `cartwatch local` in one
    terminal (block ``pieces-local``), then ``pieces-walkthrough`` in another — the store
    ``mystore`` added and seven shoppers' carts through the pipeline: with the shopper mix, two
    abandon, two buy, two come back after a reminder and one empties the cart.  The working
    directory holds the default info file, as for a user."""
    from tests.e2e.documented import documented_commands, run_documented, start_documented

    (start,) = documented_commands("README.md", "pieces-local")
    steps = documented_commands("README.md", "pieces-walkthrough")
    workdir = tmp_path_factory.mktemp("quickstart")
    # Its functions' AWS calls are checked against their roles (tests/iam_conformance.py).
    call_log = workdir / f"aws-calls-{secrets.token_hex(4)}.jsonl"
    check_call_log(call_log)
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv(CALL_LOG_ENV, str(call_log))
        process = start_documented(start, workdir)
    info_file = workdir / ".cartwatch" / "local.json"
    try:
        deadline = time.monotonic() + 90
        while not info_file.exists():
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "cartwatch local did not start"
            time.sleep(0.2)
        run = LocalRun(process, info_file, json.loads(info_file.read_text()), workdir, call_log)
        for line in steps:
            done = run_documented(line, workdir)
            assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
        # The README's simulate writes each cart's role and events to carts.json.
        report = json.loads((workdir / "carts.json").read_text())
        quickstart = Quickstart(run, SandboxStore("mystore", "T", "S"), report)
        assert {role: len(quickstart.carts(role)) for role in ("abandons", "buys", "returns", "empties")} == {
            "abandons": 2,
            "buys": 2,
            "returns": 2,
            "empties": 1,
        }
        yield quickstart
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in the reader's first terminal
            try:
                process.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
