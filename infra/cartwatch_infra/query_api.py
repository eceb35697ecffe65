"""The query API: IAM-authorized routes on the same HTTP API -> query Lambda -> cart state.

Every ``/v1`` route uses API Gateway's IAM authorization: consumers sign requests with
SigV4 and need ``execute-api:Invoke`` on the routes their policy names — scoped to one
store's paths if need be (docs/query-api.md).  The function reads the listing index,
single carts and the stores' daily figures (never BigCommerce), and writes only what the API
changes: a suppression (UpdateItem) and an erasure (a conditional PutItem of the cart's
tombstone), on cart items only.  It keeps its cursor key in one SSM SecureString, which it
creates on first use.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from constructs import Construct

from cartwatch.adapters.cursor_key import cursor_key_parameter
from cartwatch.resources import FUNCTION_MEMORY_MB, LISTING_INDEX, QUERY_ROUTES
from cartwatch_infra.foundation import Foundation
from cartwatch_infra.functions import FunctionSpec
from cartwatch_infra.state import CART_ITEMS_ONLY, FIGURE_ITEMS_ONLY, STORE_ROWS_ONLY

# API Gateway gives an integration at most 30 s.
QUERY_TIMEOUT_SECONDS = 29


class QueryApi(Construct):
    def __init__(self, scope: Construct, id: str, foundation: Foundation, *, api: apigw.HttpApi) -> None:
        super().__init__(scope, id)
        state = foundation.state
        self.function = foundation.functions(
            self,
            "Query",
            FunctionSpec(
                handler="cartwatch.handlers.query_api.handler",
                description="Answers the query API: listed carts, one cart's history, suppress, erase, stats",
                timeout=cdk.Duration.seconds(QUERY_TIMEOUT_SECONDS),
                memory_mb=FUNCTION_MEMORY_MB["query_api"],
                environment=foundation.state_environment,
                # Its routes' throttles bound the request rate, not how long requests take:
                # a slow table must not let queries pile up into the receiver's concurrency.
                reserved_concurrency=foundation.settings.query_reserved_concurrency,
            ),
        )
        self.function.allow(["dynamodb:Query"], [state.index_arn(LISTING_INDEX.name)])
        # A store's daily figures: one partition of the table (``STATS#<store>``).
        self.function.allow(["dynamodb:Query"], [state.table.table_arn], conditions=FIGURE_ITEMS_ONLY)
        # Carts and store rows (a listing checks its store exists).
        self.function.allow(["dynamodb:GetItem"], [state.table.table_arn])
        self.function.allow(
            ["dynamodb:UpdateItem", "dynamodb:PutItem"], [state.table.table_arn], conditions=CART_ITEMS_ONLY
        )
        # Every store's settings at once: one Query of the STORE partition (StoreDirectory).
        self.function.allow(["dynamodb:Query"], [state.table.table_arn], conditions=STORE_ROWS_ONLY)
        parameter = cursor_key_parameter(foundation.settings.ssm_prefix).lstrip("/")
        self.function.allow(
            ["ssm:GetParameter", "ssm:PutParameter"],
            [
                cdk.Stack.of(self).format_arn(
                    service="ssm",
                    resource="parameter",
                    resource_name=parameter,
                    arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME,
                )
            ],
        )

        authorizer = authorizers.HttpIamAuthorizer()
        integration = integrations.HttpLambdaIntegration("Query", self.function.function)
        self.routes: list[apigw.HttpRoute] = []
        for method, path in QUERY_ROUTES:
            self.routes += api.add_routes(
                path=path, methods=[apigw.HttpMethod(method)], integration=integration, authorizer=authorizer
            )
