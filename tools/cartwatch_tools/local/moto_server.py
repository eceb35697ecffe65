"""The embedded AWS emulator: moto in server mode, on loopback, real HTTP."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# Credentials and region for talking to the emulator.  They are not secrets: moto
# accepts any, and nothing here can reach real AWS (the endpoint is loopback).
LOCAL_REGION = "us-east-1"
LOCAL_ACCESS_KEY = "cartwatch-local"
LOCAL_SECRET_KEY = "cartwatch-local-secret"  # noqa: S105


class MotoServer:
    """moto's server app on a threaded werkzeug server, DynamoDB requests serialized.

    DynamoDB applies a conditional write atomically; moto's in-memory backend checks the
    condition and writes in two steps without a lock, so two threads can both "win".
    cartwatch's guarantees (one event per stage under racing sweeps, one state change under
    racing processors) rest on that atomicity, so DynamoDB calls take a lock here, while
    SQS, SNS and SSM stay concurrent.
    """

    def __init__(self, port: int = 0) -> None:
        self._port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.endpoint_url = ""

    def start(self) -> MotoServer:
        import logging

        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        # werkzeug logs every request at INFO; the emulator should be quiet.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        from cartwatch_tools.local.aws_limits import AwsLimits

        app = _DynamoDBSerialized(AwsLimits(DomainDispatcherApplication(create_backend_app)))
        self._server = make_server(
            "127.0.0.1", self._port, app, threaded=True, request_handler=MotoRequestHandler
        )
        host, port = self._server.server_address[:2]
        self.endpoint_url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)


class _DynamoDBSerialized:
    """WSGI middleware: one DynamoDB request at a time (see MotoServer)."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith("DynamoDB_"):
            return self._app(environ, start_response)
        with self._lock:
            # Materialize the body inside the lock: the backend does its work while the
            # response is produced.
            return list(self._app(environ, start_response))


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
