"""Deployment settings, read once from the CDK context and validated with clear errors.

Values come from ``cdk.json`` (``context``) or from ``cdk synth -c key=value`` — the latter
always arrives as a string, so every parser accepts the string form too.  ``DEFAULTS`` is
the documented default of every key; ``cdk.json`` repeats them so they are discoverable in
one place, and a test keeps the two equal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cartwatch.domain.stages import DEFAULT_STAGES, StageSchedule
from cartwatch.resources import API_GATEWAY_ACCOUNT_QUOTA, DEFAULT_THROTTLES, Throttle, ThrottlePlan
from cartwatch.settings import (
    DEFAULT_BIGCOMMERCE_API_URL,
    DEFAULT_BIGCOMMERCE_LOGIN_URL,
    DEFAULT_FRAME_ANCESTORS,
    DEFAULT_SSM_PREFIX,
)

DEFAULTS: Mapping[str, Any] = {
    # Abandonment stage delays for stores added without their own (BigCommerce's
    # Abandoned Cart Saver timing).
    "stages": DEFAULT_STAGES,
    # How often the sweeper looks for carts whose next stage fell due.
    "sweepIntervalMinutes": 1,
    # Write shards of the due index; each sweep queries every shard once.
    "dueShards": 16,
    # Intake SQS -> processor batching: bigger batches coalesce more events per cart.
    "intakeBatchSize": 100,
    "intakeBatchWindowSeconds": 5,
    # How long converted/deleted/expired carts stay readable before DynamoDB TTL drops them.
    "closedRetentionDays": 30,
    # CloudWatch Logs retention of every function and of the API access log.
    "logRetentionDays": 30,
    # E-mail address subscribed to the alarm topic; no topic when unset.
    "alarmEmail": None,
    # Route throttling of the HTTP API, one bucket per route (cartwatch.resources.ThrottlePlan).
    # The webhook route's is generous on purpose: a throttled (429) delivery counts as a
    # failure towards BigCommerce's domain block (< 90 % success in 2 minutes), so it only
    # caps abuse, never a busy store.  Query and app limits apply to each of their routes.
    "intakeThrottleRateLimit": DEFAULT_THROTTLES.intake.rate_limit,
    "intakeThrottleBurstLimit": DEFAULT_THROTTLES.intake.burst_limit,
    "queryThrottleRateLimit": DEFAULT_THROTTLES.query.rate_limit,
    "queryThrottleBurstLimit": DEFAULT_THROTTLES.query.burst_limit,
    "appThrottleRateLimit": DEFAULT_THROTTLES.app.rate_limit,
    "appThrottleBurstLimit": DEFAULT_THROTTLES.app.burst_limit,
    # API Gateway's request quota of the account in this region (10,000/s, burst 5,000 by
    # default), which every API of the account shares: the routes' limits must fit in it,
    # so that no other route can starve the webhook route.  Raise it only with the quota.
    "apiAccountRateLimit": API_GATEWAY_ACCOUNT_QUOTA.rate_limit,
    "apiAccountBurstLimit": API_GATEWAY_ACCOUNT_QUOTA.burst_limit,
    # The hook-health check: every store's hooks once per period, in turns every few minutes.
    "hookHealthPeriodHours": 24,
    "hookHealthIntervalMinutes": 10,
    # Concurrency caps, so that no backlog can take the account's Lambda concurrency from
    # the receiver (docs/capacity.md): the processor's intake event source runs at most this
    # many batches at once, and the query and app functions reserve (and are capped at)
    # this much concurrency — 0 leaves a function uncapped, for accounts whose concurrency
    # quota is too small to reserve any (Lambda keeps 100 unreserved).
    "processorMaxConcurrency": 20,
    "queryReservedConcurrency": 20,
    "appReservedConcurrency": 10,
    # BigCommerce API base (``{url}/stores/{store_hash}/v3``).
    "bigcommerceApiUrl": DEFAULT_BIGCOMMERCE_API_URL,
    # BigCommerce's login service, whose /oauth2/token exchanges an app install's code.
    "bigcommerceLoginUrl": DEFAULT_BIGCOMMERCE_LOGIN_URL,
    # Origins allowed to frame the app's merchant page (CSP frame-ancestors), space-separated:
    # BigCommerce's control panel, and nobody else.
    "appFrameAncestors": " ".join(DEFAULT_FRAME_ANCESTORS),
    # SSM Parameter Store prefix under which ``cartwatch stores add`` keeps credentials.
    "ssmPrefix": DEFAULT_SSM_PREFIX,
    # Powertools log level of every function.
    "logLevel": "INFO",
    # X-Ray subsegments for every AWS and BigCommerce call (Powertools Tracer).  Off by
    # default: the X-Ray SDK adds ~1/3 of `import boto3` to every cold start, and
    # Lambda's active tracing already records each invocation.
    "traceSubsegments": False,
    # Table deletion protection; when true the table is also retained if the stack is
    # deleted.  Turn off only for throwaway development stacks.
    "deletionProtection": True,
}

# The retention periods CloudWatch Logs accepts (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class SettingsError(ValueError):
    """One or more context values are invalid; the message lists every problem."""


@dataclass(frozen=True)
class DeploymentSettings:
    stages: str
    sweep_interval_minutes: int
    due_shards: int
    intake_batch_size: int
    intake_batch_window_seconds: int
    closed_retention_days: int
    log_retention_days: int
    alarm_email: str | None
    throttles: ThrottlePlan
    api_account_quota: Throttle
    processor_max_concurrency: int
    hook_health_period_hours: int
    hook_health_interval_minutes: int
    query_reserved_concurrency: int
    app_reserved_concurrency: int
    bigcommerce_api_url: str
    bigcommerce_login_url: str
    app_frame_ancestors: tuple[str, ...]
    ssm_prefix: str
    log_level: str
    deletion_protection: bool
    trace_subsegments: bool

    @classmethod
    def from_context(cls, lookup: Callable[[str], Any]) -> DeploymentSettings:
        """Read every key through ``lookup`` (``node.try_get_context``), falling back to
        ``DEFAULTS``; raise one ``SettingsError`` naming every invalid key."""
        reader = _ContextReader(lookup)
        settings = cls(
            stages=reader.stages("stages"),
            sweep_interval_minutes=reader.integer("sweepIntervalMinutes", 1, 60),
            due_shards=reader.integer("dueShards", 1, 100),
            intake_batch_size=reader.integer("intakeBatchSize", 1, 10_000),
            intake_batch_window_seconds=reader.integer("intakeBatchWindowSeconds", 0, 300),
            closed_retention_days=reader.integer("closedRetentionDays", 1, 3650),
            log_retention_days=reader.retention_days("logRetentionDays"),
            alarm_email=reader.email("alarmEmail"),
            throttles=ThrottlePlan(
                intake=reader.throttle("intakeThrottle"),
                query=reader.throttle("queryThrottle"),
                app=reader.throttle("appThrottle"),
            ),
            # AWS's own quota: its burst (5,000) is below its rate (10,000) by default.
            api_account_quota=Throttle(
                rate_limit=reader.integer("apiAccountRateLimit", 1, 1_000_000),
                burst_limit=reader.integer("apiAccountBurstLimit", 1, 1_000_000),
            ),
            # An SQS event source's MaximumConcurrency is 2..1000.
            processor_max_concurrency=reader.integer("processorMaxConcurrency", 2, 1000),
            hook_health_period_hours=reader.integer("hookHealthPeriodHours", 1, 24 * 7),
            hook_health_interval_minutes=reader.integer("hookHealthIntervalMinutes", 5, 60),
            query_reserved_concurrency=reader.integer("queryReservedConcurrency", 0, 1000),
            app_reserved_concurrency=reader.integer("appReservedConcurrency", 0, 1000),
            bigcommerce_api_url=reader.https_url("bigcommerceApiUrl"),
            bigcommerce_login_url=reader.https_url("bigcommerceLoginUrl"),
            app_frame_ancestors=reader.origins("appFrameAncestors"),
            ssm_prefix=reader.ssm_prefix("ssmPrefix"),
            log_level=reader.log_level("logLevel"),
            deletion_protection=reader.boolean("deletionProtection"),
            trace_subsegments=reader.boolean("traceSubsegments"),
        )
        # Lambda refuses an SQS batch above 10 without a batching window.
        if settings.intake_batch_size > 10 and settings.intake_batch_window_seconds < 1:
            reader.errors.append(
                "intakeBatchWindowSeconds must be at least 1 when intakeBatchSize is above 10"
            )
        total, quota = settings.throttles.total(), settings.api_account_quota
        if total.rate_limit > quota.rate_limit or total.burst_limit > quota.burst_limit:
            # Otherwise query or app traffic at its limits could take the account quota's
            # tokens from the webhook route, and BigCommerce's deliveries would get 429s.
            reader.errors.append(
                f"the routes' throttles add up to {total.rate_limit}/s (burst {total.burst_limit}), more "
                f"than the account quota apiAccountRateLimit {quota.rate_limit}/s (apiAccountBurstLimit "
                f"{quota.burst_limit}): lower the query or app throttles"
            )
        if reader.errors:
            raise SettingsError("invalid cdk context:\n  - " + "\n  - ".join(reader.errors))
        return settings


class _ContextReader:
    """Parses context values, collecting errors instead of stopping at the first one."""

    def __init__(self, lookup: Callable[[str], Any]) -> None:
        self._lookup = lookup
        self.errors: list[str] = []

    def _raw(self, key: str) -> Any:
        value = self._lookup(key)
        return DEFAULTS[key] if value is None or value == "" else value

    def _fail(self, key: str, problem: str, value: Any) -> None:
        self.errors.append(f"{key} {problem}, got {value!r}")

    def integer(self, key: str, minimum: int, maximum: int) -> int:
        raw = self._raw(key)
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            self._fail(key, "must be an integer", raw)
            return int(DEFAULTS[key])
        try:
            value = int(raw)
        except ValueError:
            self._fail(key, "must be an integer", raw)
            return int(DEFAULTS[key])
        if not minimum <= value <= maximum:
            self._fail(key, f"must be between {minimum} and {maximum}", raw)
        return value

    def throttle(self, prefix: str) -> Throttle:
        """``{prefix}RateLimit`` and ``{prefix}BurstLimit``; the burst holds at least a second's rate."""
        rate = self.integer(f"{prefix}RateLimit", 1, 10_000)
        burst = self.integer(f"{prefix}BurstLimit", 1, 5_000)
        if burst < rate:
            self.errors.append(f"{prefix}BurstLimit must be at least {prefix}RateLimit")
        return Throttle(rate_limit=rate, burst_limit=burst)

    def retention_days(self, key: str) -> int:
        # Membership is the only bound that matters; the wide range keeps it one error.
        value = self.integer(key, 0, 1 << 31)
        if value not in LOG_RETENTION_DAYS:
            self._fail(key, f"must be one of {', '.join(map(str, LOG_RETENTION_DAYS))}", value)
        return value

    def log_level(self, key: str) -> str:
        raw = str(self._raw(key)).strip().upper()
        if raw not in LOG_LEVELS:
            self._fail(key, f"must be one of {', '.join(LOG_LEVELS)}", raw)
        return raw

    def boolean(self, key: str) -> bool:
        raw = self._raw(key)
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in {"true", "false"}:
            return raw.lower() == "true"
        self._fail(key, "must be true or false", raw)
        return bool(DEFAULTS[key])

    def stages(self, key: str) -> str:
        raw = str(self._raw(key)).strip()
        try:
            StageSchedule.parse(raw)
        except ValueError as error:
            self._fail(key, f"is not a stage list like 1h,24h,48h ({error})", raw)
        return raw

    def email(self, key: str) -> str | None:
        raw = self._lookup(key)
        if raw is None or raw == "":
            return None
        if not isinstance(raw, str) or not _EMAIL.match(raw):
            self._fail(key, "must be an e-mail address", raw)
        return str(raw)

    def https_url(self, key: str) -> str:
        raw = str(self._raw(key)).strip()
        if not re.match(r"^https://[^/\s]+(/\S*)?$", raw):
            self._fail(key, "must be an https:// URL", raw)
        return raw.rstrip("/")

    def origins(self, key: str) -> tuple[str, ...]:
        raw = str(self._raw(key)).split()
        for origin in raw:
            # An https origin, optionally with a wildcard host label: never 'self', '*' or a path.
            if not re.match(r"^https://(\*\.)?[A-Za-z0-9.-]+(:\d+)?$", origin):
                self._fail(key, "must be https origins like https://*.mybigcommerce.com", origin)
        if not raw:
            self._fail(key, "must name at least one origin", raw)
        return tuple(raw)

    def ssm_prefix(self, key: str) -> str:
        raw = str(self._raw(key)).strip()
        if not re.match(r"^(/[A-Za-z0-9_.-]+)+$", raw):
            self._fail(key, "must be a parameter path like /cartwatch", raw)
        return raw.rstrip("/")
