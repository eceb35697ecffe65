"""`cartwatch stores add|update --channel-stages / --clear-channel-stages` against moto server and
the sandbox: stored on the row, a hook per channel, shown by `show` and `list`, kept unless changed,
and every bad value refused in one line with nothing stored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tests.integration.cli.cli_support import CliRun, Shop, assert_one_error_line, parameters, store_items
from tests.integration.conftest import Aws

from cartwatch.domain.cart_webhooks import HOOK_SCOPES
from cartwatch_tools.sandbox import BigCommerceSandbox

Cli = Callable[..., CliRun]
ONE, TWO = "store/channel/1/cart/created", "store/channel/2/cart/created"


def channel_stages(row: dict[str, Any]) -> dict[str, str]:
    return {channel: value["S"] for channel, value in row.get("channel_stages", {}).get("M", {}).items()}


def our_scopes(shop: Shop) -> list[str]:
    return sorted(h.scope for h in shop.hooks() if h.destination == shop.destination and h.is_active)


def test_channel_stages_are_stored_hooked_and_shown(cli: Cli, shop: Shop, aws: Aws) -> None:
    added = cli(*shop.add_args(), "--channel-stages", "2:30m,6h", "--channel-stages", "1:1h,24h,48h")

    assert added.code == 0, added.err
    assert "12 created" in added.out
    [row] = store_items(aws)
    assert channel_stages(row) == {"1": "1h,1d,2d", "2": "30m,6h"}
    assert "stages" not in row  # the store itself still follows the deployment's default
    assert our_scopes(shop) == sorted([*HOOK_SCOPES, ONE, TWO])
    assert set(row["hooks"]["M"]) == {*HOOK_SCOPES, ONE, TWO}

    shown = cli("stores", "show", shop.hash)
    assert shown.code == 0, shown.err
    assert "channel 1 stages   1h,1d,2d" in shown.out and "channel 2 stages   30m,6h" in shown.out
    assert shown.out.count("active, token ok") == len(HOOK_SCOPES) + 2
    assert f"{TWO}  " in shown.out
    listed = cli("stores", "list")
    assert listed.code == 0, listed.err
    assert [line.split() for line in listed.out.splitlines()][1] == [
        shop.hash,
        "default",
        "1:1h,1d,2d",
        "2:30m,6h",
        "active",
        "12/12",
    ]


def test_update_changes_the_channels_given_and_keeps_the_others(
    cli: Cli, shop: Shop, aws: Aws, sandbox: BigCommerceSandbox
) -> None:
    assert cli(*shop.add_args(), "--channel-stages", "1:2h", "--channel-stages", "2:30m,6h").code == 0
    hooks_before = {h.scope: h.id for h in shop.hooks()}

    # Options other than channel stages: the channels and their hooks stay, and BigCommerce is
    # not asked (its next answer to the store, whatever the request, would be a 401).
    sandbox.faults.inject(f"/stores/{shop.hash}/", [401])
    kept = cli("stores", "update", shop.hash, "--min-value", "5")
    sandbox.faults.clear()
    assert kept.code == 0, kept.err
    assert "channel stages  1:2h 2:30m,6h" in kept.out
    assert channel_stages(store_items(aws)[0]) == {"1": "2h", "2": "30m,6h"}
    assert {h.scope: h.id for h in shop.hooks()} == hooks_before

    # Channel 2 changes, channel 1 goes back to the store's stages, channel 3 is new.
    secrets_before = parameters(aws)
    changed = cli(
        "stores",
        "update",
        shop.hash,
        "--channel-stages",
        "2:15m,1h",
        "--channel-stages",
        "3:45m",
        "--clear-channel-stages",
        "1",
    )
    assert changed.code == 0, changed.err
    assert "channel stages  2:15m,1h 3:45m" in changed.out
    assert "1 created" in changed.out and "1 retired" in changed.out
    [row] = store_items(aws)
    assert channel_stages(row) == {"2": "15m,1h", "3": "45m"}
    three = "store/channel/3/cart/created"
    assert our_scopes(shop) == sorted([*HOOK_SCOPES, TWO, three])
    assert set(row["hooks"]["M"]) == {*HOOK_SCOPES, TWO, three}
    assert parameters(aws) == secrets_before

    # Re-adding the store without channel options keeps them.
    assert cli(*shop.add_args()).code == 0
    assert channel_stages(store_items(aws)[0]) == {"2": "15m,1h", "3": "45m"}
    assert our_scopes(shop) == sorted([*HOOK_SCOPES, TWO, three])

    # The last channel cleared: the row loses the attribute, the store its channel hooks.
    cleared = cli("stores", "update", shop.hash, "--clear-channel-stages", "2", "--clear-channel-stages", "3")
    assert cleared.code == 0, cleared.err
    assert "channel stages  -" in cleared.out
    assert "channel_stages" not in store_items(aws)[0]
    assert our_scopes(shop) == sorted(HOOK_SCOPES)


BAD = [
    (["--channel-stages", "30m,6h"], "is not CHANNEL:STAGES"),
    (["--channel-stages", "0:1h"], "'0' is not a channel id"),
    (["--channel-stages=-2:1h"], "'-2' is not a channel id"),
    (["--channel-stages", "two:1h"], "'two' is not a channel id"),
    (["--channel-stages", "2:1h,30m"], "channel 2: stage delays must increase"),
    (["--channel-stages", "2:soon"], "channel 2: 'soon' is not a duration"),
    (["--channel-stages", "2:"], "is not CHANNEL:STAGES"),
    (["--channel-stages", "2:1h", "--channel-stages", "2:2h"], "channel 2 is given more than one schedule"),
    (
        ["--channel-stages", "2:1h", "--clear-channel-stages", "2"],
        "channel 2 is both given stages and cleared",
    ),
    (["--clear-channel-stages", "0"], "'0' is not a channel id"),
]


@pytest.mark.parametrize(("options", "says"), BAD)
def test_a_bad_channel_schedule_added_is_one_line_and_stores_nothing(
    cli: Cli, shop: Shop, aws: Aws, options: list[str], says: str
) -> None:
    line = assert_one_error_line(cli(*shop.add_args(), *options), code=2)
    assert "channel-stages" in line and says in line
    assert store_items(aws) == [] and parameters(aws) == {}
    assert shop.hooks() == []


@pytest.mark.parametrize(("options", "says"), BAD)
def test_a_bad_channel_schedule_updated_is_one_line_and_changes_nothing(
    cli: Cli, shop: Shop, aws: Aws, options: list[str], says: str
) -> None:
    assert cli(*shop.add_args(), "--channel-stages", "2:30m,6h").code == 0
    before, hooks = store_items(aws), {h.id for h in shop.hooks()}

    line = assert_one_error_line(cli("stores", "update", shop.hash, "--min-value", "5", *options), code=2)

    assert "channel-stages" in line and says in line
    assert store_items(aws) == before
    assert {h.id for h in shop.hooks()} == hooks
