"""Stack ``Cartwatch``: the constructs in data-flow order, and the stable outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from cartwatch.settings import ENV
from cartwatch_infra.app_callbacks import AppCallbacks
from cartwatch_infra.archiving import EventArchiving
from cartwatch_infra.bundling import lambda_code
from cartwatch_infra.credentials import StoreCredentials
from cartwatch_infra.figures import FigureTallying
from cartwatch_infra.foundation import Foundation
from cartwatch_infra.functions import ARCHITECTURE, FunctionFactory
from cartwatch_infra.intake import WebhookIntake
from cartwatch_infra.monitoring import Monitoring
from cartwatch_infra.processing import IntakeProcessing
from cartwatch_infra.publishing import EventPublishing
from cartwatch_infra.purging import StorePurging
from cartwatch_infra.query_api import QueryApi
from cartwatch_infra.settings import DeploymentSettings
from cartwatch_infra.state import CartState
from cartwatch_infra.sweeping import ScheduledJobs


class CartwatchStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: DeploymentSettings,
        project_root: Path,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        self.state = CartState(self, "State", deletion_protection=settings.deletion_protection)
        self.credentials = StoreCredentials(
            self, "Credentials", deletion_protection=settings.deletion_protection
        )
        foundation = Foundation(
            settings=settings,
            functions=FunctionFactory(
                code=lambda_code(self, project_root=project_root, architecture=ARCHITECTURE),
                settings=settings,
                environment={ENV.TABLE_NAME: self.state.table.table_name},
            ),
            state=self.state,
            credentials=self.credentials,
        )
        self.intake = intake = WebhookIntake(self, "Intake", foundation)
        self.purging = purging = StorePurging(self, "Purging", foundation)
        self.processing = processing = IntakeProcessing(
            self, "Processing", foundation, queue=intake.queue, purge_queue=purging.queue
        )
        # Hook health re-creates missing hooks, so it must know where they point.
        self.jobs = jobs = ScheduledJobs(
            self, "Sweeping", foundation, webhook_base_url=intake.webhook_base_url
        )
        self.publishing = publishing = EventPublishing(self, "Publishing", foundation)
        self.archiving = archiving = EventArchiving(self, "Archiving", foundation, topic=publishing.topic)
        self.figures = figures = FigureTallying(self, "Figures", foundation)
        self.query_api = query_api = QueryApi(self, "QueryApi", foundation, api=intake.api)
        self.app = app = AppCallbacks(
            self,
            "AppCallbacks",
            foundation,
            api=intake.api,
            webhook_base_url=intake.webhook_base_url,
            purge_queue=purging.queue,
        )
        intake.throttle_routes([*intake.routes, *query_api.routes, *app.routes], settings.throttles)
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            settings=settings,
            functions={
                "Receiver": intake.receiver,
                "Processor": processing.processor,
                "Sweeper": jobs.sweeper,
                "HookHealth": jobs.hook_health,
                "Publisher": publishing.publisher,
                "Archiver": archiving.archiver,
                "Tally": figures.function,
                "Query": query_api.function,
                "App": app.function,
                "Purge": purging.function,
            },
            dead_letter_queues={
                "Intake": intake.dead_letter_queue,
                "ScheduledJobs": jobs.dead_letter_queue,
                "Publishing": publishing.dead_letter_queue,
                "Archive": archiving.dead_letter_queue,
                "Purge": purging.dead_letter_queue,
            },
            intake_queue=intake.queue,
            api=intake.api,
            sweeper=jobs.sweeper,
            publisher=publishing.publisher,
            tally=figures.function,
        )

        cdk.CfnOutput(
            self,
            "WebhookBaseUrl",
            value=intake.webhook_base_url,
            description="Register webhooks at {WebhookBaseUrl}/{store_hash}",
        )
        cdk.CfnOutput(self, "ApiUrl", value=intake.api.api_endpoint, description="Base URL of the HTTP API")
        cdk.CfnOutput(
            self, "TopicArn", value=publishing.topic.topic_arn, description="Subscribe consumers here"
        )
        cdk.CfnOutput(self, "TableName", value=self.state.table.table_name, description="Cart state table")
        # What `cartwatch dlq` and `cartwatch events replay` work on.
        cdk.CfnOutput(
            self, "IntakeQueueUrl", value=intake.queue.queue_url, description="Webhook intake queue"
        )
        cdk.CfnOutput(
            self,
            "IntakeDeadLetterQueueUrl",
            value=intake.dead_letter_queue.queue_url,
            description="Webhooks the processor gave up on (`cartwatch dlq redrive intake`)",
        )
        cdk.CfnOutput(
            self,
            "PublisherDeadLetterQueueUrl",
            value=publishing.dead_letter_queue.queue_url,
            description="Stream batches the publisher gave up on (coordinates only)",
        )
        cdk.CfnOutput(
            self,
            "ArchiveBucket",
            value=archiving.bucket.bucket_name,
            description="The event archive (`cartwatch events replay`)",
        )
        cdk.CfnOutput(
            self,
            "CredentialsTableName",
            value=self.credentials.table.table_name,
            description="The stores' webhook credentials (`cartwatch stores add` writes them)",
        )
        for output, route, portal_field in (
            ("AppAuthCallbackUrl", "auth", "Auth Callback URL"),
            ("AppLoadCallbackUrl", "load", "Load Callback URL"),
            ("AppUninstallCallbackUrl", "uninstall", "Uninstall Callback URL"),
            ("AppRemoveUserCallbackUrl", "remove_user", "Remove User Callback URL"),
        ):
            cdk.CfnOutput(
                self, output, value=app.urls[route], description=f"The developer portal's {portal_field}"
            )
