"""A connected app store keeps its per-channel stages through a re-authorization and a settings
save from the merchant page, and its channel's hook is registered by the app like every other."""

from __future__ import annotations

from dataclasses import replace

import pytest
from tests.integration.app.app_support import AppWorld
from tests.integration.app.test_callbacks import form_token, load

from cartwatch.adapters.store_rows import StoreRows
from cartwatch.domain.stages import ChannelStages

pytestmark = pytest.mark.integration
CHANNEL_TWO = (ChannelStages.parse("2:30m,6h"),)


def test_reinstalling_and_saving_the_page_keep_the_channel_stages_and_their_hook(world: AppWorld) -> None:
    assert world.install().status == 200
    row = world.row()
    assert row is not None
    # The operator gives channel 2 its own stages (what `cartwatch stores update` writes).
    StoreRows(world.pipeline.client("dynamodb"), world.pipeline.resources.table_name).update_settings(
        replace(row.settings, channel_stages=CHANNEL_TWO), own_stages=row.own_stages
    )

    assert world.install().status == 200  # a re-authorization (e.g. a scope change)
    row = world.row()
    assert row is not None and row.settings.channel_stages == CHANNEL_TWO
    hooks = {h.scope: h.is_active for h in world.app_hooks()}
    assert hooks == dict.fromkeys(row.settings.hook_scopes, True)
    assert set(row.hook_ids) == set(row.settings.hook_scopes)

    page = load(world).text
    assert "11 of 11 active" in page  # the channel's hook is one of the store's hooks
    saved = world.post_settings({"form_token": form_token(page), "stages": "2h,1d"})
    assert saved.status_code == 200 and "Saved." in saved.text
    row = world.row()
    assert row is not None and str(row.settings.stages) == "2h,1d"
    assert row.settings.channel_stages == CHANNEL_TWO
