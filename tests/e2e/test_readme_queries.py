"""Issue 17: the README's query commands, exactly as written, against a running `cartwatch local`
whose carts went through the pipeline — and the documented 404 for an unknown store."""

from __future__ import annotations

import pytest
import requests
from tests.e2e.conftest import Quickstart
from tests.e2e.documented import documented_commands, run_documented, stats_totals

pytestmark = pytest.mark.e2e

LIST, SHOW, SUPPRESS, STATS = documented_commands("README.md", "readme-local-queries")


def test_the_readme_query_commands_print_the_expected_carts(quickstart: Quickstart) -> None:
    workdir = quickstart.run.workdir
    abandoned = quickstart.carts("abandons")

    listed = run_documented(LIST, workdir)
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()]
    assert {row[0] for row in rows} == abandoned
    assert all(row[1:4] == ["abandoned", "stage", "2"] for row in rows), listed.stdout

    cart_id = sorted(abandoned)[0]
    shown = run_documented(SHOW, workdir, CART_ID=cart_id)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split()[:2] == [cart_id, "abandoned"]
    history = shown.stdout.partition("  history\n")[2].partition("  events\n")[0]
    assert [line.split()[-1] for line in history.splitlines()][-2:] == ["sweep", "sweep"]
    events = shown.stdout.partition("  events\n")[2].splitlines()
    assert [line.split()[1] for line in events] == ["cartwatch.cart.abandoned"] * 2

    suppressed = run_documented(SUPPRESS, workdir, CART_ID=cart_id)
    assert suppressed.returncode == 0, suppressed.stderr
    assert suppressed.stdout == f"cart {cart_id}: reminders suppressed (abandoned)\n"
    relisted = run_documented(LIST, workdir)
    assert [line.split()[0] for line in relisted.stdout.splitlines() if line.endswith("suppressed")] == [
        cart_id
    ]

    # Every cart the shoppers opened; "abandoned" counts each cart whose latest abandonment
    # started in the range, bought since or not.
    expected = [
        len(quickstart.report["carts"]),
        len(abandoned | quickstart.carts("returns")),
        len(quickstart.carts("returns")),
        len(quickstart.carts("buys")),
    ]
    assert stats_totals(STATS, workdir, expected) == expected
    assert "Traceback" not in listed.stderr + shown.stderr + suppressed.stderr


def test_an_unknown_store_is_the_documented_404(quickstart: Quickstart) -> None:
    command = quickstart.run.cli("carts", "list", "nostore", "--local", "--status", "abandoned")
    assert command.returncode == 1
    assert command.stderr == "cartwatch: error: no store nostore\n"
    assert command.stdout == ""

    # The answer under the CLI, to a request signed with only what the info file publishes.
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    info = quickstart.run.info
    request = AWSRequest(method="GET", url=f"{info['api_url']}/v1/stores/nostore/carts")
    credentials = Credentials(info["aws_access_key_id"], info["aws_secret_access_key"])
    SigV4Auth(credentials, info["sigv4_service"], info["region"]).add_auth(request)
    answer = requests.get(request.url, headers=dict(request.headers.items()), timeout=30)
    assert answer.status_code == 404
    assert answer.json() == {"error": "no store nostore", "fields": []}
