"""The event archive: topic -> SQS (raw delivery) -> archiver Lambda -> gzipped objects on S3.

Every published CloudEvent is kept whole for ``ARCHIVE_RETENTION_DAYS`` (the bucket's
lifecycle rule), encrypted at rest (SSE-S3), TLS-only, never public.  Objects are laid out
by store and hour (``domain/event_archive.py``) so ``cartwatch events replay`` reads only
the objects of the range it replays.  Events a replay sends to the topic carry
``REPLAY_ATTRIBUTE`` and are not archived again.
"""

from __future__ import annotations

from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from cartwatch.domain.event_archive import ARCHIVE_PREFIX
from cartwatch.resources import (
    ARCHIVE_BATCH_SIZE,
    ARCHIVE_BATCH_WINDOW_SECONDS,
    ARCHIVE_QUEUE,
    ARCHIVE_RETENTION_DAYS,
    ARCHIVER_MAX_CONCURRENCY,
    ARCHIVER_TIMEOUT_SECONDS,
    FUNCTION_MEMORY_MB,
    REPLAY_ATTRIBUTE,
)
from cartwatch.settings import ENV
from cartwatch_infra.compliance import acknowledge
from cartwatch_infra.foundation import Foundation
from cartwatch_infra.functions import FunctionSpec
from cartwatch_infra.messaging import queue_with_dead_letters


class EventArchiving(Construct):
    def __init__(self, scope: Construct, id: str, foundation: Foundation, *, topic: sns.ITopic) -> None:
        super().__init__(scope, id)
        self.bucket = s3.Bucket(
            self,
            "Archive",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireArchivedEvents",
                    expiration=cdk.Duration.days(ARCHIVE_RETENTION_DAYS),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.bucket,
            "AwsSolutions-S1",
            "The archive is written only by the archiver function and read by operators' replays; "
            "CloudTrail records who called what.  Server access logs would double the bucket's "
            "request count for no additional audit value.",
        )
        self.queue, self.dead_letter_queue = queue_with_dead_letters(self, ARCHIVE_QUEUE)
        topic.add_subscription(
            subscriptions.SqsSubscription(
                self.queue,
                raw_message_delivery=True,
                filter_policy={REPLAY_ATTRIBUTE: sns.SubscriptionFilter(conditions=[{"exists": False}])},
            )
        )
        self.archiver = foundation.functions(
            self,
            "Archiver",
            FunctionSpec(
                handler="cartwatch.handlers.archiver.handler",
                description="Writes published events to the event archive (S3), by store and hour",
                timeout=cdk.Duration.seconds(ARCHIVER_TIMEOUT_SECONDS),
                memory_mb=FUNCTION_MEMORY_MB["archiver"],
                environment={ENV.ARCHIVE_BUCKET: self.bucket.bucket_name},
            ),
        )
        self.archiver.allow(["s3:PutObject"], [self.bucket.arn_for_objects(f"{ARCHIVE_PREFIX}*")])
        bucket_id = cdk.Stack.of(self).get_logical_id(cast(s3.CfnBucket, self.bucket.node.default_child))
        acknowledge(
            self.archiver,
            f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{ARCHIVE_PREFIX}*]",
            "The archiver writes one new object per batch, store and hour under events/, with keys "
            "it makes up (domain/event_archive.py): PutObject only, on that prefix only.",
        )
        self.archiver.function.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=ARCHIVE_BATCH_SIZE,
                max_batching_window=cdk.Duration.seconds(ARCHIVE_BATCH_WINDOW_SECONDS),
                max_concurrency=ARCHIVER_MAX_CONCURRENCY,
                report_batch_item_failures=True,
            )
        )
