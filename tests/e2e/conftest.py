"""End-to-end fixtures: `cartwatch local` as a real subprocess, driven through the CLI."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

CARTWATCH = str(Path(sys.executable).with_name("cartwatch"))


@dataclass
class LocalRun:
    process: subprocess.Popen[str]
    info_file: Path
    info: dict[str, Any]
    workdir: Path

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


def start_local(workdir: Path, *extra: str) -> LocalRun:
    info_file = workdir / ".cartwatch" / "local.json"
    process = subprocess.Popen(
        [CARTWATCH, "local", "--port", "0", "--sweep-every", "1s", "--info-file", str(info_file), *extra],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=cli_environment(),
    )
    deadline = time.monotonic() + 60
    while not info_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            output = process.stdout.read() if process.stdout else ""
            process.kill()
            raise AssertionError(f"cartwatch local did not start:\n{output}")
        time.sleep(0.1)
    return LocalRun(process, info_file, json.loads(info_file.read_text()), workdir)


def stop_local(run: LocalRun) -> str:
    run.process.send_signal(signal.SIGINT)
    try:
        output, _ = run.process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        run.process.kill()
        output, _ = run.process.communicate()
        raise AssertionError(f"cartwatch local did not stop on Ctrl-C:\n{output}") from None
    return output


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
