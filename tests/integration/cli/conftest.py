"""`cartwatch stores …` in-process against moto server (HTTP) and the BigCommerce sandbox (loopback).

Each test gets fresh AWS resources (the ``aws`` fixture), its own sandbox, and an info file
like the one `cartwatch local` writes, pointing at both.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.integration.cli.cli_support import CLIENT_ID, WEBHOOK_BASE_URL, CliRun, Shop
from tests.integration.conftest import Aws
from tests.support import unique_name

from cartwatch_tools.cli.info_file import LocalInfo
from cartwatch_tools.cli.main import main
from cartwatch_tools.sandbox import BigCommerceSandbox


@pytest.fixture(autouse=True)
def _no_secrets_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CARTWATCH_ACCESS_TOKEN", raising=False)
    monkeypatch.delenv("CARTWATCH_CLIENT_SECRET", raising=False)


@pytest.fixture
def sandbox() -> Iterator[BigCommerceSandbox]:
    with BigCommerceSandbox(allow_http_destinations=True, abandon_after=None, time_scale=1e-6, seed=5) as sb:
        yield sb


@pytest.fixture
def shop(sandbox: BigCommerceSandbox) -> Shop:
    # Distinctive values, so a test can look for them anywhere they must not be.
    access_token = f"access-{secrets.token_hex(12)}"
    client_secret = f"client-{secrets.token_hex(12)}"
    store = sandbox.add_store(unique_name("s"), access_token, client_secret, client_id=CLIENT_ID)
    return Shop(store, access_token, client_secret)


@pytest.fixture
def info_file(tmp_path: Path, aws: Aws, sandbox: BigCommerceSandbox) -> Path:
    path = tmp_path / ".cartwatch" / "local.json"
    resources = aws.resources
    LocalInfo(
        webhook_base_url=WEBHOOK_BASE_URL,
        api_url="http://127.0.0.1:9",
        aws_endpoint_url=resources.endpoint_url,
        region=resources.region,
        topic_arn=resources.topic_arn,
        bigcommerce_api_url=sandbox.url,
        table_name=resources.table_name,
        credentials_table_name=resources.credentials_table_name,
        ssm_prefix=aws.prefix,
        intake_queue_url=resources.intake_queue_url,
        intake_dlq_url=resources.intake_dlq_url,
        publisher_dlq_url=resources.publisher_dlq_url,
        archive_bucket=resources.archive_bucket,
        pid=os.getpid(),
        sandbox=True,
    ).write(path)
    return path


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], info_file: Path) -> Callable[..., CliRun]:
    """``cli("stores", "list")`` runs the command against the info file; ``local=False`` does not add it."""

    def run(*args: str, local: bool = True) -> CliRun:
        argv = [*args, "--local", "--info-file", str(info_file)] if local else list(args)
        code = main(argv)
        out, err = capsys.readouterr()
        return CliRun(code, out, err)

    return run
