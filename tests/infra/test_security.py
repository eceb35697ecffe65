"""Least privilege, compliance and lint: every role's grants, cdk-nag, cfn-lint."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Annotations, Match
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import ManualArgs, lint  # type: ignore[import-untyped]

from cartwatch_infra.functions import CartwatchFunction
from tests.infra.conftest import Synthesized, render

pytestmark = pytest.mark.infra

XRAY = {("xray:PutTelemetryRecords", "*"), ("xray:PutTraceSegments", "*")}
SSM_STORES = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/cartwatch/stores/*/"
SSM_APP_CREDENTIALS = (
    "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/cartwatch/app/credentials"
)
SSM_CURSOR_KEY = (
    "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/cartwatch/query-api/cursor-key"
)


def granted(synth: Synthesized, function: CartwatchFunction) -> set[tuple[str, str]]:
    """Every (action, resource) the function's role is allowed, from all its policies."""
    role = synth.logical_id(function.role)
    allowed: set[tuple[str, str]] = set()
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            allowed |= {(a, render(r)) for a in actions for r in resources}
    return allowed


def expected_grants(synth: Synthesized) -> dict[str, tuple[CartwatchFunction, set[tuple[str, str]]]]:
    stack = synth.stack
    r = synth.render
    table = r(stack.state.table.table_arn)
    credentials = r(stack.credentials.table.table_arn)
    # DynamoDB opens the credentials table's key on the caller's behalf: Decrypt, nothing more.
    credentials_key = {("kms:Decrypt", r(stack.credentials.key.key_arn))}

    def on(resource: str, *actions: str) -> set[tuple[str, str]]:
        return {(a, resource) for a in actions}

    def base(function: CartwatchFunction) -> set[tuple[str, str]]:
        return XRAY | on(r(function.log_group.log_group_arn), "logs:CreateLogStream", "logs:PutLogEvents")

    def dead_letters(queue: Any) -> set[tuple[str, str]]:
        return on(r(queue.queue_arn), "sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl")

    # Every store's settings in one Query of the STORE partition (StoreDirectory; hook health
    # pages through it); the condition holding it there:
    # test_store_settings_are_queried_in_their_partition_only.
    store_settings = on(table, "dynamodb:Query")

    intake, processing, jobs, publishing = stack.intake, stack.processing, stack.jobs, stack.publishing
    # A stream event source: reading records, and ListStreams (no resource ARN).
    stream_reads = on(
        r(stack.state.table.table_stream_arn),
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
    ) | {("dynamodb:ListStreams", "*")}
    archiving = stack.archiving
    return {
        "archiver": (
            archiving.archiver,
            base(archiving.archiver)
            # Objects under events/ only: no reads, no deletes (the lifecycle rule expires them).
            | on(r(archiving.bucket.bucket_arn) + "/events/*", "s3:PutObject")
            | on(
                r(archiving.queue.queue_arn),
                "sqs:ReceiveMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:GetQueueUrl",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
            ),
        ),
        "receiver": (
            intake.receiver,
            base(intake.receiver)
            | on(r(intake.queue.queue_arn), "sqs:SendMessage")
            # The known stores' index and one store's credentials: nothing of the carts, no SSM.
            | on(f"{credentials}/index/known", "dynamodb:Query")
            | on(credentials, "dynamodb:GetItem")
            | credentials_key,
        ),
        "processor": (
            processing.processor,
            base(processing.processor)
            | on(table, "dynamodb:GetItem", "dynamodb:BatchGetItem")
            | store_settings
            | on(table, "dynamodb:UpdateItem", "dynamodb:PutItem")  # carts only
            # An uninstall webhook only queues a check: no scan, no deletes, no secrets.
            | on(r(stack.purging.queue.queue_arn), "sqs:SendMessage")
            | on(
                r(intake.queue.queue_arn),
                "sqs:ReceiveMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:GetQueueUrl",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
            ),
        ),
        "sweeper": (
            jobs.sweeper,
            base(jobs.sweeper)
            | on(f"{table}/index/due", "dynamodb:Query")
            | on(table, "dynamodb:GetItem", "dynamodb:UpdateItem")  # UpdateItem: carts only
            | store_settings
            | dead_letters(jobs.dead_letter_queue),
        ),
        "hook_health": (
            jobs.hook_health,
            base(jobs.hook_health)
            | store_settings
            | on(table, "dynamodb:UpdateItem")  # its cycle's item only
            | on(SSM_STORES + "api", "ssm:GetParameter", "ssm:GetParameters")
            | dead_letters(jobs.dead_letter_queue),
        ),
        "publisher": (
            publishing.publisher,
            base(publishing.publisher)
            | on(r(publishing.topic.topic_arn), "sns:Publish")
            | on(r(publishing.key.key_arn), "kms:GenerateDataKey", "kms:Decrypt")
            # Each cart as it is now (erase wins, enrich once); the slot, snapshot, order and
            # recovery copy (PutItem) on carts only; the outbox index and the due index (a
            # bought cart's entry holds its purchase) for the safety net; the shopper index
            # (a shopper's other carts) for the shopper rules — no other index.
            | on(
                table, "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:UpdateItem", "dynamodb:PutItem"
            )
            | on(f"{table}/index/outbox", "dynamodb:Query")
            | on(f"{table}/index/due", "dynamodb:Query")
            | on(f"{table}/index/shopper", "dynamodb:Query")
            | store_settings
            | on(SSM_STORES + "api", "ssm:GetParameter")
            | dead_letters(publishing.dead_letter_queue)
            | stream_reads,
        ),
        "tally": (
            stack.figures.function,
            base(stack.figures.function)
            | on(table, "dynamodb:UpdateItem")  # figure items only
            | stream_reads,
        ),
        "query": (
            stack.query_api.function,
            base(stack.query_api.function)
            | on(f"{table}/index/listing", "dynamodb:Query")
            | on(table, "dynamodb:Query")  # figure items only
            | on(table, "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem")
            | store_settings
            | on(SSM_CURSOR_KEY, "ssm:GetParameter", "ssm:PutParameter"),
        ),
        "app": (
            stack.app.function,
            base(stack.app.function)
            | on(table, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
            | on(f"{table}/index/listing", "dynamodb:Query")
            | on(SSM_APP_CREDENTIALS, "ssm:GetParameter")
            | on(credentials, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem")
            | credentials_key
            | on(SSM_STORES + "api", "ssm:GetParameter", "ssm:PutParameter", "ssm:DeleteParameters")
            | on(r(stack.purging.queue.queue_arn), "sqs:SendMessage"),
        ),
        "purge": (
            stack.purging.function,
            base(stack.purging.function)
            | on(table, "dynamodb:Scan", "dynamodb:BatchWriteItem", "dynamodb:GetItem", "dynamodb:UpdateItem")
            | on(credentials, "dynamodb:DeleteItem")
            | credentials_key
            | on(SSM_STORES + "api", "ssm:DeleteParameters", "ssm:GetParameter")
            | on(
                r(stack.purging.queue.queue_arn),
                "sqs:SendMessage",
                "sqs:ReceiveMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:GetQueueUrl",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
            ),
        ),
    }


def conditions_of(
    synth: Synthesized, function: CartwatchFunction, action: str, resource: str | None = None
) -> list[Any]:
    """The Condition block of every statement of the function's role that allows ``action``
    (on ``resource``, rendered, when given)."""
    role = synth.logical_id(function.role)
    found = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            if action in actions and (resource is None or resource in {render(r) for r in resources}):
                found.append(statement.get("Condition"))
    return found


def test_app_and_purge_writes_are_fenced_to_their_items(synthesized: Synthesized) -> None:
    """The public app function writes only store rows and its ledger; the purge deletes only carts
    and the store's figures."""
    stack = synthesized.stack
    table = synthesized.render(stack.state.table.table_arn)
    rows_and_ledger = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["STORE", "APP#*"]}}
    for action in ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:GetItem"):
        assert conditions_of(synthesized, stack.app.function, action, table) == [rows_and_ledger], action
    carts_and_figures = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["CART#*", "STATS#*"]}}
    assert conditions_of(synthesized, stack.purging.function, "dynamodb:BatchWriteItem") == [
        carts_and_figures
    ]
    store_rows = {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["STORE"]}}
    assert conditions_of(synthesized, stack.purging.function, "dynamodb:UpdateItem") == [store_rows]
    cycle = {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["HOOKHEALTH"]}}
    assert conditions_of(synthesized, stack.jobs.hook_health, "dynamodb:UpdateItem") == [cycle]


def test_the_credentials_key_opens_only_through_dynamodb(synthesized: Synthesized) -> None:
    """The functions that may decrypt store secrets can do so only as DynamoDB reads them."""
    stack = synthesized.stack
    key = synthesized.render(stack.credentials.key.key_arn)
    via_dynamodb = {"StringEquals": {"kms:ViaService": "dynamodb.${AWS::Region}.amazonaws.com"}}
    for function in (stack.intake.receiver, stack.app.function, stack.purging.function):
        conditions = conditions_of(synthesized, function, "kms:Decrypt", key)
        rendered = [{k: {n: render(v) for n, v in c.items()} for k, c in cond.items()} for cond in conditions]
        assert conditions and all(c == via_dynamodb for c in rendered), function
    for function in (stack.processing.processor, stack.jobs.sweeper, stack.jobs.hook_health):
        assert conditions_of(synthesized, function, "kms:Decrypt", key) == []


@pytest.mark.parametrize(
    "name",
    [
        "receiver",
        "processor",
        "sweeper",
        "hook_health",
        "publisher",
        "tally",
        "query",
        "app",
        "purge",
        "archiver",
    ],
)
def test_role_allows_exactly_what_its_function_needs(synthesized: Synthesized, name: str) -> None:
    function, expected = expected_grants(synthesized)[name]
    assert sorted(granted(synthesized, function)) == sorted(expected)


def test_the_figures_are_written_by_the_tally_and_read_by_the_query_api_only(
    synthesized: Synthesized,
) -> None:
    stack = synthesized.stack
    figures_only = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["STATS#*"]}}
    assert conditions_of(synthesized, stack.figures.function, "dynamodb:UpdateItem") == [figures_only]
    assert figures_only in conditions_of(synthesized, stack.query_api.function, "dynamodb:Query")


def test_cart_writers_write_only_cart_items(synthesized: Synthesized) -> None:
    """The functions that write carts cannot write a store's row (the conformance check holds
    them to it: tests/infra/test_iam_conformance.py); the ack path writes nothing."""
    stack = synthesized.stack
    carts_only = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["CART#*"]}}
    writers = {
        stack.processing.processor: ("dynamodb:PutItem", "dynamodb:UpdateItem"),
        stack.jobs.sweeper: ("dynamodb:UpdateItem",),
        stack.publishing.publisher: (
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
        ),  # PutItem: a link's cart copy
        stack.query_api.function: ("dynamodb:PutItem", "dynamodb:UpdateItem"),
    }
    writes = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem", "dynamodb:DeleteItem")
    for function, actions in writers.items():
        for action in writes:
            expected = [carts_only] if action in actions else []
            assert conditions_of(synthesized, function, action) == expected, (function.node.id, action)
    assert all(conditions_of(synthesized, stack.intake.receiver, action) == [] for action in writes)
    # Hook health writes one item, its cycle's (test_app_and_purge_writes_are_fenced_to_their_items).
    hook_health_writes = [a for a in writes if conditions_of(synthesized, stack.jobs.hook_health, a)]
    assert hook_health_writes == ["dynamodb:UpdateItem"]


def test_store_settings_are_queried_in_their_partition_only(synthesized: Synthesized) -> None:
    """The functions that read every store's settings at once may Query the table, but only
    the STORE partition: never a cart's partition or another function's items."""
    stack = synthesized.stack
    table = synthesized.render(stack.state.table.table_arn)
    store_rows = {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["STORE"]}}
    readers = (
        stack.processing.processor,
        stack.jobs.sweeper,
        stack.jobs.hook_health,
        stack.publishing.publisher,
        stack.query_api.function,
    )
    figures = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["STATS#*"]}}
    for function in readers:
        # The query API reads a store's daily figures too (its stats).
        expected = [figures, store_rows] if function is stack.query_api.function else [store_rows]
        assert conditions_of(synthesized, function, "dynamodb:Query", table) == expected, function.node.id


def test_roles_have_no_managed_or_inline_policies(synthesized: Synthesized) -> None:
    for role_id, role in synthesized.resources("AWS::IAM::Role").items():
        assert "ManagedPolicyArns" not in role["Properties"], role_id
        assert "Policies" not in role["Properties"], role_id


def test_no_wildcard_action_anywhere(synthesized: Synthesized) -> None:
    def actions(document: dict[str, Any]) -> list[str]:
        found = []
        for statement in document["Statement"]:
            value = statement.get("Action", [])
            found += value if isinstance(value, list) else [value]
        return found

    documents = [
        p["Properties"]["PolicyDocument"] for p in synthesized.resources("AWS::IAM::Policy").values()
    ]
    documents += [k["Properties"]["KeyPolicy"] for k in synthesized.resources("AWS::KMS::Key").values()]
    offending = [a for document in documents for a in actions(document) if "*" in a]
    # The key policies' account-root statement is the one exception (CDK's default "kms:*"
    # for the owning account, without which the key could become unmanageable).
    assert offending == ["kms:*"] * len(synthesized.resources("AWS::KMS::Key"))


def test_cdk_nag_has_no_unacknowledged_findings(synthesized: Synthesized) -> None:
    report = AwsSolutionsChecks(synthesized.app).validate_scope(synthesized.stack)
    findings = [
        f"{violation.rule_name} at {resource.construct_path}"
        for violation in report.violations
        for resource in violation.violating_resources
    ]
    assert findings == []
    annotations = Annotations.from_stack(synthesized.stack)
    assert annotations.find_error("*", Match.any_value()) == []
    assert annotations.find_warning("*", Match.any_value()) == []


def test_every_acknowledgement_names_a_finding_and_a_reason(synthesized: Synthesized) -> None:
    # CDK records an acknowledgement as {"Annotation::<finding>": reason}; cdk-nag matches
    # the finding id written that way (its plain id, as cdk-nag documents).
    acknowledged: dict[str, list[str]] = defaultdict(list)
    for construct in synthesized.stack.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for key, reason in entry.data.items():
                    acknowledged[key.removeprefix("Annotation::")].append(reason)
    assert {f.split("[")[0] for f in acknowledged} == {
        "AwsSolutions-IAM5",  # see below
        "AwsSolutions-L1",  # python3.13 pinned: the bundle is compiled for it
        "AwsSolutions-APIG4",  # BigCommerce cannot use API Gateway authorizers
        "AwsSolutions-SQS3",  # the DLQs that are failure destinations, not redrive targets
        "AwsSolutions-S1",  # the event archive: no server access logs (CloudTrail audits it)
    }
    for finding, reasons in acknowledged.items():
        assert all(len(reason) >= 60 for reason in reasons), (finding, reasons)
    assert {f for f in acknowledged if f.startswith("AwsSolutions-IAM5")} == {
        # X-Ray, and dynamodb:ListStreams for the stream event source
        "AwsSolutions-IAM5[Resource::*]",
        # per-store API tokens of stores onboarded after deployment
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>"
        ":parameter/cartwatch/stores/*/api]",
        # the archiver's objects, one per batch, store and hour
        "AwsSolutions-IAM5[Resource::<ArchivingArchive3B4657BD.Arn>/events/*]",
    }


def test_cfn_lint_is_clean(synthesized: Synthesized) -> None:
    matches = lint(
        json.dumps(synthesized.json),
        config=ManualArgs(ignore_checks=["W3005"], regions=["us-east-1"]),
    )
    assert [f"{m.rule.id} {m.message} ({m.path})" for m in matches] == []
