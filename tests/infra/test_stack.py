"""What stack ``Cartwatch`` wires together, pinned resource by resource."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match

from cartwatch.resources import (
    APP_ROUTES,
    FIGURE_TALLY_STREAM,
    FUNCTION_MEMORY_MB,
    INTAKE_QUEUE,
    PROCESSOR_TIMEOUT_SECONDS,
    PUBLISHER_STREAM,
    PURGE_JOB_TIMEOUT_SECONDS,
    PURGE_QUEUE,
    QUERY_ROUTES,
    RUNTIME_ENVIRONMENT,
    TABLE,
)
from cartwatch.settings import ENV
from cartwatch_infra.functions import METRICS_NAMESPACE, SERVICE_NAME
from cartwatch_infra.intake import WEBHOOK_ROUTE
from cartwatch_infra.settings import DEFAULTS
from cartwatch_tools.local.provision import table_request
from tests.infra.conftest import ALARM_EMAIL, Synthesized, render

pytestmark = pytest.mark.infra

HANDLERS = {
    "receiver": "cartwatch.handlers.receiver.handler",
    "processor": "cartwatch.handlers.processor.handler",
    "sweeper": "cartwatch.handlers.sweeper.handler",
    "publisher": "cartwatch.handlers.publisher.handler",
    "tally": "cartwatch.handlers.figure_tally.handler",
    "hook_health": "cartwatch.handlers.hook_health.handler",
    "query": "cartwatch.handlers.query_api.handler",
    "app": "cartwatch.handlers.app_callbacks.handler",
    "purge": "cartwatch.handlers.store_purge.handler",
    "archiver": "cartwatch.handlers.archiver.handler",
}


def only(resources: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    assert len(resources) == 1, list(resources)
    return next(iter(resources.items()))


def function_id(synth: Synthesized, handler: str) -> str:
    return only(
        {
            k: v
            for k, v in synth.resources("AWS::Lambda::Function").items()
            if v["Properties"]["Handler"] == handler
        }
    )[0]


def test_each_function_has_the_memory_bench_footprint_sized(synthesized: Synthesized) -> None:
    """The sizes in ``cartwatch.resources`` (from ``bench/footprint.py``) are what the stack deploys."""
    resources = synthesized.resources("AWS::Lambda::Function")
    deployed = {
        handler.removeprefix("cartwatch.handlers.").removesuffix(".handler"): r["Properties"]["MemorySize"]
        for r in resources.values()
        if (handler := r["Properties"]["Handler"]).startswith("cartwatch.handlers.")
    }
    assert deployed == FUNCTION_MEMORY_MB


# --- intake -------------------------------------------------------------------------


def test_webhook_route_proxies_to_the_receiver(synthesized: Synthesized) -> None:
    routes = synthesized.resources("AWS::ApiGatewayV2::Route")
    _, route = only(
        {k: r for k, r in routes.items() if r["Properties"]["RouteKey"] == f"POST {WEBHOOK_ROUTE}"}
    )
    assert route["Properties"]["AuthorizationType"] == "NONE"  # the receiver authenticates
    receiver_arn = {"Fn::GetAtt": [function_id(synthesized, HANDLERS["receiver"]), "Arn"]}
    integration_id, integration = only(
        {
            k: i
            for k, i in synthesized.resources("AWS::ApiGatewayV2::Integration").items()
            if i["Properties"]["IntegrationUri"] == receiver_arn
        }
    )
    assert route["Properties"]["Target"] == {"Fn::Join": ["", ["integrations/", {"Ref": integration_id}]]}
    assert integration["Properties"]["IntegrationType"] == "AWS_PROXY"
    assert integration["Properties"]["PayloadFormatVersion"] == "2.0"
    receiver = function_id(synthesized, HANDLERS["receiver"])
    assert integration["Properties"]["IntegrationUri"] == {"Fn::GetAtt": [receiver, "Arn"]}
    synthesized.template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": [receiver, "Arn"]},
            "Principal": "apigateway.amazonaws.com",
        },
    )


def test_stage_is_access_logged(synthesized: Synthesized) -> None:
    _, stage = only(synthesized.resources("AWS::ApiGatewayV2::Stage"))
    props = stage["Properties"]
    assert props["StageName"] == "$default"
    assert props["AutoDeploy"] is True
    access_logs = synthesized.logical_id(synthesized.stack.intake.access_logs)
    assert props["AccessLogSettings"]["DestinationArn"] == {"Fn::GetAtt": [access_logs, "Arn"]}
    log_format = json.loads(props["AccessLogSettings"]["Format"])
    assert {"requestId", "ip", "routeKey", "status", "integrationError"} <= set(log_format)


def route_throttles(synthesized: Synthesized) -> dict[str, tuple[float, float]]:
    """Route key -> (rate, burst) of the bucket API Gateway keeps for that route."""
    _, stage = only(synthesized.resources("AWS::ApiGatewayV2::Stage"))
    settings = stage["Properties"]["RouteSettings"]
    return {
        key: (value["ThrottlingRateLimit"], value["ThrottlingBurstLimit"]) for key, value in settings.items()
    }


def test_every_route_has_a_throttle_of_its_own(synthesized: Synthesized) -> None:
    route_keys = {
        r["Properties"]["RouteKey"] for r in synthesized.resources("AWS::ApiGatewayV2::Route").values()
    }
    throttles = route_throttles(synthesized)
    assert set(throttles) == route_keys
    assert throttles[f"POST {WEBHOOK_ROUTE}"] == (
        DEFAULTS["intakeThrottleRateLimit"],
        DEFAULTS["intakeThrottleBurstLimit"],
    )
    for method, path in QUERY_ROUTES:
        assert throttles[f"{method} {path}"] == (
            DEFAULTS["queryThrottleRateLimit"],
            DEFAULTS["queryThrottleBurstLimit"],
        )
    for method, path in APP_ROUTES.values():
        assert throttles[f"{method} {path}"] == (
            DEFAULTS["appThrottleRateLimit"],
            DEFAULTS["appThrottleBurstLimit"],
        )
    # CloudFormation can only set a route's throttle once the route exists.
    _, stage = only(synthesized.resources("AWS::ApiGatewayV2::Stage"))
    routes = {k for k in synthesized.resources("AWS::ApiGatewayV2::Route")}
    assert routes <= set(stage["DependsOn"])


def test_a_query_flood_cannot_take_the_webhook_routes_tokens(synthesized: Synthesized) -> None:
    """Every route but the webhook route at its limit still leaves the webhook route its
    whole bucket within the account's regional quota, which all routes share."""
    throttles = route_throttles(synthesized)
    webhook = throttles.pop(f"POST {WEBHOOK_ROUTE}")
    others_rate = sum(rate for rate, _ in throttles.values())
    others_burst = sum(burst for _, burst in throttles.values())
    assert webhook[0] + others_rate <= DEFAULTS["apiAccountRateLimit"]
    assert webhook[1] + others_burst <= DEFAULTS["apiAccountBurstLimit"]
    # …and the webhook route has room for twice the design peak of 1,000 deliveries/s.
    assert webhook[0] >= 2 * 1000


def test_no_backlog_can_take_the_receivers_concurrency(synthesized: Synthesized) -> None:
    """Every queue consumer runs at most a fixed number of batches at once, and the
    API-triggered functions other than the receiver reserve (and are capped at) theirs;
    the receiver alone draws from the account's pool without a cap."""
    functions = synthesized.resources("AWS::Lambda::Function")
    queue_consumers = {
        m["Properties"]["FunctionName"]["Ref"]: m["Properties"]
        .get("ScalingConfig", {})
        .get("MaximumConcurrency")
        for m in synthesized.resources("AWS::Lambda::EventSourceMapping").values()
        if "StartingPosition" not in m["Properties"]  # SQS; the stream's concurrency is its shard count
    }
    assert queue_consumers == {
        function_id(synthesized, HANDLERS["processor"]): DEFAULTS["processorMaxConcurrency"],
        function_id(synthesized, HANDLERS["purge"]): 4,
        function_id(synthesized, HANDLERS["archiver"]): 2,
    }
    reserved = {
        name: functions[function_id(synthesized, handler)]["Properties"].get("ReservedConcurrentExecutions")
        for name, handler in HANDLERS.items()
    }
    assert reserved["query"] == DEFAULTS["queryReservedConcurrency"]
    assert reserved["app"] == DEFAULTS["appReservedConcurrency"]
    assert reserved["receiver"] is None


def test_intake_queue_redrives_to_its_dead_letter_queue(synthesized: Synthesized) -> None:
    intake = synthesized.stack.intake
    queue = synthesized.json["Resources"][synthesized.logical_id(intake.queue)]["Properties"]
    dlq_id = synthesized.logical_id(intake.dead_letter_queue)
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": INTAKE_QUEUE.max_receive_count,
    }
    assert queue["VisibilityTimeout"] == INTAKE_QUEUE.visibility_timeout_seconds
    assert queue["VisibilityTimeout"] >= 6 * PROCESSOR_TIMEOUT_SECONDS
    assert queue["MessageRetentionPeriod"] == INTAKE_QUEUE.retention_seconds
    assert queue["MaximumMessageSize"] == INTAKE_QUEUE.max_message_bytes
    dlq = synthesized.json["Resources"][dlq_id]["Properties"]
    assert dlq["MessageRetentionPeriod"] == INTAKE_QUEUE.dlq_retention_seconds


def test_processor_consumes_intake_in_batches_with_partial_failures(synthesized: Synthesized) -> None:
    queue = synthesized.logical_id(synthesized.stack.intake.queue)
    synthesized.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [queue, "Arn"]},
            "FunctionName": {"Ref": function_id(synthesized, HANDLERS["processor"])},
            "BatchSize": DEFAULTS["intakeBatchSize"],
            "MaximumBatchingWindowInSeconds": DEFAULTS["intakeBatchWindowSeconds"],
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )
    processor = synthesized.json["Resources"][function_id(synthesized, HANDLERS["processor"])]
    assert processor["Properties"]["Timeout"] == PROCESSOR_TIMEOUT_SECONDS


# --- sweeping -----------------------------------------------------------------------


def scheduled_rule(synth: Synthesized, handler: str) -> dict[str, Any]:
    target_arn = {"Fn::GetAtt": [function_id(synth, handler), "Arn"]}
    rule: dict[str, Any] = only(
        {
            k: v
            for k, v in synth.resources("AWS::Events::Rule").items()
            if v["Properties"]["Targets"][0]["Arn"] == target_arn
        }
    )[1]["Properties"]
    return rule


def test_sweeper_runs_every_interval_without_lambda_retries(synthesized: Synthesized) -> None:
    rule = scheduled_rule(synthesized, HANDLERS["sweeper"])
    assert DEFAULTS["sweepIntervalMinutes"] == 1
    assert rule["ScheduleExpression"] == "rate(1 minute)"
    assert rule["State"] == "ENABLED"
    dlq = synthesized.logical_id(synthesized.stack.jobs.dead_letter_queue)
    target = rule["Targets"][0]
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq, "Arn"]}}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 60, "MaximumRetryAttempts": 2}
    synthesized.template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": function_id(synthesized, HANDLERS["sweeper"])},
            "MaximumRetryAttempts": 0,
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [dlq, "Arn"]}}},
        },
    )


def test_hook_health_takes_a_turn_every_few_minutes_and_covers_every_store_daily(
    synthesized: Synthesized,
) -> None:
    rule = scheduled_rule(synthesized, HANDLERS["hook_health"])
    assert rule["ScheduleExpression"] == f"rate({DEFAULTS['hookHealthIntervalMinutes']} minutes)"
    # A failed turn is not retried: the next one goes on from the persisted cursor.
    synthesized.template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": function_id(synthesized, HANDLERS["hook_health"])},
            "MaximumRetryAttempts": 0,
        },
    )
    function = synthesized.json["Resources"][function_id(synthesized, HANDLERS["hook_health"])]["Properties"]
    period = int(function["Environment"]["Variables"][ENV.HOOK_HEALTH_PERIOD_SECONDS])
    assert period == DEFAULTS["hookHealthPeriodHours"] * 3600 == 86_400
    # Each turn ends before the next begins: two never check the same stores (and a lease
    # in the cycle's item makes sure of it).
    assert function["Timeout"] < DEFAULTS["hookHealthIntervalMinutes"] * 60


# --- publishing ---------------------------------------------------------------------


def stream_mapping(synthesized: Synthesized, handler: str) -> dict[str, Any]:
    """The properties of the stream event source mapping of one function."""
    function = {"Ref": function_id(synthesized, HANDLERS[handler])}
    return only(
        {
            k: v
            for k, v in synthesized.resources("AWS::Lambda::EventSourceMapping").items()
            if v["Properties"]["FunctionName"] == function and "StartingPosition" in v["Properties"]
        }
    )[1]["Properties"]


def test_the_figure_tally_reads_every_cart_write_in_tumbling_windows(synthesized: Synthesized) -> None:
    table = synthesized.logical_id(synthesized.stack.state.table)
    stream = synthesized.resources("AWS::DynamoDB::Table")[table]["Properties"]["StreamSpecification"]
    # The cart before each write is what a write changed of the figures.
    assert stream == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    mapping = stream_mapping(synthesized, "tally")
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [table, "StreamArn"]}
    assert [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]] == [
        {"eventName": ["INSERT", "MODIFY"], "dynamodb": {"Keys": {"sk": {"S": ["STATE"]}}}}
    ]
    # The settings `cartwatch local`'s poller enacts (local/event_sources.py).
    assert mapping["TumblingWindowInSeconds"] == FIGURE_TALLY_STREAM.tumbling_window_seconds == 900
    assert mapping["MaximumBatchingWindowInSeconds"] == FIGURE_TALLY_STREAM.max_batching_window_seconds
    assert mapping["BatchSize"] == FIGURE_TALLY_STREAM.batch_size
    assert mapping["BisectBatchOnFunctionError"] is False
    # A window's end is retried until it succeeds (Lambda's default, -1).
    assert mapping.get("MaximumRetryAttempts", -1) == -1
    assert mapping["StartingPosition"] == "TRIM_HORIZON"


def test_publisher_reads_only_images_carrying_an_event_intent(synthesized: Synthesized) -> None:
    table = synthesized.logical_id(synthesized.stack.state.table)
    dlq = synthesized.logical_id(synthesized.stack.publishing.dead_letter_queue)
    mapping = stream_mapping(synthesized, "publisher")
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [table, "StreamArn"]}
    assert [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]] == [
        {
            "eventName": ["INSERT", "MODIFY"],
            "dynamodb": {"NewImage": {"pending_event": {"S": [{"exists": True}]}}},
        }
    ]
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    # The settings `cartwatch local`'s stream poller enacts (local/event_sources.py).
    assert mapping["BatchSize"] == PUBLISHER_STREAM.batch_size
    assert mapping["BisectBatchOnFunctionError"] is PUBLISHER_STREAM.bisect_batch_on_error is True
    assert mapping["MaximumRetryAttempts"] == PUBLISHER_STREAM.max_retry_attempts
    assert mapping.get("MaximumRecordAgeInSeconds", -1) == (PUBLISHER_STREAM.max_record_age_seconds or -1)
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": [dlq, "Arn"]}}}


# --- state --------------------------------------------------------------------------


def test_table_is_built_from_the_resources_module(synthesized: Synthesized) -> None:
    props = synthesized.json["Resources"][synthesized.logical_id(synthesized.stack.state.table)]["Properties"]
    # The same CreateTable shape `cartwatch local` builds from TABLE: both deployments agree.
    local = table_request("any")
    assert props["KeySchema"] == local["KeySchema"]
    assert props["GlobalSecondaryIndexes"] == local["GlobalSecondaryIndexes"]
    assert [i["IndexName"] for i in props["GlobalSecondaryIndexes"]] == [i.name for i in TABLE.indexes]
    by_name = sorted(props["AttributeDefinitions"], key=lambda a: a["AttributeName"])
    assert by_name == sorted(local["AttributeDefinitions"], key=lambda a: a["AttributeName"])
    assert props["TimeToLiveSpecification"] == {"AttributeName": TABLE.ttl_attribute, "Enabled": True}
    assert props["StreamSpecification"] == {"StreamViewType": TABLE.stream_view}
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["DeletionProtectionEnabled"] is True
    synthesized.template.has_resource(
        "AWS::DynamoDB::Table", {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
    )


def test_the_shopper_index_is_sparse_keys_only_and_keyed_by_store_and_shopper(
    synthesized: Synthesized,
) -> None:
    props = synthesized.json["Resources"][synthesized.logical_id(synthesized.stack.state.table)]["Properties"]
    (index,) = [i for i in props["GlobalSecondaryIndexes"] if i["IndexName"] == "shopper"]
    assert index["KeySchema"] == [
        {"AttributeName": "shopper", "KeyType": "HASH"},
        {"AttributeName": "shopper_at", "KeyType": "RANGE"},
    ]
    # Keys only: the publisher reads each cart it finds, consistent, before it decides.
    assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    types = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    assert (types["shopper"], types["shopper_at"]) == ("S", "N")


# --- encryption and transport --------------------------------------------------------


def test_everything_is_encrypted_at_rest(synthesized: Synthesized) -> None:
    tables = synthesized.resources("AWS::DynamoDB::Table")
    assert len(tables) == 2  # carts, credentials
    carts = synthesized.logical_id(synthesized.stack.state.table)
    assert tables[carts]["Properties"]["SSESpecification"] == {"SSEEnabled": True}  # aws/dynamodb
    # The stores' secrets: a customer managed key of their own, which only the functions
    # that touch them may use (test_security.py).
    credentials = tables[synthesized.logical_id(synthesized.stack.credentials.table)]
    assert credentials["Properties"]["SSESpecification"] == {
        "SSEEnabled": True,
        "SSEType": "KMS",
        "KMSMasterKeyId": {"Fn::GetAtt": [synthesized.logical_id(synthesized.stack.credentials.key), "Arn"]},
    }
    queues = synthesized.resources("AWS::SQS::Queue")
    # intake, purge, archive, their DLQs, scheduled-jobs DLQ, publishing DLQ
    assert len(queues) == 8
    assert all(q["Properties"]["SqsManagedSseEnabled"] is True for q in queues.values())
    keys = synthesized.resources("AWS::KMS::Key")
    assert all(k["Properties"]["EnableKeyRotation"] is True for k in keys.values())
    topics = synthesized.resources("AWS::SNS::Topic")
    assert len(topics) == 2  # events + alarms
    for topic in topics.values():
        key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
        assert key_id in keys


def denies_insecure_transport(statement: dict[str, Any]) -> bool:
    return (
        statement["Effect"] == "Deny"
        and statement["Principal"] in ("*", {"AWS": "*"})
        and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    )


@pytest.mark.parametrize(
    ("policy_type", "attached_to", "resource_type"),
    [
        ("AWS::SQS::QueuePolicy", "Queues", "AWS::SQS::Queue"),
        ("AWS::SNS::TopicPolicy", "Topics", "AWS::SNS::Topic"),
    ],
)
def test_every_queue_and_topic_refuses_plain_http(
    synthesized: Synthesized, policy_type: str, attached_to: str, resource_type: str
) -> None:
    covered: set[str] = set()
    for policy in synthesized.resources(policy_type).values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        if any(denies_insecure_transport(s) for s in statements):
            covered.update(r["Ref"] for r in policy["Properties"][attached_to])
    assert covered == set(synthesized.resources(resource_type))


# --- functions ----------------------------------------------------------------------


def test_all_functions_share_one_asset_and_runtime(synthesized: Synthesized) -> None:
    functions = synthesized.resources("AWS::Lambda::Function")
    assert {f["Properties"]["Handler"] for f in functions.values()} == set(HANDLERS.values())
    assert len({json.dumps(f["Properties"]["Code"], sort_keys=True) for f in functions.values()}) == 1
    for function in functions.values():
        props = function["Properties"]
        assert props["Runtime"] == "python3.13"
        assert props["Architectures"] == ["arm64"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["LoggingConfig"]["LogGroup"]["Ref"] in synthesized.resources("AWS::Logs::LogGroup")
    for log_group in synthesized.resources("AWS::Logs::LogGroup").values():
        assert log_group["Properties"]["RetentionInDays"] == DEFAULTS["logRetentionDays"]


def test_function_environments_name_what_each_function_reads(synthesized: Synthesized) -> None:
    shared = {
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
        "POWERTOOLS_LOG_LEVEL",
        *RUNTIME_ENVIRONMENT,
        ENV.TABLE_NAME,
        ENV.SSM_PREFIX,
        ENV.DEFAULT_STAGES,
    }
    state = {ENV.DUE_SHARDS, ENV.CLOSED_RETENTION_DAYS}
    uninstall = state | {ENV.BIGCOMMERCE_API_URL, ENV.PURGE_QUEUE_URL, ENV.CREDENTIALS_TABLE_NAME}
    expected = {
        # The receiver reads no store settings: only the credentials table.
        "receiver": shared - {ENV.SSM_PREFIX, ENV.DEFAULT_STAGES}
        | {ENV.INTAKE_QUEUE_URL, ENV.CREDENTIALS_TABLE_NAME},
        "processor": shared | state | {ENV.PURGE_QUEUE_URL},
        "sweeper": shared | state,
        "publisher": shared | state | {ENV.BIGCOMMERCE_API_URL, ENV.TOPIC_ARN},
        "tally": shared,
        "hook_health": shared
        | state
        | {ENV.BIGCOMMERCE_API_URL, ENV.WEBHOOK_BASE_URL, ENV.HOOK_HEALTH_PERIOD_SECONDS},
        "query": shared | state,
        "purge": shared | uninstall,
        # Writes objects only: no store, no stages.
        "archiver": (shared - {ENV.SSM_PREFIX, ENV.DEFAULT_STAGES}) | {ENV.ARCHIVE_BUCKET},
        "app": shared
        | uninstall
        | {
            ENV.WEBHOOK_BASE_URL,
            ENV.BIGCOMMERCE_LOGIN_URL,
            ENV.APP_AUTH_CALLBACK_URL,
            ENV.APP_FRAME_ANCESTORS,
        },
    }
    resources = synthesized.json["Resources"]
    for name, handler in HANDLERS.items():
        variables = resources[function_id(synthesized, handler)]["Properties"]["Environment"]["Variables"]
        assert set(variables) == expected[name], name
        assert variables["POWERTOOLS_SERVICE_NAME"] == SERVICE_NAME
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == METRICS_NAMESPACE
        assert variables.get(ENV.DEFAULT_STAGES, DEFAULTS["stages"]) == DEFAULTS["stages"]
        assert variables["PYDANTIC_DISABLE_PLUGINS"] == "__all__"
        assert variables[ENV.TABLE_NAME] == {"Ref": synthesized.logical_id(synthesized.stack.state.table)}
    receiver = resources[function_id(synthesized, HANDLERS["receiver"])]["Properties"]
    assert receiver["Timeout"] == 5
    assert receiver["MemorySize"] == 256
    sweeper = resources[function_id(synthesized, HANDLERS["sweeper"])]["Properties"]
    assert sweeper["Timeout"] == 120
    assert sweeper["Environment"]["Variables"][ENV.DUE_SHARDS] == str(DEFAULTS["dueShards"])


# --- monitoring ---------------------------------------------------------------------


def test_alarms_cover_dead_letters_errors_sweep_and_rejections(synthesized: Synthesized) -> None:
    alarms = list(synthesized.resources("AWS::CloudWatch::Alarm").values())
    queues_alarmed = {
        d["Value"]["Fn::GetAtt"][0]
        for a in alarms
        if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
        for d in a["Properties"]["Dimensions"]
    }
    stack = synthesized.stack
    dead_letter_queues = {
        stack.intake.dead_letter_queue,
        stack.jobs.dead_letter_queue,
        stack.publishing.dead_letter_queue,
        stack.purging.dead_letter_queue,
        stack.archiving.dead_letter_queue,
    }
    assert queues_alarmed == {synthesized.logical_id(q) for q in dead_letter_queues}
    functions_alarmed = {
        d["Value"]["Ref"]
        for a in alarms
        if a["Properties"].get("MetricName") == "Errors"
        for d in a["Properties"]["Dimensions"]
    }
    assert functions_alarmed == set(synthesized.resources("AWS::Lambda::Function"))
    custom = {
        a["Properties"]["MetricName"]: a["Properties"]
        for a in alarms
        if a["Properties"].get("Namespace") == METRICS_NAMESPACE
    }
    assert set(custom) == {
        "SweepLagSeconds",
        "WebhooksRejected",
        "WebhooksDeferred",
        "UninstallsRefuted",
        "HooksUnrecoverable",
        # The publisher: events it parked, a store's credentials gone, the safety net at work.
        "EventsParked",
        "StoreGone",
        "EventsRescued",
        "StoresNotChecked",
    }
    for alarm in custom.values():
        assert alarm["Dimensions"] == [{"Name": "service", "Value": SERVICE_NAME}]
    not_running = [a for a in alarms if a["Properties"].get("MetricName") == "Invocations"]
    assert [a["Properties"]["TreatMissingData"] for a in not_running] == ["breaching"]
    synthesized.template.resource_count_is("AWS::CloudWatch::Dashboard", 1)


def custom_metric_alarm(synthesized: Synthesized, metric_name: str) -> dict[str, Any]:
    """The one alarm on a metric the functions emit (namespace Cartwatch, the service dimension)."""
    [alarm] = [
        a["Properties"]
        for a in synthesized.resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == metric_name
    ]
    assert alarm["Namespace"] == METRICS_NAMESPACE
    assert alarm["Dimensions"] == [{"Name": "service", "Value": SERVICE_NAME}]
    return alarm


def test_the_sweep_lag_alarm_watches_every_shard_of_the_due_index(synthesized: Synthesized) -> None:
    alarm = custom_metric_alarm(synthesized, "SweepLagSeconds")
    # The sweeper emits, each run, the lag of the most overdue shard's oldest due entry,
    # measured on every shard whether the sweep reached it or not
    # (tests/unit/test_sweep_fairness.py): the maximum over a period covers all shards.
    assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"]) == ("Maximum", 300, 1)
    # Three intervals of the one-minute sweep, and never under five minutes.
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 300)
    # A sweeper that stops emitting is SweepNotRunning's to report (missing data breaches there).
    assert alarm["TreatMissingData"] == "notBreaching"
    assert "Every shard is measured" in alarm["AlarmDescription"]


def test_hooks_the_daily_check_cannot_restore_raise_an_alarm(synthesized: Synthesized) -> None:
    alarm = custom_metric_alarm(synthesized, "HooksUnrecoverable")
    # The aggregate the hook-health handler emits (tests/integration/cli/test_hook_health.py),
    # summed over the day between two checks: one unrecoverable hook is enough.
    assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"]) == ("Sum", 86400, 1)
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
    assert alarm["TreatMissingData"] == "notBreaching"
    assert "cartwatch stores verify" in alarm["AlarmDescription"]


def test_alarm_email_gets_every_alarm(synthesized: Synthesized) -> None:
    topic_id = synthesized.logical_id(synthesized.stack.monitoring.alarm_topic)
    synthesized.template.has_resource_properties(
        "AWS::SNS::Subscription",
        {"Protocol": "email", "Endpoint": ALARM_EMAIL, "TopicArn": {"Ref": topic_id}},
    )
    for alarm in synthesized.resources("AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
    # CloudWatch must be able to publish to the encrypted topic.
    synthesized.template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [Match.object_like({"Principal": {"Service": "cloudwatch.amazonaws.com"}})]
                )
            }
        },
    )


# --- outputs ------------------------------------------------------------------------


def test_outputs(synthesized: Synthesized) -> None:
    outputs = synthesized.json["Outputs"]
    assert set(outputs) == {
        "WebhookBaseUrl",
        "ApiUrl",
        "TopicArn",
        "TableName",
        "CredentialsTableName",
        "AppAuthCallbackUrl",
        "AppLoadCallbackUrl",
        "AppUninstallCallbackUrl",
        "AppRemoveUserCallbackUrl",
        # What `cartwatch dlq` and `cartwatch events replay` work on.
        "IntakeQueueUrl",
        "IntakeDeadLetterQueueUrl",
        "PublisherDeadLetterQueueUrl",
        "ArchiveBucket",
    }
    api = synthesized.logical_id(synthesized.stack.intake.api)
    endpoint = f"${{{api}.ApiEndpoint}}"  # https://{api-id}.execute-api.{region}.amazonaws.com
    for output, path in (
        ("AppAuthCallbackUrl", "auth"),
        ("AppLoadCallbackUrl", "load"),
        ("AppUninstallCallbackUrl", "uninstall"),
        ("AppRemoveUserCallbackUrl", "remove-user"),
    ):
        assert render(outputs[output]["Value"]) == f"{endpoint}/bigcommerce/app/{path}"
    assert render(outputs["ApiUrl"]["Value"]) == endpoint
    assert render(outputs["WebhookBaseUrl"]["Value"]) == f"{endpoint}/webhooks/bigcommerce"
    assert outputs["TopicArn"]["Value"] == {"Ref": synthesized.logical_id(synthesized.stack.publishing.topic)}
    assert outputs["TableName"]["Value"] == {"Ref": synthesized.logical_id(synthesized.stack.state.table)}
    credentials = synthesized.logical_id(synthesized.stack.credentials.table)
    assert outputs["CredentialsTableName"]["Value"] == {"Ref": credentials}


# --- the app and the purge job --------------------------------------------------------


def test_app_routes_reach_the_app_function_unauthorized_by_api_gateway(synthesized: Synthesized) -> None:
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in synthesized.resources("AWS::ApiGatewayV2::Route").values()
        if "/bigcommerce/app/" in r["Properties"]["RouteKey"]
    }
    assert set(routes) == {f"{method} {path}" for method, path in APP_ROUTES.values()}
    app_arn = {"Fn::GetAtt": [function_id(synthesized, HANDLERS["app"]), "Arn"]}
    (integration_id,) = [
        k
        for k, i in synthesized.resources("AWS::ApiGatewayV2::Integration").items()
        if i["Properties"]["IntegrationUri"] == app_arn
    ]
    for route in routes.values():
        # BigCommerce cannot sign with IAM: the function verifies every callback itself.
        assert route["AuthorizationType"] == "NONE"
        assert route["Target"] == {"Fn::Join": ["", ["integrations/", {"Ref": integration_id}]]}
    app = synthesized.json["Resources"][function_id(synthesized, HANDLERS["app"])]["Properties"]
    assert app["Timeout"] < 30  # API Gateway's integration limit
    variables = app["Environment"]["Variables"]
    assert variables[ENV.APP_FRAME_ANCESTORS] == DEFAULTS["appFrameAncestors"]
    assert variables[ENV.BIGCOMMERCE_LOGIN_URL] == DEFAULTS["bigcommerceLoginUrl"]
    api = synthesized.logical_id(synthesized.stack.intake.api)
    assert render(variables[ENV.APP_AUTH_CALLBACK_URL]) == f"${{{api}.ApiEndpoint}}/bigcommerce/app/auth"


def test_purge_job_takes_one_step_per_invocation_from_its_own_queue(synthesized: Synthesized) -> None:
    purging = synthesized.stack.purging
    queue_id = synthesized.logical_id(purging.queue)
    mappings = [
        m["Properties"]
        for m in synthesized.resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    ]
    assert len(mappings) == 1
    mapping = mappings[0]
    assert mapping["FunctionName"] == {"Ref": function_id(synthesized, HANDLERS["purge"])}
    assert mapping["BatchSize"] == 1
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 4}
    queue = synthesized.json["Resources"][queue_id]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * PURGE_JOB_TIMEOUT_SECONDS
    assert queue["RedrivePolicy"]["maxReceiveCount"] == PURGE_QUEUE.max_receive_count
    purge = synthesized.json["Resources"][function_id(synthesized, HANDLERS["purge"])]["Properties"]
    assert purge["Timeout"] == PURGE_JOB_TIMEOUT_SECONDS
