"""The ack path: HTTP API -> receiver Lambda -> intake SQS queue (+ DLQ).

The receiver authenticates, bounds and enqueues a delivery; it touches neither the cart table
nor BigCommerce, so its role can do exactly two things: read the stores' webhook credentials
(their table's ``known`` index and single items) and send to the intake queue.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import cast

import aws_cdk as cdk
import jsii
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_integrations as integrations
from constructs import Construct

from cartwatch.resources import FUNCTION_MEMORY_MB, INTAKE_QUEUE, ThrottlePlan
from cartwatch.resources import WEBHOOK_ROUTE as WEBHOOK_ROUTE_KEY
from cartwatch.settings import ENV
from cartwatch_infra.compliance import acknowledge
from cartwatch_infra.foundation import Foundation
from cartwatch_infra.functions import FunctionSpec, log_group
from cartwatch_infra.messaging import queue_with_dead_letters

WEBHOOK_ROUTE = WEBHOOK_ROUTE_KEY[1]
WEBHOOK_BASE_PATH = "/webhooks/bigcommerce"

# HTTP API context variables ($context.identity.user and friends are REST-only).
_ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "routeKey": "$context.routeKey",
    "path": "$context.path",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationStatus": "$context.integrationStatus",
    "integrationLatency": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
    "userAgent": "$context.identity.userAgent",
}


@jsii.implements(apigw.IAccessLogSettings)
class _AccessLogs:
    def __init__(self, destination: apigw.IAccessLogDestination) -> None:
        self._destination = destination

    @property
    def destination(self) -> apigw.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigateway.AccessLogFormat:
        return apigateway.AccessLogFormat.custom(json.dumps(_ACCESS_LOG_FIELDS, separators=(",", ":")))


class WebhookIntake(Construct):
    def __init__(self, scope: Construct, id: str, foundation: Foundation) -> None:
        super().__init__(scope, id)
        settings = foundation.settings
        # A delivery the processor fails INTAKE_QUEUE.max_receive_count times is poison: parked.
        self.queue, self.dead_letter_queue = queue_with_dead_letters(self, INTAKE_QUEUE)

        self.receiver = foundation.functions(
            self,
            "Receiver",
            FunctionSpec(
                handler="cartwatch.handlers.receiver.handler",
                description="Authenticates a BigCommerce webhook delivery and stores it in SQS",
                # The ack path must answer well inside BigCommerce's delivery timeout.
                timeout=cdk.Duration.seconds(5),
                memory_mb=FUNCTION_MEMORY_MB["receiver"],
                environment={
                    ENV.INTAKE_QUEUE_URL: self.queue.queue_url,
                    ENV.CREDENTIALS_TABLE_NAME: foundation.credentials.table.table_name,
                },
            ),
        )
        self.receiver.allow(["sqs:SendMessage"], [self.queue.queue_arn])
        credentials = foundation.credentials
        credentials.allow(self.receiver, ["dynamodb:Query"], index=True)
        credentials.allow(self.receiver, ["dynamodb:GetItem"])

        self.api = apigw.HttpApi(
            self,
            "Api",
            description="cartwatch: BigCommerce webhook receiver",
            create_default_stage=False,
        )
        self.access_logs = log_group(self, "AccessLogs", settings)
        self.stage = apigw.HttpStage(
            self,
            "DefaultStage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            # The default for a route without its own setting: the smallest bucket of the
            # plan.  Every route cartwatch adds gets its own (``throttle_routes``).
            throttle=apigw.ThrottleSettings(
                rate_limit=settings.throttles.app.rate_limit,
                burst_limit=settings.throttles.app.burst_limit,
            ),
            access_log_settings=_AccessLogs(apigw.LogGroupLogDestination(self.access_logs)),
        )
        self.routes = self.api.add_routes(
            path=WEBHOOK_ROUTE,
            methods=[apigw.HttpMethod(WEBHOOK_ROUTE_KEY[0])],
            integration=integrations.HttpLambdaIntegration("Receiver", self.receiver.function),
        )
        for route in self.routes:
            acknowledge(
                route,
                "AwsSolutions-APIG4",
                "BigCommerce cannot sign requests with IAM, Cognito or JWT; every delivery is "
                "authenticated by the receiver itself (Standard Webhooks signature over the raw body "
                "or the per-store X-Cartwatch-Token, compared in constant time) before anything is stored.",
            )

    def throttle_routes(self, routes: Sequence[apigw.HttpRoute], plan: ThrottlePlan) -> None:
        """Give each route its own bucket from ``plan`` (API Gateway's route settings).

        A query flood then drains the query routes' buckets only; the plan's total fits in
        the account's quota (settings.py checks), so the webhook route keeps its tokens.
        """
        throttles = plan.routes()
        stage = cast(apigw.CfnStage, self.stage.node.default_child)
        # RouteSettings is a JSON map in CloudFormation: its keys are written as AWS names them
        # (a jsii struct here would be rendered with camelCase keys, which CloudFormation ignores).
        settings: dict[str, dict[str, int]] = {}
        for route in routes:
            route_key = cast(apigw.CfnRoute, route.node.default_child).route_key
            throttle = throttles[route_key]  # a route nobody planned for is a KeyError here
            settings[route_key] = {
                "ThrottlingRateLimit": throttle.rate_limit,
                "ThrottlingBurstLimit": throttle.burst_limit,
            }
            # CloudFormation refuses route settings for a route that does not exist yet.
            self.stage.node.add_dependency(route)
        stage.route_settings = settings

    @property
    def webhook_base_url(self) -> str:
        return f"{self.api.api_endpoint}{WEBHOOK_BASE_PATH}"
