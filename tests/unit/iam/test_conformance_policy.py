"""IAM policy evaluation (cartwatch_tools.iam.policy) as AWS documents it."""

from __future__ import annotations

import pytest

from cartwatch_tools.iam.calls import UNKNOWN, IamRequest
from cartwatch_tools.iam.policy import PolicyError, Principal, Statement, arn_like, conditions_hold, decide

ROLE = Principal("arn:aws:iam::123456789012:role/Publisher", "123456789012")
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/carts"
KEY = "arn:aws:kms:us-east-1:123456789012:key/k1"
CART_ITEMS_ONLY = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ("CART#*",)}}


def allow(actions: tuple[str, ...], resources: tuple[str, ...], **extra: object) -> Statement:
    return Statement("Allow", actions=actions, resources=resources, **extra)  # type: ignore[arg-type]


def put(key: str) -> IamRequest:
    return IamRequest("dynamodb:PutItem", TABLE, {"dynamodb:LeadingKeys": (key,)})


def test_conformance_an_allow_names_the_action_and_the_resource() -> None:
    policy = [allow(("dynamodb:GetItem", "dynamodb:UpdateItem"), (TABLE,))]
    assert decide(IamRequest("dynamodb:GetItem", TABLE), ROLE, policy).allowed
    refused = decide(put("CART#s#c"), ROLE, policy)
    assert not refused.allowed and "no statement" in refused.reason
    assert not decide(IamRequest("dynamodb:GetItem", TABLE + "2"), ROLE, policy).allowed


def test_conformance_wildcards_actions_ignore_case_arns_do_not() -> None:
    policy = [allow(("dynamodb:get*",), ("arn:aws:dynamodb:*:123456789012:table/carts*",))]
    assert decide(IamRequest("dynamodb:GetItem", TABLE + "/index/due"), ROLE, policy).allowed
    assert not decide(IamRequest("dynamodb:GetItem", TABLE.replace("carts", "Carts")), ROLE, policy).allowed
    # `*` matches within one of the six colon-separated parts; the last may hold colons itself.
    assert arn_like("arn:aws:*:us-east-1:123456789012:table/carts", TABLE)
    assert not arn_like(
        "arn:aws:dynamodb:us-*:123456789012:table/carts", TABLE.replace("us-east-1", "eu-west-1")
    )
    assert arn_like("arn:aws:logs:us-east-1:1:log-group:*", "arn:aws:logs:us-east-1:1:log-group:g:*")
    assert arn_like("*", TABLE) and arn_like("arn:aws:s?s:*:*:q", "arn:aws:sqs:r:1:q")
    with pytest.raises(PolicyError, match="not an ARN"):
        arn_like("arn:aws:dynamodb:us-*:table/carts", TABLE)


def test_conformance_an_explicit_deny_wins_over_any_allow() -> None:
    policy = [
        allow(("dynamodb:*",), ("*",)),
        Statement("Deny", actions=("dynamodb:PutItem",), resources=(TABLE,)),
    ]
    decision = decide(put("CART#s#c"), ROLE, policy)
    assert not decision.allowed and decision.denied_by == (policy[1],)
    assert decide(IamRequest("dynamodb:GetItem", TABLE), ROLE, policy).allowed


def test_conformance_not_action_and_not_resource() -> None:
    everything_but_deletes = allow((), ("*",), not_actions=("dynamodb:Delete*",))
    assert decide(put("CART#s#c"), ROLE, [everything_but_deletes]).allowed
    assert not decide(IamRequest("dynamodb:DeleteItem", TABLE), ROLE, [everything_but_deletes]).allowed
    not_that_table = allow(("dynamodb:GetItem",), (), not_resources=(TABLE,))
    assert not decide(IamRequest("dynamodb:GetItem", TABLE), ROLE, [not_that_table]).allowed
    assert decide(IamRequest("dynamodb:GetItem", TABLE + "2"), ROLE, [not_that_table]).allowed


def test_conformance_leading_keys_limit_writes_to_cart_items() -> None:
    policy = [allow(("dynamodb:PutItem", "dynamodb:Scan"), (TABLE,), conditions=CART_ITEMS_ONLY)]
    assert decide(put("CART#store#cart"), ROLE, policy).allowed
    assert not decide(put("STORE"), ROLE, policy).allowed
    batch = IamRequest("dynamodb:PutItem", TABLE, {"dynamodb:LeadingKeys": ("CART#a#1", "STORE")})
    assert not decide(batch, ROLE, policy).allowed  # every key must match
    # AWS's documented trap: ForAllValues holds when the key is absent — a scan names no key.
    assert decide(IamRequest("dynamodb:Scan", TABLE), ROLE, policy).allowed


def test_conformance_condition_operators_and_missing_keys() -> None:
    tls = {"aws:securetransport": ("true",)}
    assert conditions_hold({"Bool": {"aws:SecureTransport": ("true",)}}, tls)
    assert not conditions_hold({"Bool": {"aws:SecureTransport": ("false",)}}, tls)
    account = {"aws:principalaccount": ("123456789012",)}
    assert conditions_hold({"StringEquals": {"aws:PrincipalAccount": ("1", "123456789012")}}, account)
    assert not conditions_hold({"StringNotEquals": {"aws:PrincipalAccount": ("123456789012",)}}, account)
    # An absent key: false for a positive operator, true for a negated one and for …IfExists.
    assert not conditions_hold({"StringEquals": {"aws:PrincipalArn": ("x",)}}, {})
    assert conditions_hold({"StringNotEquals": {"aws:PrincipalArn": ("x",)}}, {})
    assert conditions_hold({"StringEqualsIfExists": {"aws:PrincipalArn": ("x",)}}, {})
    assert conditions_hold({"Null": {"aws:PrincipalArn": ("true",)}}, {})
    assert not conditions_hold({"ForAnyValue:StringLike": {"dynamodb:LeadingKeys": ("CART#*",)}}, {})
    assert conditions_hold(
        {"ArnLike": {"aws:PrincipalArn": ("arn:aws:iam::*:role/*",)}}, {"aws:principalarn": (ROLE.role_arn,)}
    )


def test_conformance_refuses_to_guess() -> None:
    with pytest.raises(PolicyError, match="not modelled"):
        conditions_hold({"StringEquals": {"dynamodb:Attributes": ("pk",)}}, {})
    with pytest.raises(PolicyError, match="not supported"):
        conditions_hold({"IpAddress": {"aws:PrincipalArn": ("10.0.0.0/8",)}}, {"aws:principalarn": ("x",)})
    index_query = IamRequest("dynamodb:Query", TABLE + "/index/due", {"dynamodb:LeadingKeys": UNKNOWN})
    policy = [allow(("dynamodb:Query",), (TABLE + "/index/*",), conditions=CART_ITEMS_ONLY)]
    with pytest.raises(PolicyError, match="how is not modelled"):
        decide(index_query, ROLE, policy)
    with pytest.raises(PolicyError, match="policy variables"):
        arn_like("arn:aws:s3:::${aws:username}/*", "arn:aws:s3:::me/x")


def test_conformance_resource_policies_deny_everyone_and_allow_whom_they_name() -> None:
    queue = "arn:aws:sqs:us-east-1:123456789012:intake"
    send = IamRequest("sqs:SendMessage", queue)
    tls_only = Statement(
        "Deny",
        actions=("sqs:*",),
        resources=(queue,),
        principals=("*",),
        conditions={"Bool": {"aws:SecureTransport": ("false",)}},
    )
    assert not decide(send, ROLE, [], [tls_only]).allowed  # no identity grant
    assert decide(send, ROLE, [allow(("sqs:SendMessage",), (queue,))], [tls_only]).allowed  # requests use TLS
    to_the_role = Statement(
        "Allow", actions=("sqs:SendMessage",), resources=(queue,), principals=(ROLE.role_arn,)
    )
    assert decide(send, ROLE, [], [to_the_role]).allowed
    to_the_account = Statement(
        "Allow", actions=("sqs:*",), resources=(queue,), principals=(ROLE.account_root,)
    )
    assert not decide(send, ROLE, [], [to_the_account]).allowed  # defers to IAM, which grants nothing
    account_deny = Statement("Deny", actions=("sqs:*",), resources=(queue,), principals=(ROLE.account,))
    assert not decide(send, ROLE, [allow(("sqs:*",), ("*",))], [account_deny]).allowed


def test_conformance_kms_needs_the_key_policy_too() -> None:
    generate = IamRequest("kms:GenerateDataKey", KEY)
    granted = [allow(("kms:GenerateDataKey",), (KEY,))]
    root = Statement("Allow", actions=("kms:*",), resources=(KEY,), principals=(ROLE.account_root,))
    assert decide(generate, ROLE, granted, key_policy=[root]).allowed  # the key defers to IAM
    assert not decide(generate, ROLE, [], key_policy=[root]).allowed
    service_only = Statement(
        "Allow", actions=("kms:*",), resources=(KEY,), principals=("service:cloudwatch.amazonaws.com",)
    )
    refused = decide(generate, ROLE, granted, key_policy=[service_only])
    assert not refused.allowed and "key policy" in refused.reason
    direct = Statement(
        "Allow", actions=("kms:GenerateDataKey",), resources=(KEY,), principals=(ROLE.role_arn,)
    )
    assert decide(generate, ROLE, [], key_policy=[direct]).allowed
