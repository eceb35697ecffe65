"""Helpers for the CLI's integration tests (fixtures are in conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.integration.conftest import Aws

from cartwatch.domain.store import TOKEN_HEADER
from cartwatch_tools.sandbox import Store

# Deliveries never happen in these tests (no cart changes), so the receiver need not exist.
WEBHOOK_BASE_URL = "http://127.0.0.1:9/webhooks/bigcommerce"
CLIENT_ID = "cartwatch-cli-test"


@dataclass(frozen=True)
class CliRun:
    code: int
    out: str
    err: str


@dataclass(frozen=True)
class Shop:
    """A sandbox store and the credentials of its API account."""

    store: Store
    access_token: str
    client_secret: str

    @property
    def hash(self) -> str:
        return self.store.hash

    @property
    def destination(self) -> str:
        return f"{WEBHOOK_BASE_URL}/{self.hash}"

    def hooks(self) -> list[Any]:
        return self.store.hooks.find(CLIENT_ID)

    def add_args(self) -> list[str]:
        return [
            "stores",
            "add",
            self.hash,
            "--access-token",
            self.access_token,
            "--client-secret",
            self.client_secret,
        ]


def parameters(aws: Aws) -> dict[str, dict[str, Any]]:
    ssm = aws.client("ssm")
    found = ssm.get_parameters_by_path(Path=aws.prefix, Recursive=True, WithDecryption=True)
    return {p["Name"]: p for p in found.get("Parameters", [])}


def store_items(aws: Aws) -> list[dict[str, Any]]:
    return [item for item in aws.table_items() if item["pk"]["S"] == "STORE"]


def assert_one_error_line(run: CliRun, code: int = 1) -> str:
    assert run.code == code, run
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    assert lines[0].startswith("cartwatch: error: "), run.err
    assert "Traceback" not in run.err + run.out
    return lines[0]


def token_headers(shop: Shop) -> set[str | None]:
    return {(h.headers or {}).get(TOKEN_HEADER) for h in shop.hooks()}


def stored_auth(aws: Aws, store_hash: str) -> dict[str, Any]:
    """The store's webhook credentials as stored (attribute -> plain value)."""
    item = aws.client("dynamodb").get_item(
        TableName=aws.resources.credentials_table_name,
        Key={"store_hash": {"S": store_hash}},
        ConsistentRead=True,
    )["Item"]
    plain = {name: next(iter(value.values())) for name, value in item.items()}
    if "previous_token_until" in plain:
        plain["previous_token_until"] = int(plain["previous_token_until"])
    return plain


def webhook_token(aws: Aws, store_hash: str) -> str:
    """The X-Cartwatch-Token stored for a store (what the receiver will accept)."""
    return str(stored_auth(aws, store_hash)["token"])
