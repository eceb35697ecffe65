"""The merchant page's settings form accepts exactly what the CLI accepts."""

from __future__ import annotations

import argparse

import pytest

from cartwatch.domain.merchant_settings import (
    SETTINGS_FIELDS,
    InvalidSettings,
    SettingsChange,
    read_settings_form,
)
from cartwatch.domain.stages import StageSchedule
from cartwatch.domain.store import StoreSettings
from cartwatch_tools.cli.stores import _stages as cli_stages


def test_a_filled_form_becomes_a_change() -> None:
    change = read_settings_form({"stages": " 2h, 1d ", "recovery_links": "on", "form_token": "t"})
    assert change == SettingsChange(stages=StageSchedule((7200, 86400)), recovery_links=True)


def test_empty_stages_mean_the_default_and_an_unticked_box_means_off() -> None:
    assert read_settings_form({"stages": ""}) == SettingsChange(stages=None, recovery_links=False)


@pytest.mark.parametrize("stages", ["1h,30m", "0s", "1x", "1h,1h", "31d", ",".join(["1h"] * 11), "1h;2h"])
def test_stages_the_cli_refuses_are_refused_with_the_cli_s_words(stages: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as cli:
        cli_stages(stages)
    with pytest.raises(InvalidSettings) as form:
        read_settings_form({"stages": stages})
    assert form.value.errors == {"stages": str(cli.value)}


@pytest.mark.parametrize("stages", ["1h", "30s,15m", "1h,24h,48h", "1d, 2d ,3d"])
def test_stages_the_cli_accepts_are_accepted(stages: str) -> None:
    assert read_settings_form({"stages": stages}).stages == cli_stages(stages)


def test_every_bad_field_is_named_at_once() -> None:
    with pytest.raises(InvalidSettings) as invalid:
        read_settings_form({"stages": "soon", "recovery_links": "yes please"})
    assert set(invalid.value.errors) == {"stages", "recovery_links"}


def test_an_oversized_value_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(InvalidSettings) as invalid:
        read_settings_form({"stages": "1h," * 100})
    assert invalid.value.errors == {"stages": "at most 200 characters"}


def test_the_form_shows_the_store_s_current_settings() -> None:
    settings = StoreSettings("s1", StageSchedule.parse("2h,1d"), recovery_links=True)
    shown = {f.name: f.current(settings, True) for f in SETTINGS_FIELDS}
    assert shown == {"stages": "2h,1d", "recovery_links": True}
    # A store following the deployment's default shows an empty stages field.
    assert {f.name: f.current(settings, False) for f in SETTINGS_FIELDS}["stages"] == ""
