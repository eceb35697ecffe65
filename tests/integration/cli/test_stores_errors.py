"""Bad input and broken surroundings: one line on stderr, a non-zero exit, nothing written."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.integration.cli.cli_support import (
    CliRun,
    Shop,
    assert_one_error_line,
    parameters,
    store_items,
    token_headers,
    webhook_token,
)
from tests.integration.conftest import Aws

from cartwatch.domain.cart_webhooks import HOOK_SCOPES
from cartwatch_tools.sandbox import BigCommerceSandbox

Cli = Callable[..., CliRun]


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there any more


def assert_nothing_written(aws: Aws) -> None:
    assert store_items(aws) == []
    assert parameters(aws) == {}


@pytest.mark.parametrize("command", ["show", "verify", "remove", "rotate-token"])
def test_an_unknown_store_is_one_line(cli: Cli, aws: Aws, command: str) -> None:
    line = assert_one_error_line(cli("stores", command, "nosuchstore"))
    assert "unknown store nosuchstore" in line
    assert_nothing_written(aws)


def test_a_wrong_token_writes_nothing(cli: Cli, shop: Shop, aws: Aws) -> None:
    run = cli("stores", "add", shop.hash, "--access-token", "not-the-token", "--client-secret", "s3cret")

    assert "refused the access token" in assert_one_error_line(run)
    assert_nothing_written(aws)
    assert shop.hooks() == []


def test_an_unreachable_api_writes_nothing(cli: Cli, shop: Shop, aws: Aws) -> None:
    run = cli(*shop.add_args(), "--bigcommerce-api-url", closed_port_url())

    assert "unavailable" in assert_one_error_line(run)
    assert_nothing_written(aws)


def test_a_missing_secret_is_a_usage_error(cli: Cli, shop: Shop, aws: Aws) -> None:
    run = cli("stores", "add", shop.hash, "--access-token", shop.access_token)

    assert "missing --client-secret" in assert_one_error_line(run, code=2)
    assert_nothing_written(aws)


def test_an_unreadable_secret_file_is_a_usage_error(cli: Cli, shop: Shop, aws: Aws, tmp_path: Path) -> None:
    run = cli(*shop.add_args()[:5], "--client-secret-file", str(tmp_path / "absent"))

    assert "cannot read --client-secret-file" in assert_one_error_line(run, code=2)
    assert_nothing_written(aws)


@pytest.mark.parametrize(
    ("stages", "why"), [("1h,30m", "increase"), ("soon", "not a duration"), ("", "at least")]
)
def test_bad_stages_are_a_usage_error(cli: Cli, shop: Shop, aws: Aws, stages: str, why: str) -> None:
    run = cli(*shop.add_args(), "--stages", stages)

    line = assert_one_error_line(run, code=2)
    assert "--stages" in line
    assert why in line
    assert_nothing_written(aws)


def test_a_bad_store_hash_is_a_usage_error(cli: Cli, aws: Aws) -> None:
    run = cli("stores", "add", "Not/A-Hash", "--access-token", "t", "--client-secret", "s")

    assert "store hash" in assert_one_error_line(run, code=2)
    assert_nothing_written(aws)


def test_a_missing_info_file_is_one_line(cli: Cli, shop: Shop, tmp_path: Path) -> None:
    run = cli("stores", "list", "--local", "--info-file", str(tmp_path / "nope.json"), local=False)

    assert "start `cartwatch local` first" in assert_one_error_line(run)


def test_an_unknown_stack_is_one_line(cli: Cli, aws: Aws) -> None:
    run = cli("stores", "list", "--stack", "NoSuchCartwatch", local=False)

    assert "stack NoSuchCartwatch not found" in assert_one_error_line(run)


def test_secrets_never_appear_in_output_or_logs(
    cli: Cli, shop: Shop, aws: Aws, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="cartwatch")
    runs = [cli(*shop.add_args(), "--stages", "1h,2h")]
    tokens = [webhook_token(aws, shop.hash)]
    shop.store.deactivate_hook(shop.hooks()[0].id)
    runs += [cli("stores", "show", shop.hash), cli("stores", "list"), cli("stores", "verify", shop.hash)]
    runs.append(cli("stores", "rotate-token", shop.hash))
    tokens.append(webhook_token(aws, shop.hash))
    runs.append(cli("stores", "show", shop.hash))
    # A failing call too: its message must not quote the request either.
    runs.append(
        cli("stores", "add", shop.hash, "--access-token", "wrong-token-value", "--client-secret", "x")
    )

    assert [r.code for r in runs] == [0, 0, 0, 0, 0, 0, 1]
    seen = "\n".join([r.out + r.err for r in runs] + [caplog.text])
    for secret in (shop.access_token, shop.client_secret, "wrong-token-value", *tokens):
        assert secret not in seen


def test_a_wrong_token_on_a_known_store_overwrites_nothing(cli: Cli, shop: Shop, aws: Aws) -> None:
    assert cli(*shop.add_args()).code == 0
    before = (store_items(aws), parameters(aws))

    run = cli("stores", "add", shop.hash, "--access-token", "not-the-token", "--client-secret", "s3cret")

    assert "refused the access token" in assert_one_error_line(run)
    assert (store_items(aws), parameters(aws)) == before


def test_a_hook_bigcommerce_rejects_is_reported_and_add_can_be_rerun(
    cli: Cli, shop: Shop, aws: Aws, sandbox: BigCommerceSandbox
) -> None:
    sandbox.inject_faults(r"/v3/hooks$", [422], method="POST")

    first = cli(*shop.add_args())

    assert "1 of 10 hooks" in assert_one_error_line(first)
    assert "failed: POST /v3/hooks: 422" in first.out
    assert len(shop.hooks()) == len(HOOK_SCOPES) - 1
    [row] = store_items(aws)
    assert len(row["hooks"]["M"]) == len(HOOK_SCOPES) - 1

    second = cli(*shop.add_args())

    assert second.code == 0, second.err
    assert sorted(h.scope for h in shop.hooks()) == sorted(HOOK_SCOPES)
    assert token_headers(shop) == {webhook_token(aws, shop.hash)}
