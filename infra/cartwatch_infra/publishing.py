"""Publishing: DynamoDB stream (the outbox) -> publisher Lambda -> SNS topic.

A transition writes its event intent (``pending_event``) into the cart item in the same
conditional write; the stream delivers every such new image to the publisher at least
once, and the publisher enriches it and sends it to SNS with its deterministic
CloudEvents id so consumers can drop duplicates.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from cartwatch.resources import (
    DUE_INDEX,
    FUNCTION_MEMORY_MB,
    OUTBOX_INDEX,
    OUTBOX_RESCUE_MINUTES,
    PUBLISHER_STREAM,
    PUBLISHER_STREAM_FILTER,
    SHOPPER_INDEX,
)
from cartwatch.settings import ENV
from cartwatch_infra.compliance import acknowledge
from cartwatch_infra.foundation import Foundation
from cartwatch_infra.functions import FunctionSpec
from cartwatch_infra.messaging import dead_letter_queue, encrypted_topic
from cartwatch_infra.state import CART_ITEMS_ONLY, STORE_ROWS_ONLY

# Only images carrying an event intent reach the publisher; every other write (ordinary
# activity, stores) is filtered out by Lambda before an invocation is billed.  The pattern
# and the mapping's error handling (PUBLISHER_STREAM) are shared with `cartwatch local`'s
# stream poller, which enacts them the way Lambda does.
OUTBOX_FILTER = PUBLISHER_STREAM_FILTER


class EventPublishing(Construct):
    def __init__(self, scope: Construct, id: str, foundation: Foundation) -> None:
        super().__init__(scope, id)
        state = foundation.state
        # SSE with a customer managed key, not aws/sns: consumers' SQS subscriptions and
        # AWS-service publishers need a key policy we can edit (messaging.encrypted_topic).
        self.topic, self.key = encrypted_topic(self, "Events", purpose="cart lifecycle events")
        self.dead_letter_queue = dead_letter_queue(
            self, "DeadLetters", receives="stream batches the publisher gave up on"
        )

        self.publisher = foundation.functions(
            self,
            "Publisher",
            FunctionSpec(
                handler="cartwatch.handlers.publisher.handler",
                description="Enriches outbox events and publishes them to SNS as CloudEvents",
                timeout=cdk.Duration.seconds(60),
                memory_mb=FUNCTION_MEMORY_MB["publisher"],
                environment={**foundation.bigcommerce_environment, ENV.TOPIC_ARN: self.topic.topic_arn},
            ),
        )
        self.publisher.allow(["sns:Publish"], [self.topic.topic_arn])
        self.publisher.allow(["kms:GenerateDataKey", "kms:Decrypt"], [self.key.key_arn])
        # Store settings and carts are read (GetItem; BatchGetItem: each cart as it is now —
        # erase wins, enrich once, at most once); only cart items are written: the snapshot,
        # the order and the outbox slot (UpdateItem) and the mark on a recovery link's cart
        # copy (a PutItem when the copy is new to cartwatch).  The scheduled safety net reads
        # the outbox index (abandonments) and the due index (a bought cart's entry holds its
        # purchase event until it is published).  The shopper rules read the shopper index (a
        # shopper's other carts, as an abandonment or a purchase is about to be published).
        self.publisher.allow(["dynamodb:GetItem", "dynamodb:BatchGetItem"], [state.table.table_arn])
        self.publisher.allow(
            ["dynamodb:UpdateItem", "dynamodb:PutItem"], [state.table.table_arn], conditions=CART_ITEMS_ONLY
        )
        self.publisher.allow(
            ["dynamodb:Query"],
            [
                state.index_arn(OUTBOX_INDEX.name),
                state.index_arn(DUE_INDEX.name),
                state.index_arn(SHOPPER_INDEX.name),
            ],
        )
        # Every store's settings at once: one Query of the STORE partition (StoreDirectory).
        self.publisher.allow(["dynamodb:Query"], [state.table.table_arn], conditions=STORE_ROWS_ONLY)
        self.publisher.allow_store_parameter("api")
        self.publisher.function.add_event_source(
            sources.DynamoEventSource(
                state.table,
                # The outbox may hold events written before the mapping existed.
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=PUBLISHER_STREAM.batch_size,
                filters=[lambda_.FilterCriteria.filter(OUTBOX_FILTER)],
                bisect_batch_on_error=PUBLISHER_STREAM.bisect_batch_on_error,
                retry_attempts=PUBLISHER_STREAM.max_retry_attempts,
                max_record_age=(
                    cdk.Duration.seconds(PUBLISHER_STREAM.max_record_age_seconds)
                    if PUBLISHER_STREAM.max_record_age_seconds is not None
                    else None
                ),
                report_batch_item_failures=PUBLISHER_STREAM.report_batch_item_failures,
                # The DLQ receives the failed batch's stream coordinates; the cart item
                # still shows its state, so the event can be re-driven from there.
                on_failure=sources.SqsDlq(self.dead_letter_queue),
            )
        )
        # The outbox's safety net: publishes events whose slot outlived the stream, or that a
        # store's quota deferred.  Not retried: the next run is a minute away.
        self.publisher.function.configure_async_invoke(
            retry_attempts=0, max_event_age=cdk.Duration.minutes(OUTBOX_RESCUE_MINUTES)
        )
        self.rescue_rule = events.Rule(
            self,
            "OutboxRescueSchedule",
            schedule=events.Schedule.rate(cdk.Duration.minutes(OUTBOX_RESCUE_MINUTES)),
            targets=[
                targets.LambdaFunction(
                    self.publisher.function,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=0,
                    max_event_age=cdk.Duration.minutes(OUTBOX_RESCUE_MINUTES),
                )
            ],
        )
        acknowledge(
            self.publisher,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray's PutTraceSegments/PutTelemetryRecords and dynamodb:ListStreams (which Lambda's "
            "stream event source mapping calls) support no resource-level permissions.",
        )
