"""Issue 17: docs/query-api.md's curl and CLI examples, exactly as written, against a running
`cartwatch local`, signed with the credentials its info file publishes."""

from __future__ import annotations

import json

import pytest
from tests.e2e.conftest import Quickstart
from tests.e2e.documented import documented_commands, run_documented, stats_totals

pytestmark = pytest.mark.e2e

DOC = "docs/query-api.md"


def signing_variables(quickstart: Quickstart) -> dict[str, str]:
    """The variables the doc tells a local reader to set, from the info file's fields it names."""
    info = quickstart.run.info
    return {
        "API_URL": info["api_url"],
        "AWS_REGION": info["region"],
        "AWS_ACCESS_KEY_ID": info["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": info["aws_secret_access_key"],
    }


def test_the_info_file_publishes_what_a_sigv4_client_needs(quickstart: Quickstart) -> None:
    info = quickstart.run.info
    assert info["sigv4_service"] == "execute-api"
    assert info["region"] and info["aws_access_key_id"] and info["aws_secret_access_key"]


def test_the_documented_curl_request_lists_the_abandoned_carts(quickstart: Quickstart) -> None:
    [curl] = documented_commands(DOC, "query-api-curl")
    done = run_documented(curl, quickstart.run.workdir, **signing_variables(quickstart))
    assert done.returncode == 0, done.stdout + done.stderr
    page = json.loads(done.stdout)
    assert {cart["cart_id"] for cart in page["carts"]} == quickstart.carts("abandons")
    assert {cart["status"] for cart in page["carts"]} == {"abandoned"}


def test_the_documented_curl_request_with_a_wrong_secret_is_refused(quickstart: Quickstart) -> None:
    [curl] = documented_commands(DOC, "query-api-curl")
    variables = signing_variables(quickstart) | {"AWS_SECRET_ACCESS_KEY": "not-the-local-secret"}
    done = run_documented(curl, quickstart.run.workdir, **variables)
    assert done.returncode == 22  # curl's exit status for an HTTP error under --fail-with-body
    assert json.loads(done.stdout) == {"message": "signature does not match"}


def test_the_documented_cli_commands_print_the_expected_carts(quickstart: Quickstart) -> None:
    with_email, bought, show, suppress, erase, stats, erase_shopper = documented_commands(
        DOC, "query-api-cli"
    )
    workdir = quickstart.run.workdir
    abandoned = json.loads(quickstart.run.cli("carts", "list", "mystore", "--local", "--json").stdout)
    emails = {c["cart_id"]: (c["customer"] or {}).get("email") for c in abandoned["carts"]}
    expected = {cart for cart in quickstart.carts("abandons") if emails.get(cart)}
    assert expected

    listed = run_documented(with_email, workdir)
    assert listed.returncode == 0, listed.stderr
    assert {line.split()[0] for line in listed.stdout.splitlines()} == expected

    pages = run_documented(bought, workdir)
    assert pages.returncode == 0, pages.stderr
    carts = [cart for line in pages.stdout.splitlines() for cart in json.loads(line)["carts"]]
    assert {cart["cart_id"]: cart["status"] for cart in carts} == {
        **{cart: "recovered" for cart in quickstart.carts("returns")},
        **{cart: "converted" for cart in quickstart.carts("buys")},
    }

    # A cart that came back after its first reminder and was bought.
    cart_id = sorted(quickstart.carts("returns"))[0]
    shown = run_documented(show, workdir, CART_ID=cart_id)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split()[:2] == [cart_id, "recovered"]
    events = shown.stdout.partition("  events\n")[2].splitlines()
    assert [line.split()[1] for line in events] == ["cartwatch.cart.abandoned", "cartwatch.cart.recovered"]

    suppressed = run_documented(suppress, workdir, CART_ID=cart_id)
    assert suppressed.stdout == f"cart {cart_id}: reminders suppressed (recovered)\n", suppressed.stderr

    erased = run_documented(erase, workdir, CART_ID=cart_id)
    assert erased.stdout == f"cart {cart_id} erased\n", erased.stderr
    gone = run_documented(show, workdir, CART_ID=cart_id)
    assert gone.returncode == 1
    assert gone.stderr == f"cartwatch: error: no cart {cart_id} in store mystore\n"

    # The erased cart left every index, but not the store's anonymous figures.
    totals = [
        len(quickstart.report["carts"]),
        len(quickstart.carts("abandons")) + len(quickstart.carts("returns")),
        len(quickstart.carts("returns")),
        len(quickstart.carts("buys")),
    ]
    assert stats_totals(stats, workdir, totals) == totals

    # The shopper of one abandoned cart asks to be forgotten: every cart with their email goes.
    shopper = sorted(emails[cart] for cart in expected)[0]
    theirs = {c for c, email in emails.items() if email and email.casefold() == shopper.casefold()} - {
        cart_id
    }
    forgotten = run_documented(erase_shopper, workdir, EMAIL=shopper.upper())
    assert forgotten.returncode == 0, forgotten.stderr
    assert forgotten.stdout.splitlines()[0] == f"{len(theirs)} cart(s) of {shopper.upper()} erased"
    assert {line.strip() for line in forgotten.stdout.splitlines()[1:]} == theirs
    for cart in theirs:
        assert run_documented(show, workdir, CART_ID=cart).returncode == 1
