"""Intake processing: SQS batches -> processor Lambda -> conditional writes to cart state."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cartwatch.resources import FUNCTION_MEMORY_MB, PROCESSOR_TIMEOUT_SECONDS
from cartwatch.settings import ENV
from cartwatch_infra.foundation import Foundation
from cartwatch_infra.functions import FunctionSpec
from cartwatch_infra.state import CART_ITEMS_ONLY, STORE_ROWS_ONLY


class IntakeProcessing(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        foundation: Foundation,
        *,
        queue: sqs.IQueue,
        purge_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, id)
        self.processor = foundation.functions(
            self,
            "Processor",
            FunctionSpec(
                handler="cartwatch.handlers.processor.handler",
                description="Dedupes, orders and coalesces webhook batches into cart state",
                # The intake queue's visibility timeout is derived from the same constant.
                timeout=cdk.Duration.seconds(PROCESSOR_TIMEOUT_SECONDS),
                memory_mb=FUNCTION_MEMORY_MB["processor"],
                environment={**foundation.state_environment, ENV.PURGE_QUEUE_URL: purge_queue.queue_url},
            ),
        )
        table = foundation.state.table.table_arn
        # Cart state: consistent batch reads (and store settings), then one conditional Put
        # (new cart) or Update per cart.  The stream is the outbox, so there are no transactions.
        self.processor.allow(["dynamodb:GetItem", "dynamodb:BatchGetItem"], [table])
        self.processor.allow(["dynamodb:UpdateItem", "dynamodb:PutItem"], [table], conditions=CART_ITEMS_ONLY)
        # `store/app/uninstalled` only queues a check for the purge job (purging.py): the
        # processor neither scans the table nor deletes anything of a store.
        # Every store's settings at once: one Query of the STORE partition (StoreDirectory).
        self.processor.allow(["dynamodb:Query"], [table], conditions=STORE_ROWS_ONLY)
        self.processor.allow(["sqs:SendMessage"], [purge_queue.queue_arn])
        settings = foundation.settings
        window = settings.intake_batch_window_seconds
        self.processor.function.add_event_source(
            sources.SqsEventSource(
                queue,
                batch_size=settings.intake_batch_size,
                max_batching_window=cdk.Duration.seconds(window) if window else None,
                # Failed messages are retried alone; the rest of the batch is deleted.
                report_batch_item_failures=True,
                # However deep a backlog, the processor takes at most this much of the
                # account's Lambda concurrency: the receiver (the ack path) keeps the rest.
                max_concurrency=settings.processor_max_concurrency,
            )
        )
