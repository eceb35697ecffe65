"""`cartwatch app configure|show` and `cartwatch sandbox …`: one-line errors, secrets never shown."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.integration.cli.cli_support import CliRun, assert_one_error_line, parameters
from tests.integration.conftest import Aws

from cartwatch.adapters.store_registry import app_credentials_parameter

pytestmark = pytest.mark.integration

SECRET = "app-secret-9f8e7d6c5b4a39281706"


def test_configure_stores_the_credentials_encrypted_and_prints_the_portal_urls(
    cli: Callable[..., CliRun], aws: Aws, tmp_path: Path
) -> None:
    secret_file = tmp_path / "app-secret.txt"
    secret_file.write_text(SECRET + "\n")
    run = cli("app", "configure", "--client-id", "abc123app", "--client-secret-file", str(secret_file))
    assert run.code == 0, run
    assert "Auth Callback URL         http://127.0.0.1:9/bigcommerce/app/auth" in run.out
    assert "Uninstall Callback URL    http://127.0.0.1:9/bigcommerce/app/uninstall" in run.out
    stored = parameters(aws)[app_credentials_parameter(aws.prefix)]
    assert stored["Type"] == "SecureString"
    assert json.loads(stored["Value"]) == {"client_id": "abc123app", "client_secret": SECRET}

    shown = cli("app", "show")
    assert shown.code == 0 and "abc123app" in shown.out and "****1706" in shown.out
    assert SECRET not in run.out + run.err + shown.out + shown.err


def test_show_before_configure_says_what_to_run(cli: Callable[..., CliRun]) -> None:
    line = assert_one_error_line(cli("app", "show"))
    assert "run `cartwatch app configure` first" in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--client-id", "bad id!", "--client-secret", SECRET], "--client-id must be the app's client id"),
        (["--client-id", "abc"], "missing --client-secret"),
    ],
)
def test_configure_refuses_what_is_not_an_app_s_credentials(
    cli: Callable[..., CliRun], args: list[str], expected: str
) -> None:
    line = assert_one_error_line(cli("app", "configure", *args), code=2)
    assert expected in line and SECRET not in line


def test_sandbox_commands_say_when_the_sandbox_knows_no_app(cli: Callable[..., CliRun]) -> None:
    line = assert_one_error_line(cli("sandbox", "install-app", "somestore"))
    assert "--sandbox-app CLIENT_ID:SECRET" in line
