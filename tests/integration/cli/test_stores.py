"""`cartwatch stores add|list|show|remove|verify|rotate-token` against moto server and the sandbox."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.integration.cli.cli_support import (
    CLIENT_ID,
    CliRun,
    Shop,
    assert_one_error_line,
    parameters,
    store_items,
    stored_auth,
    token_headers,
    webhook_token,
)
from tests.integration.conftest import Aws

from cartwatch.adapters.store_registry import api_parameter
from cartwatch.domain.cart_webhooks import HOOK_SCOPES
from cartwatch.domain.store import ROTATION_GRACE_SECONDS, TOKEN_HEADER
from cartwatch_tools.sandbox import BigCommerceSandbox

Cli = Callable[..., CliRun]


def test_add_twice_leaves_one_hook_per_scope_each_with_the_token(cli: Cli, shop: Shop, aws: Aws) -> None:
    other = shop.store.hooks.create(
        CLIENT_ID, {"scope": "store/cart/created", "destination": "https://elsewhere.example/hook"}
    )

    first = cli(*shop.add_args(), "--stages", "2h,1d", "--require-signature")
    second = cli(*shop.add_args())

    assert first.code == 0, first.err
    assert second.code == 0, second.err
    assert "10 created" in first.out
    assert "10 ok" in second.out
    ours = [h for h in shop.hooks() if h.destination == shop.destination]
    assert sorted(h.scope for h in ours) == sorted(HOOK_SCOPES)
    assert all(h.is_active for h in ours)
    token = webhook_token(aws, shop.hash)
    assert {(h.headers or {}).get(TOKEN_HEADER) for h in ours} == {token}
    # Someone else's hook (another destination) is left exactly as it was.
    assert shop.store.hooks.get(CLIENT_ID, other.id) == other

    params = parameters(aws)
    assert params[api_parameter(aws.prefix, shop.hash)]["Type"] == "SecureString"
    assert json.loads(params[api_parameter(aws.prefix, shop.hash)]["Value"]) == {
        "access_token": shop.access_token
    }
    # The webhook credentials are in their table, none in SSM.
    assert set(params) == {api_parameter(aws.prefix, shop.hash)}
    auth = stored_auth(aws, shop.hash)
    assert auth["client_secret"] == shop.client_secret
    # The second add kept what the first set and it did not repeat.
    assert auth["require_signature"] is True
    [row] = store_items(aws)
    assert row["stages"]["S"] == "2h,1d"
    assert {scope: int(v["N"]) for scope, v in row["hooks"]["M"].items()} == {h.scope: h.id for h in ours}


def test_a_store_added_without_stages_follows_the_default(cli: Cli, shop: Shop, aws: Aws) -> None:
    assert cli(*shop.add_args()).code == 0

    [row] = store_items(aws)
    assert "stages" not in row
    listing = cli("stores", "list")
    assert listing.code == 0
    # No channel has stages of its own: nothing in CHANNEL STAGES.
    assert [line.split() for line in listing.out.splitlines()][1] == [
        shop.hash,
        "default",
        "-",
        "active",
        "10/10",
    ]


def test_secrets_can_come_from_files_and_the_environment(
    cli: Cli, shop: Shop, aws: Aws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(shop.access_token + "\n")
    monkeypatch.setenv("CARTWATCH_CLIENT_SECRET", shop.client_secret)

    run = cli("stores", "add", shop.hash, "--access-token-file", str(token_file))

    assert run.code == 0, run.err
    params = parameters(aws)
    assert (
        json.loads(params[api_parameter(aws.prefix, shop.hash)]["Value"])["access_token"] == shop.access_token
    )


def test_verify_reactivates_a_hook_bigcommerce_deactivated(cli: Cli, shop: Shop) -> None:
    assert cli(*shop.add_args()).code == 0
    victim = shop.hooks()[3]
    shop.store.deactivate_hook(victim.id)

    run = cli("stores", "verify", shop.hash)

    assert run.code == 0, run.err
    assert "reactivated" in run.out
    assert "carts ok, customers ok, orders ok" in run.out
    assert shop.store.hooks.get(CLIENT_ID, victim.id).is_active


def test_verify_recreates_a_missing_hook(cli: Cli, shop: Shop, aws: Aws) -> None:
    assert cli(*shop.add_args()).code == 0
    gone = shop.hooks()[0]
    shop.store.hooks.delete(CLIENT_ID, gone.id)

    run = cli("stores", "verify", shop.hash)

    assert run.code == 0, run.err
    assert sorted(h.scope for h in shop.hooks()) == sorted(HOOK_SCOPES)
    assert token_headers(shop) == {webhook_token(aws, shop.hash)}


def test_verify_with_a_revoked_token_fails_with_one_line(
    cli: Cli, shop: Shop, sandbox: BigCommerceSandbox
) -> None:
    assert cli(*shop.add_args()).code == 0
    sandbox.inject_faults(rf"^/stores/{shop.hash}/", [401] * 20)

    run = cli("stores", "verify", shop.hash)

    line = assert_one_error_line(run)
    assert "refused the access token" in line


def test_remove_deletes_hooks_row_secrets_and_carts(cli: Cli, shop: Shop, aws: Aws) -> None:
    assert cli(*shop.add_args()).code == 0
    dynamodb = aws.client("dynamodb")
    for pk in (f"CART#{shop.hash}#c1", "CART#someoneelse#c1"):
        dynamodb.put_item(TableName=aws.resources.table_name, Item={"pk": {"S": pk}, "sk": {"S": "STATE"}})

    run = cli("stores", "remove", shop.hash)

    assert run.code == 0, run.err
    assert "10 hook(s) deleted, 1 cart item(s) deleted" in run.out
    assert shop.hooks() == []
    assert [i["pk"]["S"] for i in aws.table_items()] == ["CART#someoneelse#c1"]
    assert parameters(aws) == {}


def test_rotate_token_gives_every_hook_the_new_token(cli: Cli, shop: Shop, aws: Aws) -> None:
    assert cli(*shop.add_args()).code == 0
    old = webhook_token(aws, shop.hash)

    run = cli("stores", "rotate-token", shop.hash)

    assert run.code == 0, run.err
    new = webhook_token(aws, shop.hash)
    assert new != old
    assert token_headers(shop) == {new}
    assert len(shop.hooks()) == len(HOOK_SCOPES)
    # The old token keeps working for deliveries BigCommerce sends before its hooks switch.
    auth = stored_auth(aws, shop.hash)
    assert auth["previous_token"] == old
    assert 0 < auth["previous_token_until"] - time.time() <= ROTATION_GRACE_SECONDS
    assert "the previous one is accepted for 15 more minutes" in run.out
    shown = cli("stores", "show", shop.hash)
    assert f"previous token     ****{old[-4:]} accepted until" in shown.out
    assert shown.out.count("active, token ok") == len(HOOK_SCOPES)

    # Re-adding the store during the grace period keeps it; a second rotation replaces it.
    assert cli(*shop.add_args()).code == 0
    after_add = stored_auth(aws, shop.hash)
    assert after_add["token"] == new
    assert after_add["previous_token"] == old
    assert cli("stores", "rotate-token", shop.hash).code == 0
    assert stored_auth(aws, shop.hash)["previous_token"] == new


def test_show_masks_secrets_and_reports_hooks(cli: Cli, shop: Shop) -> None:
    assert cli(*shop.add_args()).code == 0
    shop.store.deactivate_hook(shop.hooks()[0].id)

    run = cli("stores", "show", shop.hash)

    assert run.code == 0, run.err
    assert f"****{shop.access_token[-4:]}" in run.out
    assert f"****{shop.client_secret[-4:]}" in run.out
    assert "inactive, token ok" in run.out
    assert run.out.count("active, token ok") == len(HOOK_SCOPES)


def test_the_deployed_stack_is_found_by_its_outputs(
    cli: Cli, shop: Shop, aws: Aws, sandbox: BigCommerceSandbox
) -> None:
    assert cli(*shop.add_args()).code == 0
    stack = f"Cartwatch{aws.resources.table_name.replace('-', '')}"
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {
            "TableName": {"Value": aws.resources.table_name},
            "CredentialsTableName": {"Value": aws.resources.credentials_table_name},
            "WebhookBaseUrl": {
                "Value": "https://example.execute-api.us-east-1.amazonaws.com/webhooks/bigcommerce"
            },
        },
    }
    aws.client("cloudformation").create_stack(StackName=stack, TemplateBody=json.dumps(template))

    run = cli("stores", "list", "--stack", stack, "--ssm-prefix", aws.prefix, local=False)

    assert run.code == 0, run.err
    assert shop.hash in run.out
    # …and the webhook credentials where that stack keeps them.
    where = ["--stack", stack, "--ssm-prefix", aws.prefix, "--bigcommerce-api-url", sandbox.url]
    shown = cli("stores", "show", shop.hash, *where, local=False)
    assert shown.code == 0, shown.err
    assert f"****{shop.client_secret[-4:]}" in shown.out


def test_eligibility_rules_are_set_by_add_and_changed_by_update(cli: Cli, shop: Shop, aws: Aws) -> None:
    added = cli(*shop.add_args(), "--min-value", "10.00", "--require-consent")
    assert added.code == 0, added.err
    [row] = store_items(aws)
    assert (row["min_value"]["S"], row["require_email"]["BOOL"], row["require_consent"]["BOOL"]) == (
        "10.00",
        True,
        True,
    )
    shown = cli("stores", "show", shop.hash)
    assert "min value 10.00, email required, consent required" in shown.out

    # update changes only what it is given, and leaves hooks and secrets alone.
    secrets_before = parameters(aws)
    updated = cli(
        "stores", "update", shop.hash, "--min-value", "0", "--no-require-email", "--stages", "30m,2h"
    )
    assert updated.code == 0, updated.err
    assert "eligibility     no min value, email not required, consent required" in updated.out
    [after] = store_items(aws)
    assert "min_value" not in after and after["require_email"]["BOOL"] is False
    assert after["require_consent"]["BOOL"] is True and after["stages"]["S"] == "30m,2h"
    assert after["hooks"] == row["hooks"] and after["created_at"] == row["created_at"]
    assert parameters(aws) == secrets_before
    # Re-adding without the options keeps them.
    assert cli(*shop.add_args()).code == 0
    [readded] = store_items(aws)
    assert readded["require_email"]["BOOL"] is False and readded["require_consent"]["BOOL"] is True


@pytest.mark.parametrize("value", ["ten", "-1", "1e13"])
def test_a_bad_min_value_is_one_line_and_writes_nothing(cli: Cli, shop: Shop, aws: Aws, value: str) -> None:
    refused = cli(*shop.add_args(), "--min-value", value)
    assert refused.code == 2 and "--min-value" in refused.err and "Traceback" not in refused.err
    assert store_items(aws) == []


def test_update_of_an_unknown_store_is_one_line(cli: Cli, shop: Shop) -> None:
    refused = cli("stores", "update", shop.hash, "--min-value", "5")
    assert f"unknown store {shop.hash}" in assert_one_error_line(refused)


def test_reminders_per_shopper_by_default_and_per_cart_when_asked(cli: Cli, shop: Shop, aws: Aws) -> None:
    added = cli(*shop.add_args())
    assert added.code == 0, added.err
    [row] = store_items(aws)
    assert row["reminders"]["S"] == "per_shopper"
    assert "reminders          per_shopper" in cli("stores", "show", shop.hash).out

    updated = cli("stores", "update", shop.hash, "--reminders", "per_cart")
    assert updated.code == 0, updated.err
    assert "reminders       per_cart" in updated.out
    [after] = store_items(aws)
    assert after["reminders"]["S"] == "per_cart"
    # Other settings stay; re-adding without the option keeps it.
    assert after["require_email"] == row["require_email"] and after["hooks"] == row["hooks"]
    assert cli(*shop.add_args()).code == 0
    assert store_items(aws)[0]["reminders"]["S"] == "per_cart"
    assert cli(*shop.add_args(), "--reminders", "per_shopper").code == 0
    assert store_items(aws)[0]["reminders"]["S"] == "per_shopper"


def test_an_unknown_reminders_setting_is_one_line_and_writes_nothing(cli: Cli, shop: Shop, aws: Aws) -> None:
    refused = cli(*shop.add_args(), "--reminders", "per_household")
    assert refused.code == 2 and "--reminders" in refused.err and "per_shopper, per_cart" in refused.err
    assert "Traceback" not in refused.err
    assert store_items(aws) == []


def test_credentials_an_older_cartwatch_kept_in_ssm_move_into_their_table(
    cli: Cli, shop: Shop, aws: Aws
) -> None:
    from cartwatch.adapters.store_registry import legacy_webhook_auth_parameter

    assert cli(*shop.add_args()).code == 0
    token = webhook_token(aws, shop.hash)
    # As deployments before the credentials table kept them: an SSM parameter, no table item.
    legacy = {"client_secret": shop.client_secret, "token": token, "require_signature": True}
    aws.client("ssm").put_parameter(
        Name=legacy_webhook_auth_parameter(aws.prefix, shop.hash),
        Value=json.dumps(legacy),
        Type="SecureString",
    )
    aws.writer().credentials.delete(shop.hash)

    moved = cli("stores", "migrate-credentials")

    assert moved.code == 0, moved.err
    assert moved.out.strip() == f"1 store(s) moved: {shop.hash}"
    auth = stored_auth(aws, shop.hash)
    assert (auth["client_secret"], auth["token"], auth["require_signature"]) == (
        shop.client_secret,
        token,
        True,
    )
    assert legacy_webhook_auth_parameter(aws.prefix, shop.hash) not in parameters(aws)
    # Safe to repeat.
    again = cli("stores", "migrate-credentials")
    assert (again.code, again.out.strip()) == (0, "nothing to move")
