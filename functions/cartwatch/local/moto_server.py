"""The embedded AWS emulator: moto in server mode, on loopback, real HTTP."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

# Credentials and region for talking to the emulator.  They are not secrets: moto
# accepts any, and nothing here can reach real AWS (the endpoint is loopback).
LOCAL_REGION = "us-east-1"
LOCAL_ACCESS_KEY = "cartwatch-local"
LOCAL_SECRET_KEY = "cartwatch-local-secret"  # noqa: S105


class MotoServer:
    def __init__(self, port: int = 0) -> None:
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.endpoint_url = ""

    def start(self) -> MotoServer:
        import logging

        # werkzeug logs every request at INFO; the emulator should be quiet.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        self._server.stop()


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
