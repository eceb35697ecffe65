"""The capacity model: every quota cartwatch touches, at 10,000 stores and 1,000 webhooks/s.

Computed, never typed: the *measured* inputs come from the other benchmarks of the same
``bench/run`` (write units and carts per webhook from the intake replay, the handlers' CPU
per webhook, BigCommerce calls per abandoned cart and per later stage, SNS publishes per
event); the deployment's knobs come from the stack's defaults (``cartwatch_infra.settings.DEFAULTS``);
AWS's and BigCommerce's quotas and the few latencies a local run cannot measure are stated
below with where they come from.  ``render`` writes ``docs/capacity.md``; a unit test
renders the document again from the inputs it records and compares, so the figures in the
document are the model's.

Each row is a utilization (demand / quota, percent) with a budget of 50 %; a row above it
names the knob that brings it under, and the value the knob needs.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from cartwatch.resources import ARCHIVER_MAX_CONCURRENCY, PURGE_MAX_CONCURRENCY
from cartwatch.service.hook_health import HookHealthCheck

STORES = 10_000
WEBHOOKS_PER_SECOND = 1_000.0
BUDGET_PERCENT = 50.0

# Published quotas (defaults of a fresh account, us-east-1).
API_GATEWAY_ACCOUNT_RPS = 10_000  # HTTP APIs, per account and region
LAMBDA_ACCOUNT_CONCURRENCY = 1_000
SSM_GET_PARAMETER_TPS = 40  # standard throughput: GetParameter and GetParameters share it
DYNAMODB_PARTITION_WCU = 1_000  # per partition and second, table and index partitions alike
DYNAMODB_PARTITION_RCU = 3_000
SQS_IN_FLIGHT = 120_000  # standard queue; its throughput has no published limit
SNS_PUBLISH_TPS = 30_000  # us-east-1; a PublishBatch entry counts as one message
BIGCOMMERCE_STORE_REQUESTS_PER_SECOND = 150 / 30  # Standard and Plus plans (FACTS.md)

# What a local run cannot measure: round trips from a Lambda function in the region.
SQS_SEND_MS = 8.0
DYNAMODB_CALL_MS = 6.0
# A cart abandoned through every stage and then recovered: the most events one cart makes.
EVENTS_PER_CART_AT_MOST = 4
# Of those, the stages after the first: each asks BigCommerce whether the cart is still open.
LATER_STAGES_AT_MOST = EVENTS_PER_CART_AT_MOST - 2
# The publisher runs one instance per stream shard; an on-demand table starts with four
# partitions and 1,000 webhooks/s writes well under their 4,000 WCU/s, so four it stays.
STREAM_SHARDS = 4
# Bytes per entry of a whole-partition read: the `known` index (hash + version) and the
# STORE partition of store settings.
KNOWN_INDEX_ENTRY_BYTES = 40
STORE_ROW_BYTES = 400
# The share of all traffic one store gets in a flash sale, for its hot partitions.
HOT_STORE_SHARE = 0.10
# A BigCommerce round trip from a function in the region.
BIGCOMMERCE_CALL_SECONDS = 0.25


@dataclass(frozen=True)
class Measured:
    """What the other benchmarks of the same run measured."""

    receiver_cpu_ms: float
    processor_cpu_ms: float
    write_units_per_webhook: float
    index_write_units_per_webhook: float
    writes_per_webhook: float  # conditional writes (calls), not units
    carts_per_webhook: float
    bigcommerce_calls_per_abandoned_cart: float
    bigcommerce_calls_per_later_stage: float  # is the cart still open? (stages 2 and later)
    sns_publishes_per_event: float


@dataclass(frozen=True)
class Knobs:
    """The deployment's settings the model depends on (the stack's defaults)."""

    intake_rate_limit: int
    api_account_rate_limit: int
    processor_max_concurrency: int
    query_reserved_concurrency: int
    app_reserved_concurrency: int
    due_shards: int
    batch_size: int
    store_cache_seconds: int
    index_seconds: int
    api_token_cache_seconds: int
    hook_health_workers: int

    @classmethod
    def deployed(cls) -> Knobs:
        # cartwatch_infra is the CDK app's package, not an installed one (as in tests/infra).
        infra = str(Path(__file__).resolve().parents[1] / "infra")
        if infra not in sys.path:
            sys.path.insert(0, infra)
        from cartwatch.settings import Settings
        from cartwatch_infra.settings import DEFAULTS

        # The functions' settings the stack leaves at their defaults.
        default: dict[str, int] = {f.name: f.default for f in fields(Settings) if isinstance(f.default, int)}
        return cls(
            intake_rate_limit=int(DEFAULTS["intakeThrottleRateLimit"]),
            api_account_rate_limit=int(DEFAULTS["apiAccountRateLimit"]),
            processor_max_concurrency=int(DEFAULTS["processorMaxConcurrency"]),
            query_reserved_concurrency=int(DEFAULTS["queryReservedConcurrency"]),
            app_reserved_concurrency=int(DEFAULTS["appReservedConcurrency"]),
            due_shards=int(DEFAULTS["dueShards"]),
            batch_size=100,  # the intake event source's batch size (processing.py)
            store_cache_seconds=default["store_cache_seconds"],
            index_seconds=default["store_index_seconds"],
            api_token_cache_seconds=default["api_token_cache_seconds"],
            hook_health_workers=default["hook_health_workers"],
        )


@dataclass(frozen=True)
class Row:
    quota: str
    demand: float
    limit: float
    unit: str
    knob: str  # what to turn when the row is over budget (and how far)

    @property
    def percent(self) -> float:
        return 100.0 * self.demand / self.limit

    @property
    def within_budget(self) -> bool:
        return self.percent <= BUDGET_PERCENT


def rows(measured: Measured, knobs: Knobs) -> list[Row]:
    rate = WEBHOOKS_PER_SECOND
    carts_per_second = rate * measured.carts_per_webhook
    receiver_seconds = (measured.receiver_cpu_ms + SQS_SEND_MS) / 1000
    receiver_concurrency = rate * receiver_seconds
    batch_seconds = (
        knobs.batch_size * measured.processor_cpu_ms
        + (1 + knobs.batch_size * measured.writes_per_webhook) * DYNAMODB_CALL_MS
    ) / 1000
    processor_concurrency = rate / knobs.batch_size * batch_seconds
    other_functions = (
        knobs.processor_max_concurrency
        + knobs.query_reserved_concurrency
        + knobs.app_reserved_concurrency
        + STREAM_SHARDS  # the publisher: one instance per stream shard
        + STREAM_SHARDS  # the figure tally, a second consumer of the same stream
        + 1  # the publisher's scheduled rescue run
        + 2  # the sweeper and hook health: one scheduled run each
        + PURGE_MAX_CONCURRENCY  # the purge job's event source cap
        + ARCHIVER_MAX_CONCURRENCY  # the archiver's event source cap
    )

    # The publisher's token reads: every store with an abandonment in a cache period, per
    # publisher instance.  Stores seen in T seconds: STORES * (1 - e^(-abandonments*T/STORES)).
    def token_reads(cache_seconds: float) -> float:
        seen = STORES * (1 - math.exp(-carts_per_second * cache_seconds / STORES))
        return seen * STREAM_SHARDS / cache_seconds

    token_cache_needed = _smallest(
        lambda seconds: 100 * token_reads(seconds) / SSM_GET_PARAMETER_TPS <= BUDGET_PERCENT
    )
    # Hook health: a healthy store costs one BigCommerce call, its scopes three more one
    # cycle in SCOPE_PROBE_CYCLES; the tokens are read ten to a GetParameters call.
    calls_per_store = 1 + 3 / HookHealthCheck.SCOPE_PROBE_CYCLES
    hook_health_stores_per_second = knobs.hook_health_workers / (calls_per_store * BIGCOMMERCE_CALL_SECONDS)
    index_read_units = math.ceil(STORES * KNOWN_INDEX_ENTRY_BYTES / 4096) * 0.5  # eventually consistent
    store_rows_read_units = math.ceil(STORES * STORE_ROW_BYTES / 4096) * 0.5
    index_units_per_second = rate * measured.index_write_units_per_webhook
    return [
        Row(
            "API Gateway: the webhook route's throttle",
            rate,
            knobs.intake_rate_limit,
            "requests/s",
            "intakeThrottleRateLimit",
        ),
        Row(
            "API Gateway: the account's request quota (all routes)",
            rate,
            knobs.api_account_rate_limit,
            "requests/s",
            "a quota increase, then apiAccountRateLimit",
        ),
        Row(
            "Lambda: the receiver's concurrency (CPU + one SendMessage)",
            receiver_concurrency,
            LAMBDA_ACCOUNT_CONCURRENCY - other_functions,
            "instances",
            "a concurrency quota increase",
        ),
        Row(
            "Lambda: the processor's concurrency against its cap",
            processor_concurrency,
            knobs.processor_max_concurrency,
            "instances",
            "processorMaxConcurrency",
        ),
        Row(
            "Lambda: every function at once against the account",
            receiver_concurrency + other_functions,
            LAMBDA_ACCOUNT_CONCURRENCY,
            "instances",
            "a concurrency quota increase",
        ),
        Row("SSM: the receiver's reads", 0.0, SSM_GET_PARAMETER_TPS, "calls/s", "—"),
        Row(
            f"SSM: the publisher's API-token reads (a token kept {knobs.api_token_cache_seconds:,} s)",
            token_reads(knobs.api_token_cache_seconds),
            SSM_GET_PARAMETER_TPS,
            "calls/s",
            f"CARTWATCH_API_TOKEN_CACHE_SECONDS >= {token_cache_needed} s (a 401 reads it again at once)",
        ),
        Row(
            f"SSM: hook health's token reads ({hook_health_stores_per_second:.0f} stores/s, ten a call)",
            hook_health_stores_per_second / 10,
            SSM_GET_PARAMETER_TPS,
            "calls/s",
            "CARTWATCH_HOOK_HEALTH_WORKERS",
        ),
        Row(
            "SSM: every reader at once (the publisher, hook health; GetParameter and GetParameters share it)",
            token_reads(knobs.api_token_cache_seconds) + hook_health_stores_per_second / 10,
            SSM_GET_PARAMETER_TPS,
            "calls/s",
            "CARTWATCH_API_TOKEN_CACHE_SECONDS, then SSM's higher throughput",
        ),
        Row(
            "DynamoDB credentials: the `known` index partition, read whole per receiver instance",
            index_read_units * math.ceil(receiver_concurrency) / knobs.index_seconds,
            DYNAMODB_PARTITION_RCU,
            "RCU/s",
            "CARTWATCH_STORE_INDEX_SECONDS",
        ),
        Row(
            "DynamoDB: the STORE partition, read whole per processor instance and cache period",
            store_rows_read_units * knobs.processor_max_concurrency / knobs.store_cache_seconds,
            DYNAMODB_PARTITION_RCU,
            "RCU/s",
            "CARTWATCH_STORE_CACHE_SECONDS",
        ),
        Row(
            "DynamoDB: a hot cart's partition (a click a second)",
            measured.write_units_per_webhook / max(measured.writes_per_webhook, 1e-9),
            DYNAMODB_PARTITION_WCU,
            "WCU/s",
            "—",
        ),
        Row(
            "DynamoDB: a due shard's index partition",
            index_units_per_second / knobs.due_shards,
            DYNAMODB_PARTITION_WCU,
            "WCU/s",
            "dueShards",
        ),
        Row(
            f"DynamoDB: a hot store's listing partition ({HOT_STORE_SHARE:.0%} of all traffic)",
            index_units_per_second * HOT_STORE_SHARE,
            DYNAMODB_PARTITION_WCU,
            "WCU/s",
            "—",
        ),
        Row(
            "SQS: intake messages in flight (cap x batch)",
            knobs.processor_max_concurrency * knobs.batch_size,
            SQS_IN_FLIGHT,
            "messages",
            "processorMaxConcurrency",
        ),
        Row(
            "SNS: publishes (every cart abandoned through every stage, then recovered)",
            carts_per_second * EVENTS_PER_CART_AT_MOST * measured.sns_publishes_per_event,
            SNS_PUBLISH_TPS,
            "messages/s",
            "—",
        ),
        Row(
            "BigCommerce: an average store's quota (stage-1 enrichment, every later stage's check)",
            carts_per_second
            / STORES
            * (
                measured.bigcommerce_calls_per_abandoned_cart
                + LATER_STAGES_AT_MOST * measured.bigcommerce_calls_per_later_stage
            ),
            BIGCOMMERCE_STORE_REQUESTS_PER_SECOND,
            "requests/s",
            "none: a store's burst spends its own quota (the publisher defers that store's events)",
        ),
    ]


def _smallest(fits: Any, start: int = 60, stop: int = 86_400) -> int:
    seconds = start
    while seconds < stop and not fits(seconds):
        seconds += 60
    return seconds


def lines(measured: Measured, knobs: Knobs, metric: Any) -> list[dict[str, Any]]:
    return [
        metric(f"capacity_percent_{_slug(row.quota)}", row.percent, "% of quota", f"<= {BUDGET_PERCENT:g}")
        for row in rows(measured, knobs)
    ]


def _slug(text: str) -> str:
    words = "".join(c if c.isalnum() else " " for c in text.lower()).split()
    return "_".join(words[:8])


INPUTS_MARK = "<!-- capacity-inputs: "


def render(measured: Measured, knobs: Knobs) -> str:
    """docs/capacity.md: the model's rows, and the inputs it was computed from."""
    table = "\n".join(
        f"| {row.quota} | {_number(row.demand)} {row.unit} | {_number(row.limit)} | "
        f"{row.percent:.1f} % | {'yes' if row.within_budget else 'no'} | {row.knob} |"
        for row in rows(measured, knobs)
    )
    measured_lines = "\n".join(f"| `{name}` | {value:g} |" for name, value in asdict(measured).items())
    knob_lines = "\n".join(f"| `{name}` | {value} |" for name, value in asdict(knobs).items())
    inputs = json.dumps({"measured": asdict(measured), "knobs": asdict(knobs)}, sort_keys=True)
    return f"""# cartwatch capacity at {STORES:,} stores and {WEBHOOKS_PER_SECOND:,.0f} webhooks/s

Written by `bench/run --capacity-doc docs/capacity.md` from the figures that run measured
(`bench/capacity_model.py`); `tests/unit/test_capacity_doc.py` computes it again from the
inputs below and compares. Budget: every quota at most {BUDGET_PERCENT:g} % used, or the knob
that gets it there.

| quota | demand | limit | used | within {BUDGET_PERCENT:g} % | knob |
|---|---|---|---|---|---|
{table}

Stated, not measured: SQS SendMessage {SQS_SEND_MS:g} ms and a DynamoDB call
{DYNAMODB_CALL_MS:g} ms from a function in the region; {STREAM_SHARDS} stream shards (one
publisher instance each); at most {EVENTS_PER_CART_AT_MOST} events per cart; a flash-sale store
gets {HOT_STORE_SHARE:.0%} of all traffic; the account's default quotas (API Gateway
{API_GATEWAY_ACCOUNT_RPS:,} requests/s, Lambda {LAMBDA_ACCOUNT_CONCURRENCY:,} concurrent, SSM
{SSM_GET_PARAMETER_TPS} reads/s, SNS {SNS_PUBLISH_TPS:,} publishes/s, a DynamoDB partition
{DYNAMODB_PARTITION_WCU:,} WCU/s and {DYNAMODB_PARTITION_RCU:,} RCU/s) and BigCommerce's
{BIGCOMMERCE_STORE_REQUESTS_PER_SECOND:g} requests/s per store.

## Measured inputs

| figure | value |
|---|---|
{measured_lines}

## Deployment knobs

| knob | value |
|---|---|
{knob_lines}

{INPUTS_MARK}{inputs} -->
"""


def parse_inputs(document: str) -> tuple[Measured, Knobs]:
    start = document.index(INPUTS_MARK) + len(INPUTS_MARK)
    raw: Mapping[str, Any] = json.loads(document[start : document.index(" -->", start)])
    return Measured(**raw["measured"]), Knobs(**raw["knobs"])


def _number(value: float) -> str:
    if value >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:.2f}"
