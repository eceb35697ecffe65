"""Support for the sandbox's integration tests: a checker of responses against BigCommerce's
OpenAPI files, a small API client, and a loopback webhook receiver."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
import yaml
from openapi_schema_validator import OAS30Validator
from referencing import Registry
from referencing.jsonschema import DRAFT4

# BigCommerce's published OpenAPI files (bigcommerce/docs reference/*.yml), vendored as fixtures.
OPENAPI_DIR = Path(
    os.environ.get(
        "CARTWATCH_BIGCOMMERCE_OPENAPI",
        str(Path(__file__).resolve().parents[2] / "fixtures" / "bigcommerce" / "openapi"),
    )
)

STORE_HASH = "abc123"
TOKEN = "sandbox-token"
SECRET = "sandbox-client-secret"


class OpenApiContract:
    """Validates a response body against the schema the spec declares for (path, method, status)."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._specs: dict[str, tuple[dict[str, Any], Registry]] = {}

    def _load(self, name: str) -> tuple[dict[str, Any], Registry]:
        if name not in self._specs:
            path = self._directory / name
            # libyaml when available: the checkouts spec alone is 10k lines.
            document = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
            registry = Registry().with_resource(f"urn:bigcommerce:{name}", DRAFT4.create_resource(document))
            self._specs[name] = (document, registry)
        return self._specs[name]

    @staticmethod
    def _pointer_get(document: dict[str, Any], pointer: str) -> Any:
        node: Any = document
        for part in pointer.lstrip("/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def check(self, spec: str, path: str, method: str, status: int, body: Any) -> None:
        document, registry = self._load(spec)
        escaped = path.replace("~", "~0").replace("/", "~1")
        responses = document["paths"][path][method.lower()]["responses"]
        key = str(status) if str(status) in responses else status
        pointer = f"/paths/{escaped}/{method.lower()}/responses/{key}"
        response = responses[key]
        if "$ref" in response:
            pointer = response["$ref"].removeprefix("#")
            response = self._pointer_get(document, pointer)
        if "swagger" in document:
            pointer += "/schema"
        else:
            pointer += "/content/application~1json/schema"
        validator = OAS30Validator({"$ref": f"urn:bigcommerce:{spec}#{pointer}"}, registry=registry)
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        assert not errors, f"{method} {path} {status} breaks {spec}:\n" + "\n".join(
            f"  at {list(e.absolute_path)}: {e.message}" for e in errors
        )


@dataclass
class Api:
    """A tiny client for one sandbox store: paths are relative to ``/stores/{hash}``."""

    root: str
    token: str = TOKEN
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        self.session.trust_env = False

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
        if self.token:
            headers.setdefault("X-Auth-Token", self.token)
        return self.session.request(method, self.root + path, headers=headers, timeout=5, **kwargs)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


class Receiver:
    """A loopback webhook destination that records what arrives and answers ``status``."""

    def __init__(self) -> None:
        self.status = 200
        self.received: list[Received] = []
        self.gets: list[str] = []  # paths of GETs (an app's callbacks), query included
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.received.append(Received(self.path, dict(self.headers.items()), body))
                    status = receiver.status
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                with receiver._lock:
                    receiver.gets.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/webhooks/bigcommerce/{STORE_HASH}"

    def scopes(self) -> list[str]:
        with self._lock:
            return [r.payload["scope"] for r in self.received]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
