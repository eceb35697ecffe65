"""The purge job: purge queue (+ DLQ) -> purge function -> the store's carts, row and secrets.

An uninstall (the app's verified callback, or a confirmed ``store/app/uninstalled`` webhook)
queues one message per scan segment; each message is one bounded step that deletes a
store's cart items and queues its successor.  The processor only queues uninstall checks,
so it needs neither a table scan nor the right to delete secrets.

Grants, each to exactly what a step touches:

* Scan of the table (a store's carts have no index: architecture decision 14), and
  BatchWriteItem only on ``CART#…`` items and the store's figures, ``STATS#…``
  (``dynamodb:LeadingKeys``);
* GetItem/UpdateItem of store rows only (``STORE``): the purge's cursors and status;
* DeleteParameters and GetParameter of the stores' API tokens (an uninstall check asks
  BigCommerce with it), DeleteItem of their webhook credentials; SendMessage to its own queue.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from cartwatch.resources import (
    FUNCTION_MEMORY_MB,
    PURGE_JOB_TIMEOUT_SECONDS,
    PURGE_MAX_CONCURRENCY,
    PURGE_QUEUE,
)
from cartwatch_infra.foundation import Foundation
from cartwatch_infra.functions import FunctionSpec
from cartwatch_infra.messaging import queue_with_dead_letters
from cartwatch_infra.state import CART_ITEMS_ONLY, FIGURE_ITEMS_ONLY, STORE_ROWS_ONLY

# A purge deletes the store's carts and its daily figures.
CARTS_AND_FIGURES_ONLY = {
    "ForAllValues:StringLike": {
        "dynamodb:LeadingKeys": [
            *CART_ITEMS_ONLY["ForAllValues:StringLike"]["dynamodb:LeadingKeys"],
            *FIGURE_ITEMS_ONLY["ForAllValues:StringLike"]["dynamodb:LeadingKeys"],
        ]
    }
}


class StorePurging(Construct):
    def __init__(self, scope: Construct, id: str, foundation: Foundation) -> None:
        super().__init__(scope, id)
        table = foundation.state.table
        # Purge steps and uninstall checks that keep failing are parked (and alarmed).
        self.queue, self.dead_letter_queue = queue_with_dead_letters(self, PURGE_QUEUE)
        self.function = foundation.functions(
            self,
            "Purge",
            FunctionSpec(
                handler="cartwatch.handlers.store_purge.handler",
                description="Checks uninstall webhooks with BigCommerce; purges uninstalled stores in steps",
                timeout=cdk.Duration.seconds(PURGE_JOB_TIMEOUT_SECONDS),
                memory_mb=FUNCTION_MEMORY_MB["store_purge"],
                environment=foundation.uninstall_environment(self.queue.queue_url),
            ),
        )
        self.function.allow(["dynamodb:Scan"], [table.table_arn])
        self.function.allow(["dynamodb:BatchWriteItem"], [table.table_arn], conditions=CARTS_AND_FIGURES_ONLY)
        self.function.allow(
            ["dynamodb:GetItem", "dynamodb:UpdateItem"], [table.table_arn], conditions=STORE_ROWS_ONLY
        )
        self.function.allow_store_parameter("api", actions=("ssm:GetParameter", "ssm:DeleteParameters"))
        foundation.credentials.allow(self.function, ["dynamodb:DeleteItem"])
        self.function.allow(["sqs:SendMessage"], [self.queue.queue_arn])
        self.function.function.add_event_source(
            sources.SqsEventSource(
                self.queue,
                # One step per invocation: each has its own time budget.
                batch_size=1,
                max_concurrency=PURGE_MAX_CONCURRENCY,
                report_batch_item_failures=True,
            )
        )
