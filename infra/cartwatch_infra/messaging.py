"""Queues and topics as cartwatch makes them: encrypted at rest, TLS-only."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cartwatch.resources import QueueDefinition
from cartwatch_infra.compliance import acknowledge

# Longest retention SQS allows: a dead letter waits two weeks for someone to look.
DEAD_LETTER_RETENTION = cdk.Duration.days(14)


def secure_queue(scope: Construct, id: str, **props: Any) -> sqs.Queue:
    """SSE with SQS-owned keys (no KMS calls, no key policy to manage) and a queue policy
    that denies any request not made over TLS."""
    return sqs.Queue(scope, id, encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True, **props)


def queue_with_dead_letters(scope: Construct, definition: QueueDefinition) -> tuple[sqs.Queue, sqs.Queue]:
    """A work queue and its dead-letter queue (``Queue``, ``DeadLetters``), shaped by the same
    ``resources`` definition that `cartwatch local` provisions: a message its consumer fails
    ``max_receive_count`` times is poison and is parked."""
    dead_letters = secure_queue(
        scope, "DeadLetters", retention_period=cdk.Duration.seconds(definition.dlq_retention_seconds)
    )
    queue = secure_queue(
        scope,
        "Queue",
        visibility_timeout=cdk.Duration.seconds(definition.visibility_timeout_seconds),
        retention_period=cdk.Duration.seconds(definition.retention_seconds),
        # Explicit: the receiver derives its 413 bound from the intake queue's (service/intake.py).
        max_message_size_bytes=definition.max_message_bytes,
        dead_letter_queue=sqs.DeadLetterQueue(
            max_receive_count=definition.max_receive_count, queue=dead_letters
        ),
    )
    return queue, dead_letters


def dead_letter_queue(
    scope: Construct, id: str, *, receives: str, retention: cdk.Duration = DEAD_LETTER_RETENTION
) -> sqs.Queue:
    """A queue that is itself a failure destination (``receives`` says of what)."""
    queue = secure_queue(scope, id, retention_period=retention)
    acknowledge(
        queue,
        "AwsSolutions-SQS3",
        f"This queue is itself a dead-letter destination ({receives}); a DLQ of a DLQ would "
        "only move the same messages again.  Its depth is alarmed in monitoring.py.",
    )
    return queue


def encrypted_topic(scope: Construct, id: str, *, purpose: str) -> tuple[sns.Topic, kms.Key]:
    """A TLS-only topic encrypted with its own rotating customer managed key.

    Not the AWS managed aws/sns key: its key policy cannot be edited, so AWS services
    (CloudWatch alarms, EventBridge) and other accounts could never be allowed to use it.
    Consumers' SSE-encrypted SQS queues subscribed to a topic likewise need a customer
    managed key of their own that lets sns.amazonaws.com use it (aws/sqs cannot be granted).
    """
    key = kms.Key(scope, f"{id}Key", description=f"cartwatch: encrypts {purpose}", enable_key_rotation=True)
    topic = sns.Topic(scope, id, display_name=f"cartwatch {purpose}", master_key=key, enforce_ssl=True)
    return topic, key
