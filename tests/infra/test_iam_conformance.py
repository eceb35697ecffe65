"""The deployed template as the IAM conformance check reads it (tests/iam_conformance.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cartwatch_tools.iam.calls import IamRequest, Where, iam_requests
from cartwatch_tools.iam.conformance import ConformanceCheck
from cartwatch_tools.iam.recording import RecordedCall
from cartwatch_tools.iam.template import StackTemplate
from tests.iam_conformance import an_environment, documented_unexercised
from tests.stack_template import ROOT, deployed_template

pytestmark = pytest.mark.infra

ACCOUNT = "123456789012"
DEPLOYMENT = an_environment("us-east-1", "/t1", ACCOUNT)
HERE = Where(DEPLOYMENT.region, ACCOUNT)


@pytest.fixture(scope="module")
def template() -> StackTemplate:
    return StackTemplate(deployed_template())


def call(function: str, service: str, operation: str, **params: Any) -> RecordedCall:
    return RecordedCall(
        function, DEPLOYMENT, f"{service}.{operation}", tuple(iam_requests(service, operation, params, HERE))
    )


def violations(template: StackTemplate, *calls: RecordedCall) -> list[str]:
    return [v.problem for v in ConformanceCheck(template).check(calls)[0]]


def write(function: str, operation: str, partition_key: str) -> RecordedCall:
    key = {"pk": {"S": partition_key}, "sk": {"S": "STATE"}}
    if operation == "BatchWriteItem":
        return call(
            function, "dynamodb", operation, RequestItems={"cw-table": [{"DeleteRequest": {"Key": key}}]}
        )
    return call(
        function,
        "dynamodb",
        operation,
        TableName="cw-table",
        **{"Item" if operation == "PutItem" else "Key": key},
    )


def test_conformance_knows_every_function_of_the_stack(template: StackTemplate) -> None:
    handlers = {
        r["Properties"]["Handler"]
        for r in template.resources.values()
        if r["Type"] == "AWS::Lambda::Function"
    }
    assert {f"cartwatch.handlers.{name}.handler" for name in template.functions} == handlers
    assert set(template.functions) == {
        "receiver",
        "processor",
        "sweeper",
        "hook_health",
        "publisher",
        "figure_tally",
        "query_api",
        "app_callbacks",
        "store_purge",
        "archiver",
    }


@pytest.mark.parametrize(
    ("function", "operation"),
    [
        ("processor", "PutItem"),
        ("processor", "UpdateItem"),
        ("store_purge", "BatchWriteItem"),
        ("sweeper", "UpdateItem"),
        ("publisher", "PutItem"),
        ("publisher", "UpdateItem"),
        ("query_api", "PutItem"),
        ("query_api", "UpdateItem"),
    ],
)
def test_conformance_cart_writers_may_write_carts_but_never_a_store_row(
    template: StackTemplate, function: str, operation: str
) -> None:
    assert violations(template, write(function, operation, "CART#s1#c1")) == []
    [problem] = violations(template, write(function, operation, "STORE"))
    assert (
        f"missing grant: dynamodb:{operation} on arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/cw-table"
        in problem
    )
    assert "allows it only when" in problem and "CART#*" in problem


def test_conformance_the_app_and_the_purge_write_store_rows_never_carts(template: StackTemplate) -> None:
    for operation in ("PutItem", "UpdateItem", "DeleteItem"):
        assert violations(template, write("app_callbacks", operation, "STORE")) == []
        assert violations(template, write("app_callbacks", operation, "APP#jti#x")) == []  # its ledger
        assert violations(template, write("app_callbacks", operation, "CART#s1#c1"))
    assert violations(template, write("store_purge", "UpdateItem", "STORE")) == []  # the purge's cursors
    assert violations(template, write("store_purge", "UpdateItem", "CART#s1#c1"))
    assert violations(template, write("processor", "DeleteItem", "STORE"))  # it only queues a check


def test_conformance_a_publish_needs_the_topic_key_aws_uses_for_it(template: StackTemplate) -> None:
    publish = call("publisher", "sns", "PublishBatch", TopicArn=DEPLOYMENT.topic_arn)
    assert violations(template, publish) == []
    [problem] = violations(template.without("publisher", "kms:GenerateDataKey"), publish)
    assert "AWS adds it to that call: kms:GenerateDataKey on arn:aws:kms:us-east-1:" in problem
    assert "the stack's PublishingEventsKey" in problem


def test_conformance_secrets_are_read_only_by_the_functions_that_need_them(template: StackTemplate) -> None:
    """A store's API token (SSM) is read by the functions that call BigCommerce; its webhook
    credentials (the credentials table, under its own key) by the receiver and the app."""

    def api_token(function: str) -> RecordedCall:
        return call(function, "ssm", "GetParameter", Name="/t1/stores/s1/api", WithDecryption=True)

    def webhook_credentials(function: str) -> RecordedCall:
        return call(
            function,
            "dynamodb",
            "GetItem",
            TableName="cw-credentials",
            Key={"store_hash": {"S": "s1"}},
            ConsistentRead=True,
        )

    known_stores = call(
        "receiver",
        "dynamodb",
        "Query",
        TableName="cw-credentials",
        IndexName="known",
        KeyConditionExpression="listed = :yes",
        ExpressionAttributeValues={":yes": {"S": "1"}},
    )
    a_chunk_of_tokens = call(
        "hook_health",
        "ssm",
        "GetParameters",
        Names=[f"/t1/stores/s{n}/api" for n in range(10)],
        WithDecryption=True,
    )
    allowed = [
        api_token("publisher"),
        api_token("hook_health"),
        a_chunk_of_tokens,
        api_token("store_purge"),  # it asks BigCommerce whether the store is gone
        webhook_credentials("receiver"),
        known_stores,
        webhook_credentials("app_callbacks"),
    ]
    assert violations(template, *allowed) == []
    refused = [api_token(f) for f in ("receiver", "processor", "sweeper", "query_api")] + [
        webhook_credentials(f) for f in ("processor", "sweeper", "hook_health", "publisher", "query_api")
    ]
    assert [c.function for c in refused if not violations(template, c)] == []
    # The webhook credentials left SSM (stores migrate-credentials): no function reads them
    # there, the receiver included, so the ack path makes no SSM call at all.
    for function in ("receiver", "app_callbacks", "publisher"):
        old_place = call(
            function, "ssm", "GetParameter", Name="/t1/stores/s1/webhook-auth", WithDecryption=True
        )
        assert violations(template, old_place), function
    # The deployment's prefix (cdk.json) is bound to the environment's: another prefix is another secret.
    assert violations(template, call("publisher", "ssm", "GetParameter", Name="/elsewhere/stores/s1/api"))


def test_conformance_the_queue_policy_is_read_and_tls_requests_pass_it(template: StackTemplate) -> None:
    stack = template.bind(DEPLOYMENT)
    queue = f"arn:aws:sqs:us-east-1:{ACCOUNT}:cw-intake"
    [deny] = stack.resource_policy(queue)
    assert deny.effect == "Deny" and deny.conditions == {"Bool": {"aws:SecureTransport": ("false",)}}
    send = call("receiver", "sqs", "SendMessage", QueueUrl=DEPLOYMENT.intake_queue_url, MessageBody="{}")
    assert violations(template, send) == []
    assert stack.implicit_requests(IamRequest("sqs:SendMessage", queue)) == []  # SSE-SQS: no KMS


def test_conformance_the_archiver_only_writes_events_to_the_archive_and_only_over_tls(
    template: StackTemplate,
) -> None:
    key = "events/s1/2026/12/07/04/batch.json.gz"
    put = call("archiver", "s3", "PutObject", Bucket=DEPLOYMENT.archive_bucket, Key=key, Body=b"")
    assert violations(template, put) == []
    # SSE-S3: S3 needs no key of the archiver's.
    stack = template.bind(DEPLOYMENT)
    [request] = put.requests
    assert stack.implicit_requests(request) == []
    [deny] = stack.resource_policy(request.resource)
    assert deny.effect == "Deny" and deny.conditions == {"Bool": {"aws:SecureTransport": ("false",)}}
    for forbidden in (
        call("archiver", "s3", "PutObject", Bucket=DEPLOYMENT.archive_bucket, Key="elsewhere/x", Body=b""),
        call("archiver", "s3", "GetObject", Bucket=DEPLOYMENT.archive_bucket, Key=key),
        call("archiver", "s3", "ListObjectsV2", Bucket=DEPLOYMENT.archive_bucket, Prefix="events/"),
        call("publisher", "s3", "PutObject", Bucket=DEPLOYMENT.archive_bucket, Key=key, Body=b""),
    ):
        [problem] = violations(template, forbidden)
        assert "missing grant: s3:" in problem and "the stack's ArchivingArchive" in problem


def test_conformance_documented_unexercised_grants_are_grants_of_the_stack(template: StackTemplate) -> None:
    documented = documented_unexercised()
    assert documented, "docs/architecture.md lists the grants no test exercises (unexercised-grants)"
    assert documented <= template.grants()


INNER_TESTS = """
import boto3
from botocore.stub import Stubber

from cartwatch_tools.iam.recording import Deployment, acting_as

DEPLOYMENT = {deployment!r}


def test_the_receiver_queues_a_delivery():
    sqs = boto3.client("sqs", region_name="us-east-1")
    with Stubber(sqs) as stub, acting_as("receiver", DEPLOYMENT):
        md5 = "99914b932bd37a50b983c5e7c90ae93b"  # of the body, which botocore checks
        stub.add_response("send_message", {{"MessageId": "m1", "MD5OfMessageBody": md5}})
        sqs.send_message(QueueUrl=DEPLOYMENT.intake_queue_url, MessageBody="{{}}")


def test_the_receiver_deletes_a_cart():
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    with Stubber(dynamodb) as stub, acting_as("receiver", DEPLOYMENT):
        stub.add_response("delete_item", {{}})
        dynamodb.delete_item(
            TableName=DEPLOYMENT.table_name, Key={{"pk": {{"S": "CART#s1#c1"}}, "sk": {{"S": "STATE"}}}}
        )
"""


def test_conformance_a_call_the_role_forbids_fails_the_test_that_made_it(tmp_path: Path) -> None:
    """The plugin as every test run has it (tests/conftest.py registers it), in a pytest of its
    own: a call the function's role allows passes, one it does not fails that test at teardown."""
    (tmp_path / "conftest.py").write_text(
        "from tests.iam_conformance import register\n\n\n"
        "def pytest_configure(config):\n    register(config)\n"
    )
    (tmp_path / "test_calls.py").write_text(INNER_TESTS.format(deployment=DEPLOYMENT))
    python_path = os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(tmp_path)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": python_path},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == pytest.ExitCode.TESTS_FAILED, output
    # Both tests' own steps pass; the teardown of the one whose call its role forbids fails.
    assert "2 passed, 1 error" in output, output
    assert "ERROR at teardown of test_the_receiver_deletes_a_cart" in output, output
    assert "test_the_receiver_queues_a_delivery" not in output.split("short test summary")[1], output
    table = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/cw-table"
    assert "receiver: dynamodb.DeleteItem(TableName='cw-table'" in output, output
    assert f"missing grant: dynamodb:DeleteItem on {table}" in output, output
