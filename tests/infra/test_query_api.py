"""The query API in the template: IAM on every /v1 route, one function, writes on carts only."""

from __future__ import annotations

from typing import Any

import pytest

from cartwatch.resources import QUERY_API_PREFIX, QUERY_ROUTES
from tests.infra.conftest import Synthesized

pytestmark = pytest.mark.infra


def query_routes(synth: Synthesized) -> dict[str, dict[str, Any]]:
    return {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in synth.resources("AWS::ApiGatewayV2::Route").values()
        if r["Properties"]["RouteKey"].split(" ")[1].startswith(QUERY_API_PREFIX + "/")
    }


def test_every_query_route_exists_and_is_iam_authorized(synthesized: Synthesized) -> None:
    routes = query_routes(synthesized)
    assert set(routes) == {f"{method} {path}" for method, path in QUERY_ROUTES}
    assert {r["AuthorizationType"] for r in routes.values()} == {"AWS_IAM"}
    assert all("AuthorizerId" not in r for r in routes.values())  # IAM needs no authorizer resource


def test_every_query_route_calls_the_query_function(synthesized: Synthesized) -> None:
    function = synthesized.logical_id(synthesized.stack.query_api.function.function)
    integrations = synthesized.resources("AWS::ApiGatewayV2::Integration")
    for route in query_routes(synthesized).values():
        _, (_, reference) = route["Target"]["Fn::Join"]  # "integrations/" + {"Ref": id}
        integration = integrations[reference["Ref"]]["Properties"]
        assert integration["IntegrationUri"] == {"Fn::GetAtt": [function, "Arn"]}
        assert integration["PayloadFormatVersion"] == "2.0"
    synthesized.template.has_resource_properties(
        "AWS::Lambda::Permission",
        {"FunctionName": {"Fn::GetAtt": [function, "Arn"]}, "Principal": "apigateway.amazonaws.com"},
    )
    props = synthesized.json["Resources"][function]["Properties"]
    assert props["Timeout"] < 30  # inside API Gateway's integration timeout


def test_the_query_function_writes_cart_items_only(synthesized: Synthesized) -> None:
    role = synthesized.logical_id(synthesized.stack.query_api.function.role)
    writes = [
        statement
        for policy in synthesized.resources("AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if set(statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
        & {"dynamodb:PutItem", "dynamodb:UpdateItem"}
    ]
    assert len(writes) == 1
    assert writes[0]["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["CART#*"]}}
