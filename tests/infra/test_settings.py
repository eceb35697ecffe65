"""Deployment settings from the CDK context: defaults, string forms, clear errors."""

from __future__ import annotations

from typing import Any

import pytest

from cartwatch_infra.settings import DEFAULTS, DeploymentSettings, SettingsError

pytestmark = pytest.mark.infra


def settings(**context: Any) -> DeploymentSettings:
    return DeploymentSettings.from_context(context.get)


def test_cdk_json_documents_every_default(cdk_json: dict[str, Any]) -> None:
    assert {key: cdk_json["context"].get(key) for key in DEFAULTS} == dict(DEFAULTS)


def test_defaults() -> None:
    defaults = settings()
    assert defaults.stages == "1h,24h,48h"
    assert defaults.sweep_interval_minutes == 1
    assert defaults.due_shards == 16
    assert (defaults.intake_batch_size, defaults.intake_batch_window_seconds) == (100, 5)
    assert defaults.alarm_email is None
    assert defaults.deletion_protection is True


def test_values_given_with_cdk_c_arrive_as_strings() -> None:
    parsed = settings(
        dueShards="8",
        sweepIntervalMinutes="5",
        logRetentionDays="14",
        deletionProtection="false",
        logLevel="debug",
        alarmEmail="ops@example.com",
        bigcommerceApiUrl="https://api.example.com/",
    )
    assert parsed.due_shards == 8
    assert parsed.sweep_interval_minutes == 5
    assert parsed.log_retention_days == 14
    assert parsed.deletion_protection is False
    assert parsed.log_level == "DEBUG"
    assert parsed.alarm_email == "ops@example.com"
    assert parsed.bigcommerce_api_url == "https://api.example.com"


def test_every_invalid_value_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as raised:
        settings(
            stages="48h,1h",
            dueShards=0,
            logRetentionDays=31,
            alarmEmail="nobody",
            bigcommerceApiUrl="http://api.bigcommerce.com",
            ssmPrefix="cartwatch",
            deletionProtection="maybe",
            sweepIntervalMinutes="often",
        )
    message = str(raised.value)
    for key in (
        "stages",
        "dueShards",
        "logRetentionDays",
        "alarmEmail",
        "bigcommerceApiUrl",
        "ssmPrefix",
        "deletionProtection",
        "sweepIntervalMinutes",
    ):
        assert f"\n  - {key} " in message, key


def test_large_intake_batches_need_a_batching_window() -> None:
    with pytest.raises(SettingsError, match="intakeBatchWindowSeconds must be at least 1"):
        settings(intakeBatchSize=100, intakeBatchWindowSeconds=0)
    assert settings(intakeBatchSize=10, intakeBatchWindowSeconds=0).intake_batch_window_seconds == 0


def test_the_app_page_may_be_framed_by_https_origins_only() -> None:
    assert settings().app_frame_ancestors == ("https://*.mybigcommerce.com",)
    two = settings(appFrameAncestors="https://*.mybigcommerce.com https://cp.example.com:8443")
    assert two.app_frame_ancestors == ("https://*.mybigcommerce.com", "https://cp.example.com:8443")
    for unsafe in ("*", "'self'", "http://cp.example.com", "https://cp.example.com/path", "https:"):
        with pytest.raises(SettingsError, match="appFrameAncestors"):
            settings(appFrameAncestors=unsafe)
    with pytest.raises(SettingsError, match="bigcommerceLoginUrl"):
        settings(bigcommerceLoginUrl="http://login.bigcommerce.com")


def test_route_throttles_must_fit_in_the_accounts_api_quota() -> None:
    """Query and app routes at their limits may never leave the webhook route short of
    the account's regional quota that every route shares."""
    with pytest.raises(SettingsError, match=r"add up to .* more than the account quota"):
        settings(queryThrottleRateLimit=2000, queryThrottleBurstLimit=2000)
    with pytest.raises(SettingsError, match="add up to"):
        settings(intakeThrottleRateLimit=10_000, intakeThrottleBurstLimit=5_000)
    # A raised quota makes room for them.
    raised = settings(
        queryThrottleRateLimit=2000,
        queryThrottleBurstLimit=2000,
        apiAccountRateLimit=20_000,
        apiAccountBurstLimit=20_000,
    )
    assert raised.throttles.query.rate_limit == 2000
    with pytest.raises(SettingsError, match="appThrottleBurstLimit must be at least appThrottleRateLimit"):
        settings(appThrottleRateLimit=10, appThrottleBurstLimit=5)


def test_concurrency_caps() -> None:
    defaults = settings()
    assert defaults.processor_max_concurrency == 20
    assert settings(queryReservedConcurrency="0").query_reserved_concurrency == 0
    with pytest.raises(SettingsError, match="processorMaxConcurrency must be between 2 and 1000"):
        settings(processorMaxConcurrency=1)
