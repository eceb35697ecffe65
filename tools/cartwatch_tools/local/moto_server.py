"""The embedded AWS emulator: moto in server mode, in a process of its own, on loopback."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

# Credentials and region for talking to the emulator.  They are not secrets: moto
# accepts any, and nothing here can reach real AWS (the endpoint is loopback).
LOCAL_REGION = "us-east-1"
LOCAL_ACCESS_KEY = "cartwatch-local"
LOCAL_SECRET_KEY = "cartwatch-local-secret"  # noqa: S105


class MotoServer:
    """moto's server app in a child process, over real HTTP on 127.0.0.1.

    A process of its own, not a thread of the caller's: moto's request handling is pure
    Python, and sharing one GIL with the gateway, the handlers and their boto3 clients held
    `cartwatch local` to ~45 webhooks/s on a 2-core machine.  The child
    (``cartwatch_tools.local.moto_app``) enforces AWS's message size limits and serializes
    DynamoDB requests; it exits when it is stopped or when its parent dies (it watches its
    stdin, a pipe from the parent).
    """

    def __init__(self, port: int = 0) -> None:
        self._port = port
        self._process: subprocess.Popen[str] | None = None
        self.endpoint_url = ""

    def start(self) -> MotoServer:
        command = [sys.executable, "-m", "cartwatch_tools.local.moto_app", "--port", str(self._port)]
        process = subprocess.Popen(  # noqa: S603 — our own interpreter and module, no shell
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=_child_environment(),
        )
        self._process = process
        announced = process.stdout.readline().strip() if process.stdout is not None else ""
        if not announced.startswith("http://"):
            self.stop()
            # What the child could not do (typically: the port is taken), as the OSError
            # callers already handle for a server that cannot listen.
            reason = announced.removeprefix("error: ") or "the AWS emulator did not start"
            raise OSError(errno.EADDRINUSE, reason)
        self.endpoint_url = announced
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()  # the child's signal to shut down
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _child_environment() -> dict[str, str]:
    # The emulator needs none of the caller's AWS settings; an endpoint variable pointing at
    # another emulator would only mislead whoever reads its environment.
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT")}


@contextmanager
def running_moto(port: int = 0) -> Iterator[MotoServer]:
    server = MotoServer(port).start()
    try:
        yield server
    finally:
        server.stop()


def local_environment(endpoint_url: str) -> dict[str, str]:
    """Environment that points boto3 (and so every handler) at the emulator."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_DEFAULT_REGION": LOCAL_REGION,
        "AWS_REGION": LOCAL_REGION,
        "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET_KEY,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def apply_environment(values: dict[str, str]) -> None:
    os.environ.update(values)
