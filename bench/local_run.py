"""`cartwatch local` as a process of its own, for the benchmarks that load it from outside.

The benchmarks offer deliveries over loopback HTTP like BigCommerce would, so the local
runner must not share their interpreter: it runs as a child (``cartwatch local --port 0``),
its info file says where everything is, and its CPU and its emulator's are read from /proc.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3

from cartwatch.adapters.store_registry import StoreWriter


class LocalProcess:
    """`cartwatch local --port 0` in a child process, quiet, stopped with Ctrl-C (SIGINT).

    ``arguments``: more `cartwatch local` flags (stages, sandbox stores, an API URL).
    """

    def __init__(self, workdir: Path, arguments: list[str]) -> None:
        self._workdir = workdir
        self._arguments = arguments
        self._info_file = workdir / "local.json"
        self._process: subprocess.Popen[bytes] | None = None
        self._log = workdir / "local.log"

    def start(self) -> dict[str, Any]:
        cartwatch = str(Path(sys.executable).with_name("cartwatch"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT")}
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    cartwatch,
                    "local",
                    "--port",
                    "0",
                    "--sweep-every",
                    "1s",
                    "--info-file",
                    str(self._info_file),
                    *self._arguments,
                ],
                cwd=self._workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + 90
        while not self._info_file.exists():
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"cartwatch local did not start:\n{self._log.read_text()[-4000:]}")
            time.sleep(0.1)
        info: dict[str, Any] = json.loads(self._info_file.read_text())
        return info

    def cpu_seconds(self) -> tuple[float, float]:
        """(CPU seconds of `cartwatch local`, of all its child processes) so far (Linux /proc)."""
        if self._process is None:
            return 0.0, 0.0
        own = process_cpu(self._process.pid)
        return own, sum(process_cpu(child) for child in descendants(self._process.pid))

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.send_signal(signal.SIGINT)
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def process_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # utime and stime: fields 14 and 15 of proc(5), counted from the state (field 3).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
        for child in children:
            found += [child, *descendants(child)]
    return found


def session(info: dict[str, Any]) -> boto3.Session:
    return boto3.Session(
        aws_access_key_id=info["aws_access_key_id"],
        aws_secret_access_key=info["aws_secret_access_key"],
        region_name=info["region"],
    )


def client(info: dict[str, Any], service: str) -> Any:
    return session(info).client(service, endpoint_url=info["aws_endpoint_url"])  # type: ignore[call-overload]


def queue_depth(info: dict[str, Any], queue_url: str) -> int:
    attributes = client(info, "sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def wait_for_intake(info: dict[str, Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while queue_depth(info, info["intake_queue_url"]) and time.monotonic() < deadline:
        time.sleep(0.2)


def aws_calls(info: dict[str, Any]) -> tuple[dict[str, int], dict[str, float]]:
    """Every AWS call the emulator answered so far, by ``service.Operation``, and the
    emulator's CPU seconds spent on each."""
    url = f"{info['aws_endpoint_url']}/_cartwatch/calls"
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 — loopback
        tally: dict[str, Any] = json.loads(response.read())
    return tally["calls"], tally["cpu_seconds"]


def store_writer(info: dict[str, Any]) -> StoreWriter:
    """What `stores add --local` writes a store with."""
    return StoreWriter(
        client(info, "dynamodb"),
        client(info, "ssm"),
        info["table_name"],
        info["ssm_prefix"],
        credentials_table=info["credentials_table_name"],
    )
