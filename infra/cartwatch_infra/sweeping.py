"""Scheduled jobs: the abandonment sweep (every N minutes) and the hook-health check's turns.

Both are invoked asynchronously by EventBridge rules.  A failed invocation lands in one
dead-letter queue whether EventBridge could not deliver it or the function failed it.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda_destinations as destinations
from constructs import Construct

from cartwatch.adapters.hook_health_cycle import CYCLE_PK
from cartwatch.resources import DUE_INDEX, FUNCTION_MEMORY_MB
from cartwatch.settings import ENV
from cartwatch_infra.foundation import Foundation
from cartwatch_infra.functions import CartwatchFunction, FunctionSpec
from cartwatch_infra.messaging import dead_letter_queue
from cartwatch_infra.state import CART_ITEMS_ONLY, STORE_ROWS_ONLY


class ScheduledJobs(Construct):
    def __init__(self, scope: Construct, id: str, foundation: Foundation, *, webhook_base_url: str) -> None:
        super().__init__(scope, id)
        functions, settings, state = foundation.functions, foundation.settings, foundation.state
        self.dead_letter_queue = dead_letter_queue(
            self, "DeadLetters", receives="failed sweeper and hook-health invocations"
        )
        table = state.table

        self.sweeper = functions(
            self,
            "Sweeper",
            FunctionSpec(
                handler="cartwatch.handlers.sweeper.handler",
                description="Moves carts whose next abandonment stage fell due",
                timeout=cdk.Duration.seconds(120),
                memory_mb=FUNCTION_MEMORY_MB["sweeper"],
                environment=foundation.state_environment,
            ),
        )
        self.sweeper.allow(["dynamodb:Query"], [state.index_arn(DUE_INDEX.name)])
        # A stage move is one conditional UpdateItem carrying its event intent (the stream
        # is the outbox); GetItem only when DynamoDB did not return the item with a lost
        # condition.  The sweep never calls BigCommerce: the publisher enriches.
        self.sweeper.allow(["dynamodb:GetItem"], [table.table_arn])
        # Every store's settings at once: one Query of the STORE partition (StoreDirectory).
        self.sweeper.allow(["dynamodb:Query"], [table.table_arn], conditions=STORE_ROWS_ONLY)
        self.sweeper.allow(["dynamodb:UpdateItem"], [table.table_arn], conditions=CART_ITEMS_ONLY)
        interval = cdk.Duration.minutes(settings.sweep_interval_minutes)
        # Sweeps are idempotent and the next one is at most one interval away: a failed
        # sweep is not retried (it would overlap its successor) but recorded in the DLQ.
        self.sweep_rule = self._schedule(
            "SweepSchedule", self.sweeper, events.Schedule.rate(interval), retries=0, max_age=interval
        )

        self.hook_health = functions(
            self,
            "HookHealth",
            FunctionSpec(
                handler="cartwatch.handlers.hook_health.handler",
                description="Checks every store's BigCommerce webhooks once a period, a turn at a time",
                timeout=cdk.Duration.minutes(5),
                memory_mb=FUNCTION_MEMORY_MB["hook_health"],
                environment={
                    **foundation.bigcommerce_environment,
                    ENV.WEBHOOK_BASE_URL: webhook_base_url,
                    ENV.HOOK_HEALTH_PERIOD_SECONDS: str(settings.hook_health_period_hours * 3600),
                },
            ),
        )
        # The store rows, read in pages (the STORE partition only); the cycle's one item (cursor, lease).
        self.hook_health.allow(["dynamodb:Query"], [table.table_arn], conditions=STORE_ROWS_ONLY)
        self.hook_health.allow(
            ["dynamodb:UpdateItem"],
            [table.table_arn],
            conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [CYCLE_PK]}},
        )
        # A chunk's API tokens are read ten at a time (GetParameters), a store's alone if need be.
        self.hook_health.allow_store_parameter("api", actions=("ssm:GetParameter", "ssm:GetParameters"))
        # A turn every few minutes; a failed one is not retried (the next turn goes on from
        # the persisted cursor) but recorded in the DLQ.
        every = cdk.Duration.minutes(settings.hook_health_interval_minutes)
        self._schedule(
            "HookHealthSchedule", self.hook_health, events.Schedule.rate(every), retries=0, max_age=every
        )

    def _schedule(
        self,
        id: str,
        job: CartwatchFunction,
        schedule: events.Schedule,
        *,
        retries: int,
        max_age: cdk.Duration,
    ) -> events.Rule:
        job.function.configure_async_invoke(
            retry_attempts=retries,
            max_event_age=max_age,
            on_failure=destinations.SqsDestination(self.dead_letter_queue),
        )
        return events.Rule(
            self,
            id,
            schedule=schedule,
            targets=[
                targets.LambdaFunction(
                    job.function,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=2,
                    max_event_age=max_age,
                )
            ],
        )
