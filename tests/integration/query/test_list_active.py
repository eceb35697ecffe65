"""`status=active` lists open carts never abandoned only for a store that opted in
(`cartwatch stores update … --list-active`); the others are listed as before."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from tests.integration.pipeline_support import World
from tests.integration.query.query_support import HOUR, api_client
from tests.integration.query.test_cli import info_file

from cartwatch_tools.cli.main import main

pytestmark = pytest.mark.integration


def active_ids(world: World) -> list[str]:
    response = api_client(world).list_carts(world.store_hash, status="active")
    assert response.status == 200, response.body
    return [cart["cart_id"] for cart in response.body["carts"]]


def test_an_opted_in_store_lists_its_open_carts_from_their_first_write(
    fresh: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = fresh.shop.storefront_add_to_cart(88, 1)
    fresh.deliver()
    fresh.pipeline.drain()
    assert active_ids(fresh) == []  # not opted in: an open cart is listed once abandoned

    target = ["--local", "--info-file", str(info_file(fresh, tmp_path))]
    capsys.readouterr()
    assert main(["stores", "update", fresh.store_hash, "--list-active", *target]) == 0
    assert "list active     yes" in capsys.readouterr().out
    time.sleep(1.1)  # the functions' store cache (1 s in `cartwatch local`)

    after = fresh.shop.storefront_add_to_cart(104, 2)
    fresh.deliver()
    fresh.pipeline.drain()
    listed = api_client(fresh).list_carts(fresh.store_hash, status="active").body["carts"]
    # Carts opened since are listed with their activity; one opened before waits for a transition.
    assert [cart["cart_id"] for cart in listed] == [after]
    assert listed[0]["last_activity_at"] is not None and listed[0]["stage_reached"] == 0
    fresh.shop.storefront_add_to_cart(111, 1, cart_id=before)
    fresh.deliver()
    fresh.pipeline.drain(now=int(time.time()) + HOUR + 60)  # both idle past stage 1
    assert active_ids(fresh) == []
    abandoned = api_client(fresh).list_carts(fresh.store_hash, status="abandoned").body["carts"]
    assert {cart["cart_id"] for cart in abandoned} == {before, after}

    capsys.readouterr()
    assert main(["stores", "update", fresh.store_hash, "--no-list-active", *target]) == 0
    assert "list active     no" in capsys.readouterr().out
