"""The emulator's request batch (``/_cartwatch/batch``): each request answered as if it came alone.

Tests that need a fleet's data (thousands of parameters, rows) put it into moto server a
batch at a time; what they then read must be what single calls would have left, and the
emulator's layers (the size limits, the call tally) must see every request of a batch.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from tests.integration.conftest import Aws

from cartwatch.resources import INTAKE_QUEUE
from cartwatch_tools.local.request_batch import BATCH_PATH, send_batch

pytestmark = pytest.mark.integration


def calls(aws: Aws) -> dict[str, int]:
    url = f"{aws.resources.endpoint_url}/_cartwatch/calls"
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 — loopback
        tally: dict[str, int] = json.loads(response.read())["calls"]
    return tally


def test_a_batch_leaves_what_single_calls_would_and_answers_each_in_order(aws: Aws) -> None:
    names = [f"{aws.prefix}/stores/s{n}/api" for n in range(3)]
    puts = [
        ("AmazonSSM.PutParameter", {"Name": n, "Value": f"token {n}", "Type": "SecureString"}) for n in names
    ]
    before = calls(aws).get("ssm.PutParameter", 0)

    answers = send_batch(aws.resources.endpoint_url, aws.resources.region, "ssm", [*puts, puts[0]], size=2)

    assert [a["status"] for a in answers] == [200, 200, 200, 400]
    assert answers[0]["body"]["Version"] == 1
    assert answers[3]["body"]["__type"].endswith("ParameterAlreadyExists")  # as a second PutParameter is
    read = aws.client("ssm").get_parameters(Names=names, WithDecryption=True)["Parameters"]
    assert sorted((p["Name"], p["Value"]) for p in read) == [(n, f"token {n}") for n in names]
    assert calls(aws)["ssm.PutParameter"] == before + 4  # the tally counts each request of a batch


def test_aws_limits_hold_inside_a_batch(aws: Aws) -> None:
    queue = aws.resources.intake_queue_url
    # Under the limit in characters (all moto counts), over it in bytes: AWS refuses it.
    over = "é" * (INTAKE_QUEUE.max_message_bytes // 2 + 1)
    fits = "é" * (INTAKE_QUEUE.max_message_bytes // 2)
    answers = send_batch(
        aws.resources.endpoint_url,
        aws.resources.region,
        "sqs",
        [("AmazonSQS.SendMessage", {"QueueUrl": queue, "MessageBody": body}) for body in (over, fits)],
    )
    assert [a["status"] for a in answers] == [400, 200]
    assert "InvalidParameterValue" in answers[0]["body"]["__type"]
    attributes = aws.client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "1"


def test_a_body_that_is_not_a_batch_is_a_400(aws: Aws) -> None:
    request = urllib.request.Request(  # noqa: S310 — loopback
        aws.resources.endpoint_url + BATCH_PATH, data=b'{"requests": 3}', method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310
    assert refused.value.code == 400
    assert "not a batch" in json.loads(refused.value.read())["error"]
