"""The figure tally: DynamoDB stream (every write of a cart) -> tally Lambda -> daily figures.

The tally reads each write of a cart with the cart before it and adds what the write changed
of its store's figures to one counter item per store and UTC day (``STATS#<store>``,
``DAY#<date>``), once per tumbling window of 15 minutes — so the figures cost no write on the
webhook path.  Grants: ``UpdateItem`` of figure items only (``dynamodb:LeadingKeys``); the
stream read comes with the event source.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from cartwatch.resources import FIGURE_TALLY_STREAM, FIGURE_TALLY_STREAM_FILTER, FUNCTION_MEMORY_MB
from cartwatch_infra.compliance import acknowledge
from cartwatch_infra.foundation import Foundation
from cartwatch_infra.functions import FunctionSpec
from cartwatch_infra.state import FIGURE_ITEMS_ONLY


class FigureTallying(Construct):
    def __init__(self, scope: Construct, id: str, foundation: Foundation) -> None:
        super().__init__(scope, id)
        state = foundation.state
        stream = FIGURE_TALLY_STREAM
        self.function = foundation.functions(
            self,
            "Tally",
            FunctionSpec(
                handler="cartwatch.handlers.figure_tally.handler",
                description="Tallies each store's daily figures from the writes of its carts",
                timeout=cdk.Duration.seconds(60),
                memory_mb=FUNCTION_MEMORY_MB["figure_tally"],
                # No due shards, retention or BigCommerce: it only adds up what the stream shows.
                environment=foundation.store_environment,
            ),
        )
        self.function.allow(["dynamodb:UpdateItem"], [state.table.table_arn], conditions=FIGURE_ITEMS_ONLY)
        self.function.function.add_event_source(
            sources.DynamoEventSource(
                state.table,
                # Every write the stream still holds counts, those before the mapping too.
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=stream.batch_size,
                max_batching_window=cdk.Duration.seconds(stream.max_batching_window_seconds),
                filters=[lambda_.FilterCriteria.filter(FIGURE_TALLY_STREAM_FILTER)],
                bisect_batch_on_error=stream.bisect_batch_on_error,
                # None: Lambda's default, retried until the records leave the stream (24 h).
                retry_attempts=stream.max_retry_attempts if stream.max_retry_attempts >= 0 else None,
                report_batch_item_failures=stream.report_batch_item_failures,
                tumbling_window=cdk.Duration.seconds(stream.tumbling_window_seconds or 0),
            )
        )
        acknowledge(
            self.function,
            "AwsSolutions-IAM5[Resource::*]",
            "dynamodb:ListStreams, which Lambda's stream event source mapping calls, supports no "
            "resource-level permissions.",
        )
