"""Alarms and the dashboard.

Alarmed: every dead-letter queue that holds anything, every function that errors, a sweep
that lags or stops running, a figure tally an hour behind the stream, a burst of rejected
webhook deliveries (usually a store whose secret changed), deliveries deferred because store
secrets could not be read, an uninstall webhook BigCommerce refutes, and a daily hook check
that found hooks it could not restore.
With context ``alarmEmail`` set, every alarm also e-mails.

The custom metrics come from the functions through Powertools' embedded metric format:
namespace ``Cartwatch`` and the single ``service`` dimension Powertools adds — see
``functions.SERVICE_NAME``.
"""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cartwatch_infra.functions import METRICS_NAMESPACE, SERVICE_NAME, CartwatchFunction
from cartwatch_infra.messaging import encrypted_topic
from cartwatch_infra.settings import DeploymentSettings

FIVE_MINUTES = cdk.Duration.minutes(5)
AT_LEAST = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
# More rejections than this in five minutes, twice in a row, is a misconfiguration rather
# than the odd stray request.
REJECTED_DELIVERIES_THRESHOLD = 20
# A tumbling window is 15 minutes; an hour's delay means its ends keep failing.
TALLY_BEHIND_MS = 60 * 60 * 1000


def custom_metric(name: str, statistic: str, period: cdk.Duration = FIVE_MINUTES) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": SERVICE_NAME},
        statistic=statistic,
        period=period,
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: DeploymentSettings,
        functions: Mapping[str, CartwatchFunction],
        dead_letter_queues: Mapping[str, sqs.IQueue],
        intake_queue: sqs.IQueue,
        api: apigw.HttpApi,
        sweeper: CartwatchFunction,
        publisher: CartwatchFunction,
        tally: CartwatchFunction,
    ) -> None:
        super().__init__(scope, id)
        self.alarms: list[cloudwatch.Alarm] = []
        sweep_interval = cdk.Duration.minutes(settings.sweep_interval_minutes)

        for name, queue in dead_letter_queues.items():
            self._alarm(
                f"{name}DeadLetters",
                queue.metric_approximate_number_of_messages_visible(statistic="Maximum", period=FIVE_MINUTES),
                threshold=1,
                description=f"Messages are waiting in the {name} dead-letter queue: inspect, fix, redrive.",
            )
        for name, job in functions.items():
            self._alarm(
                f"{name}Errors",
                job.function.metric_errors(statistic="Sum", period=FIVE_MINUTES),
                threshold=1,
                description=f"The {name} function failed invocations; see its log group.",
            )

        # Each sweep emits the lag of the most overdue due-index shard, measured on every
        # shard whether the sweep reached its entries or not (decision 54): one alarm on the
        # maximum covers them all, and a shard a sweep cannot advance cannot hide.
        sweep_lag = custom_metric("SweepLagSeconds", "Maximum")
        self._alarm(
            "SweepLag",
            sweep_lag,
            # Three missed sweeps, and never less than five minutes of slack.
            threshold=max(300, 3 * settings.sweep_interval_minutes * 60),
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            description="Due carts of some due-index shard wait longer than three sweep intervals: "
            "abandonment events are late.  Every shard is measured each sweep; the sweeper's "
            "'sweep stopped early' log shows each shard's lag and the shards it could not advance.",
        )
        self._alarm(
            "SweepNotRunning",
            sweeper.function.metric_invocations(
                statistic="Sum", period=cdk.Duration.minutes(max(5, 3 * settings.sweep_interval_minutes))
            ),
            threshold=1,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            # No invocation at all reports no data point: that is exactly the failure.
            missing=cloudwatch.TreatMissingData.BREACHING,
            description=f"The sweeper has not run for three intervals ({sweep_interval.to_human_string()}).",
        )
        rejected = custom_metric("WebhooksRejected", "Sum")
        self._alarm(
            "WebhooksRejected",
            rejected,
            threshold=REJECTED_DELIVERIES_THRESHOLD,
            evaluation_periods=2,
            description="Many webhook deliveries are rejected (401/403/404): a store's secret or "
            "token probably changed.  BigCommerce blocks the domain below 90 % success.",
        )
        self._alarm(
            "WebhooksDeferred",
            custom_metric("WebhooksDeferred", "Sum"),
            threshold=1,
            description="Webhook deliveries are answered 503 because store credentials cannot be "
            "read (their table throttled or access denied).  BigCommerce retries them, but blocks "
            "the domain below 90 % success.",
        )
        self._alarm(
            "StoresNotChecked",
            custom_metric("StoresNotChecked", "Maximum"),
            threshold=1,
            description="The hook-health check did not reach every store within its period: raise "
            "hookHealthIntervalMinutes' frequency or the workers (CARTWATCH_HOOK_HEALTH_WORKERS); "
            "the log lists the first stores not checked.",
        )

        self._alarm(
            "UninstallsRefuted",
            custom_metric("UninstallsRefuted", "Sum"),
            threshold=1,
            description="A store/app/uninstalled webhook arrived for a store whose token BigCommerce "
            "still accepts: nothing was purged.  Someone holding the store's hook token may be "
            "forging deliveries; rotate it (`cartwatch stores rotate-token`).",
        )
        # The hook check runs once a day and reports every store's hooks it could not
        # re-activate or re-create (a revoked token, an uninstalled app, BigCommerce refusing):
        # deliveries for those stores have stopped.  A one-day period keeps the alarm up
        # until the next check finds the hooks restored.
        self._alarm(
            "HooksUnrecoverable",
            custom_metric("HooksUnrecoverable", "Sum", period=cdk.Duration.days(1)),
            threshold=1,
            description="The daily hook check could not restore some stores' BigCommerce webhooks: "
            "their deliveries have stopped.  Its log names the stores and why (per-store metric "
            "HooksUnrecoverable with dimension store_hash); fix the token or run `cartwatch stores verify`.",
        )

        self._alarm(
            "EventsParked",
            custom_metric("EventsParked", "Sum"),
            threshold=1,
            description="The publisher parked events it cannot publish (a token BigCommerce refuses, "
            "a store without credentials, an event that cannot be built).  `cartwatch dlq list` "
            "shows them with their reason; fix the cause, then `cartwatch dlq redrive publisher-parked`.",
        )
        self._alarm(
            "StoreGone",
            custom_metric("StoreGone", "Sum"),
            threshold=1,
            description="Events of a store whose API credentials are gone (removed, or the app "
            "uninstalled) were parked.  Add the store again and redrive, or leave them.",
        )
        self._alarm(
            "EventsRescued",
            custom_metric("EventsRescued", "Sum"),
            threshold=1,
            description="The outbox safety net published events the DynamoDB stream did not: the "
            "stream's retries were exhausted or its records expired.  Check the publisher's errors "
            "and its stream DLQ; nothing is lost.",
        )
        # The figure tally's window ends are retried until they succeed, and the stream keeps
        # records for 24 hours: an hour behind is well before any figure could be lost.
        tally_delay = tally.function.metric("IteratorAge", statistic="Maximum", period=FIVE_MINUTES)
        self._alarm(
            "FiguresBehind",
            tally_delay,
            threshold=TALLY_BEHIND_MS,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=2,
            description="The figure tally is more than an hour behind the table's stream (its window "
            "ends keep failing: see its log group). The stats lag; past 24 hours writes leave the "
            "stream uncounted.",
        )

        if settings.alarm_email:
            self.alarm_topic = self._alarm_topic(settings.alarm_email)
            for alarm in self.alarms:
                alarm.add_alarm_action(actions.SnsAction(self.alarm_topic))

        publishing_delay = publisher.function.metric("IteratorAge", statistic="Maximum", period=FIVE_MINUTES)
        self.dashboard = self._dashboard(
            functions,
            dead_letter_queues,
            intake_queue,
            api,
            sweep_lag,
            rejected,
            publishing_delay,
            tally_delay,
        )

    def _alarm(
        self,
        id: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        description: str,
        comparison: cloudwatch.ComparisonOperator = AT_LEAST,
        evaluation_periods: int = 1,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) -> None:
        self.alarms.append(
            cloudwatch.Alarm(
                self,
                id,
                metric=metric,
                threshold=threshold,
                comparison_operator=comparison,
                evaluation_periods=evaluation_periods,
                treat_missing_data=missing,
                alarm_description=description,
            )
        )

    def _alarm_topic(self, email: str) -> sns.Topic:
        topic, key = encrypted_topic(self, "AlarmTopic", purpose="alarm notifications")
        stack = cdk.Stack.of(self)
        from_this_accounts_alarms = {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {
                "aws:SourceArn": f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:*"
            },
        }
        cloudwatch_service = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        # CloudWatch publishes as a service: the topic policy must admit it, and the key
        # policy must let it encrypt the message.
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[cloudwatch_service],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions=from_this_accounts_alarms,
            )
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[cloudwatch_service],
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=["*"],  # in a key policy, "*" is this key
                conditions=from_this_accounts_alarms,
            )
        )
        topic.add_subscription(subscriptions.EmailSubscription(email))
        return topic

    def _dashboard(
        self,
        functions: Mapping[str, CartwatchFunction],
        dead_letter_queues: Mapping[str, sqs.IQueue],
        intake_queue: sqs.IQueue,
        api: apigw.HttpApi,
        sweep_lag: cloudwatch.Metric,
        rejected: cloudwatch.Metric,
        publishing_delay: cloudwatch.Metric,
        tally_delay: cloudwatch.Metric,
    ) -> cloudwatch.Dashboard:
        def graph(title: str, *metrics: cloudwatch.IMetric) -> cloudwatch.GraphWidget:
            return cloudwatch.GraphWidget(title=title, left=list(metrics), width=8)

        def per_function(title: str, metric: str, statistic: str) -> cloudwatch.GraphWidget:
            return graph(
                title,
                *(
                    job.function.metric(metric, statistic=statistic, period=FIVE_MINUTES, label=name)
                    for name, job in functions.items()
                ),
            )

        dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=cdk.Duration.hours(6))
        dashboard.add_widgets(
            graph(
                "Webhook deliveries",
                api.metric_count(period=FIVE_MINUTES, label="received"),
                api.metric_client_error(period=FIVE_MINUTES, label="4xx"),
                api.metric_server_error(period=FIVE_MINUTES, label="5xx"),
                rejected.with_(label="rejected by receiver"),
            ),
            graph(
                "Intake queue",
                intake_queue.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES),
                intake_queue.metric_approximate_age_of_oldest_message(period=FIVE_MINUTES),
            ),
            graph("Sweep lag (s)", sweep_lag),
        )
        dashboard.add_widgets(
            per_function("Errors", "Errors", "Sum"),
            per_function("Duration p99 (ms)", "Duration", "p99"),
            graph(
                "Dead letters",
                *(
                    queue.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES, label=name)
                    for name, queue in dead_letter_queues.items()
                ),
            ),
        )
        dashboard.add_widgets(
            per_function("Throttles", "Throttles", "Sum"),
            graph("Outbox -> SNS delay (stream iterator age, ms)", publishing_delay),
            graph("Figure tally delay (stream iterator age, ms)", tally_delay),
        )
        return dashboard
