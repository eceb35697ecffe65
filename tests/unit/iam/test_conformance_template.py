"""A template read as IAM reads the deployed stack (cartwatch_tools.iam.template), on a small one."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from tests.iam_conformance import an_environment

from cartwatch_tools.iam.calls import IamRequest
from cartwatch_tools.iam.conformance import ConformanceCheck
from cartwatch_tools.iam.policy import PolicyError
from cartwatch_tools.iam.recording import RecordedCall
from cartwatch_tools.iam.template import Grant, StackTemplate

ACCOUNT = "123456789012"
DEPLOYMENT = an_environment("eu-west-1", "/local/t1", ACCOUNT)
PARTITION_REGION_ACCOUNT = [
    "arn:",
    {"Ref": "AWS::Partition"},
    ":ssm:",
    {"Ref": "AWS::Region"},
    ":",
    {"Ref": "AWS::AccountId"},
]
TEMPLATE: dict[str, Any] = {
    "Resources": {
        "TableAAAAAAAA": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {"SSESpecification": {"SSEEnabled": True}},
        },
        "KeyBBBBBBBB": {
            "Type": "AWS::KMS::Key",
            "Properties": {
                "KeyPolicy": {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {
                                "AWS": {
                                    "Fn::Join": ["", ["arn:aws:iam::", {"Ref": "AWS::AccountId"}, ":root"]]
                                }
                            },
                            "Action": "kms:*",
                            "Resource": "*",
                        }
                    ]
                }
            },
        },
        "QueueCCCCCCCC": {
            "Type": "AWS::SQS::Queue",
            "Properties": {"KmsMasterKeyId": {"Fn::GetAtt": ["KeyBBBBBBBB", "Arn"]}},
        },
        "QueuePolicyDDDDDDDD": {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {
                "Queues": [{"Ref": "QueueCCCCCCCC"}],
                "PolicyDocument": {
                    "Statement": [
                        {
                            "Effect": "Deny",
                            "Principal": {"AWS": "*"},
                            "Action": "sqs:*",
                            "Resource": {"Fn::GetAtt": ["QueueCCCCCCCC", "Arn"]},
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ]
                },
            },
        },
        "TopicEEEEEEEE": {"Type": "AWS::SNS::Topic", "Properties": {"KmsMasterKeyId": "alias/aws/sns"}},
        "LogsFFFFFFFF": {"Type": "AWS::Logs::LogGroup", "Properties": {}},
        "RoleGGGGGGGG": {"Type": "AWS::IAM::Role", "Properties": {}},
        "RolePolicyHHHHHHHH": {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "Roles": [{"Ref": "RoleGGGGGGGG"}],
                "PolicyDocument": {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "sqs:SendMessage",
                            "Resource": {"Fn::GetAtt": ["QueueCCCCCCCC", "Arn"]},
                        },
                        {
                            "Effect": "Allow",
                            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                            "Resource": {"Fn::GetAtt": ["KeyBBBBBBBB", "Arn"]},
                        },
                        {
                            "Effect": "Allow",
                            "Action": "ssm:GetParameter",
                            "Resource": {
                                "Fn::Join": [
                                    "",
                                    [*PARTITION_REGION_ACCOUNT, ":parameter/deployed/stores/*/webhook-auth"],
                                ]
                            },
                        },
                        {
                            "Effect": "Allow",
                            "Action": "dynamodb:Query",
                            "Resource": {"Fn::Sub": "${TableAAAAAAAA.Arn}/index/due"},
                        },
                        {
                            "Effect": "Allow",
                            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                            "Resource": {"Fn::GetAtt": ["LogsFFFFFFFF", "Arn"]},
                        },
                    ]
                },
            },
        },
        "ReceiverIIIIIIII": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Handler": "cartwatch.handlers.receiver.handler",
                "Role": {"Fn::GetAtt": ["RoleGGGGGGGG", "Arn"]},
                "LoggingConfig": {"LogGroup": {"Ref": "LogsFFFFFFFF"}},
                "Environment": {
                    "Variables": {
                        "CARTWATCH_TABLE_NAME": {"Ref": "TableAAAAAAAA"},
                        "CARTWATCH_INTAKE_QUEUE_URL": {"Ref": "QueueCCCCCCCC"},
                        "CARTWATCH_SSM_PREFIX": "/deployed",
                    }
                },
            },
        },
    }
}
QUEUE_ARN = f"arn:aws:sqs:eu-west-1:{ACCOUNT}:cw-intake"
KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/KeyBBBBBBBB"


def call(*requests: IamRequest, function: str = "receiver") -> RecordedCall:
    return RecordedCall(function, DEPLOYMENT, "a call", requests)


def test_conformance_functions_are_found_by_handler_and_bound_to_the_environment() -> None:
    stack = StackTemplate(TEMPLATE).bind(DEPLOYMENT)
    assert stack.principal("receiver").role_arn == f"arn:aws:iam::{ACCOUNT}:role/RoleGGGGGGGG"
    resources = [r for s in stack.identity("receiver") for r in s.resources]
    assert resources == [
        QUEUE_ARN,
        KEY_ARN,
        # The deployment's prefix, /deployed, is the environment's.
        f"arn:aws:ssm:eu-west-1:{ACCOUNT}:parameter/local/t1/stores/*/webhook-auth",
        f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/cw-table/index/due",
        f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:LogsFFFFFFFF:*",
    ]
    assert stack.name_of(QUEUE_ARN) == "the stack's Queue"


def test_conformance_aws_adds_kms_to_a_send_to_a_queue_under_a_customer_key() -> None:
    send = IamRequest("sqs:SendMessage", QUEUE_ARN)
    stack = StackTemplate(TEMPLATE).bind(DEPLOYMENT)
    # On the caller's behalf, through SQS: what kms:ViaService says.
    via_sqs = {"kms:viaservice": ("sqs.eu-west-1.amazonaws.com",)}
    assert stack.implicit_requests(send) == [
        IamRequest("kms:GenerateDataKey", KEY_ARN, via_sqs),
        IamRequest("kms:Decrypt", KEY_ARN, via_sqs),
    ]
    topic = StackTemplate(TEMPLATE).bind(DEPLOYMENT).implicit_requests(IamRequest("sns:Publish", "x"))
    assert topic == []  # not a resource of the stack (and its topic uses the AWS managed key)

    violations, exercised = ConformanceCheck(StackTemplate(TEMPLATE)).check([call(send)])
    assert violations == []
    # Grants read as the template writes them, CDK's hash suffix dropped.
    assert Grant("receiver", "kms:GenerateDataKey", "${Key.Arn}") in exercised

    without_key = StackTemplate(TEMPLATE).without("receiver", "kms:GenerateDataKey")
    [violation] = ConformanceCheck(without_key).check([call(send)])[0]
    assert violation.function == "receiver"
    assert f"missing grant: AWS adds it to that call: kms:GenerateDataKey on {KEY_ARN}" in violation.problem


def test_conformance_names_the_missing_grant() -> None:
    read = IamRequest("ssm:GetParameter", f"arn:aws:ssm:eu-west-1:{ACCOUNT}:parameter/local/t1/stores/s1/api")
    unknown = RecordedCall("sweeper", DEPLOYMENT, "dynamodb.Query()", ())
    unnamed = RecordedCall(
        None, None, "dynamodb.GetItem()", problem="made by function code outside any function"
    )
    violations, _ = ConformanceCheck(StackTemplate(TEMPLATE)).check([call(read), unknown, unnamed])
    assert [v.function for v in violations] == ["receiver", "sweeper", None]
    assert "missing grant: ssm:GetParameter on" in violations[0].problem
    assert "not a resource of the stack" in violations[0].problem
    assert "no function with handler cartwatch.handlers.sweeper.handler" in violations[1].problem
    assert str(violations[2]).startswith("function code outside any function: dynamodb.GetItem()")


def test_conformance_grants_as_the_template_writes_them() -> None:
    template = StackTemplate(TEMPLATE)
    assert Grant("receiver", "dynamodb:Query", "${Table.Arn}/index/due") in template.grants()
    assert set(template.lambda_service_grants()) == {
        Grant("receiver", "logs:CreateLogStream", "${Logs.Arn}"),
        Grant("receiver", "logs:PutLogEvents", "${Logs.Arn}"),
    }


def test_conformance_refuses_what_it_cannot_resolve() -> None:
    document = copy.deepcopy(TEMPLATE)
    statement = document["Resources"]["RolePolicyHHHHHHHH"]["Properties"]["PolicyDocument"]["Statement"][0]
    statement["Resource"] = {"Fn::If": ["Prod", "a", "b"]}
    [violation] = ConformanceCheck(StackTemplate(document)).check(
        [call(IamRequest("sqs:SendMessage", QUEUE_ARN))]
    )[0]
    assert "cannot be judged: intrinsic Fn::If is not supported" in violation.problem
    # A table under a customer managed key named by an alias: which key is not known here.
    document = copy.deepcopy(TEMPLATE)
    document["Resources"]["TableAAAAAAAA"]["Properties"]["SSESpecification"]["KMSMasterKeyId"] = "alias/mine"
    read = IamRequest("dynamodb:GetItem", f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/cw-table")
    with pytest.raises(PolicyError, match="name the key by its ARN"):
        StackTemplate(document).bind(DEPLOYMENT).implicit_requests(read)
    # Named by its ARN: DynamoDB opens it with the caller's kms:Decrypt, through DynamoDB.
    document["Resources"]["TableAAAAAAAA"]["Properties"]["SSESpecification"]["KMSMasterKeyId"] = KEY_ARN
    assert StackTemplate(document).bind(DEPLOYMENT).implicit_requests(read) == [
        IamRequest("kms:Decrypt", KEY_ARN, {"kms:viaservice": ("dynamodb.eu-west-1.amazonaws.com",)})
    ]


def test_conformance_refuses_a_binding_that_names_two_resources() -> None:
    document = copy.deepcopy(TEMPLATE)
    other = copy.deepcopy(document["Resources"]["ReceiverIIIIIIII"])
    other["Properties"]["Handler"] = "cartwatch.handlers.processor.handler"
    other["Properties"]["Environment"]["Variables"]["CARTWATCH_TABLE_NAME"] = {"Ref": "OtherTableJJJJJJJJ"}
    document["Resources"]["ProcessorKKKKKKKK"] = other
    document["Resources"]["OtherTableJJJJJJJJ"] = {"Type": "AWS::DynamoDB::Table", "Properties": {}}
    with pytest.raises(PolicyError, match="table_name would name both"):
        StackTemplate(document).bound_by  # noqa: B018 - the property is what is under test


def with_archive_bucket(encryption: dict[str, Any]) -> StackTemplate:
    """TEMPLATE with a bucket the receiver writes under events/, encrypted by ``encryption``."""
    document = copy.deepcopy(TEMPLATE)
    resources = document["Resources"]
    resources["ArchiveJJJJJJJJ"] = {
        "Type": "AWS::S3::Bucket",
        "Properties": {"BucketEncryption": {"ServerSideEncryptionConfiguration": [encryption]}},
    }
    bucket_arn = {"Fn::GetAtt": ["ArchiveJJJJJJJJ", "Arn"]}
    resources["ArchivePolicyKKKKKKKK"] = {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {
            "Bucket": {"Ref": "ArchiveJJJJJJJJ"},
            "PolicyDocument": {
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": {"AWS": "*"},
                        "Action": "s3:*",
                        "Resource": [bucket_arn, {"Fn::Join": ["", [bucket_arn, "/*"]]}],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ]
            },
        },
    }
    statements = resources["RolePolicyHHHHHHHH"]["Properties"]["PolicyDocument"]["Statement"]
    statements.append(
        {
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": {"Fn::Join": ["", [bucket_arn, "/events/*"]]},
        }
    )
    variables = resources["ReceiverIIIIIIII"]["Properties"]["Environment"]["Variables"]
    variables["CARTWATCH_ARCHIVE_BUCKET"] = {"Ref": "ArchiveJJJJJJJJ"}
    return StackTemplate(document)


def test_conformance_a_bucket_is_the_environments_and_its_customer_key_is_asked_for() -> None:
    key = {"Fn::GetAtt": ["KeyBBBBBBBB", "Arn"]}
    kms = {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}
    template = with_archive_bucket(kms)
    stack = template.bind(DEPLOYMENT)
    put = IamRequest("s3:PutObject", f"arn:aws:s3:::{DEPLOYMENT.archive_bucket}/events/s1/a.json.gz")
    # An object's resource policy is its bucket's: TLS-only.
    [deny] = stack.resource_policy(put.resource)
    assert deny.effect == "Deny" and "s3:*" in deny.actions
    # On the caller's behalf, through S3: what kms:ViaService says.
    via_s3 = {"kms:viaservice": ("s3.eu-west-1.amazonaws.com",)}
    assert stack.implicit_requests(put) == [IamRequest("kms:GenerateDataKey", KEY_ARN, via_s3)]
    assert ConformanceCheck(template).check([call(put)])[0] == []

    outside = IamRequest("s3:PutObject", f"arn:aws:s3:::{DEPLOYMENT.archive_bucket}/elsewhere/a")
    [violation] = ConformanceCheck(template).check([call(outside)])[0]
    assert "missing grant: s3:PutObject on arn:aws:s3:::" in violation.problem
    assert "the stack's Archive" in violation.problem
    [violation] = ConformanceCheck(template.without("receiver", "kms:GenerateDataKey")).check([call(put)])[0]
    assert f"AWS adds it to that call: kms:GenerateDataKey on {KEY_ARN}" in violation.problem

    s3_managed = with_archive_bucket({"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}})
    assert s3_managed.bind(DEPLOYMENT).implicit_requests(put) == []  # SSE-S3: no key of the caller's
