"""cartwatch as a BigCommerce app: public callback routes on the HTTP API -> the app function.

BigCommerce (and the merchant's browser) call ``/bigcommerce/app/{auth,load,settings,
uninstall,remove-user}``; none can sign with IAM, so the routes are public and the function
authenticates every call itself: an install code is only good at BigCommerce's token
endpoint, the other callbacks carry a ``signed_payload_jwt`` verified under the app's client
secret, and the settings form a token sealed with a key derived from it.

The function's grants, each to exactly what a callback touches:

* store rows and its own ledger only (``dynamodb:LeadingKeys`` ``STORE`` and ``APP#…``):
  install writes the row (or puts the old one back), the page saves settings and user
  links, uninstall marks the store; the ledger holds used JWT ids and install codes;
* the listing index, read for the page's figures;
* the app's credentials (read), the stores' API tokens (read, write, delete) and their
  webhook credentials (read, write, delete);
* SendMessage to the purge queue (an uninstall queues the purge).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cartwatch.adapters.callback_ledger import APP_KEY_PREFIX
from cartwatch.adapters.store_registry import STORE_PK, app_credentials_parameter
from cartwatch.resources import APP_ROUTES, FUNCTION_MEMORY_MB, LISTING_INDEX
from cartwatch.settings import ENV
from cartwatch_infra.compliance import acknowledge
from cartwatch_infra.foundation import Foundation
from cartwatch_infra.functions import FunctionSpec

# API Gateway gives an integration at most 30 s.
APP_TIMEOUT_SECONDS = 29
STORE_ROWS_AND_LEDGER = {
    "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [STORE_PK, f"{APP_KEY_PREFIX}*"]}
}


class AppCallbacks(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        foundation: Foundation,
        *,
        api: apigw.HttpApi,
        webhook_base_url: str,
        purge_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, id)
        settings, state = foundation.settings, foundation.state
        self.urls = {name: f"{api.api_endpoint}{path}" for name, (_method, path) in APP_ROUTES.items()}
        self.function = foundation.functions(
            self,
            "App",
            FunctionSpec(
                handler="cartwatch.handlers.app_callbacks.handler",
                description="BigCommerce app callbacks: install, the merchant page, uninstall, remove-user",
                timeout=cdk.Duration.seconds(APP_TIMEOUT_SECONDS),
                memory_mb=FUNCTION_MEMORY_MB["app_callbacks"],
                environment={
                    **foundation.uninstall_environment(purge_queue.queue_url),
                    ENV.WEBHOOK_BASE_URL: webhook_base_url,
                    ENV.BIGCOMMERCE_LOGIN_URL: settings.bigcommerce_login_url,
                    ENV.APP_AUTH_CALLBACK_URL: self.urls["auth"],
                    ENV.APP_FRAME_ANCESTORS: " ".join(settings.app_frame_ancestors),
                },
                # A callback waits on BigCommerce (token exchange, hooks): a slow BigCommerce
                # must not let merchants' page loads pile up into the receiver's concurrency.
                reserved_concurrency=settings.app_reserved_concurrency,
            ),
        )
        self.function.allow(
            ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
            [state.table.table_arn],
            conditions=STORE_ROWS_AND_LEDGER,
        )
        self.function.allow(["dynamodb:Query"], [state.index_arn(LISTING_INDEX.name)])
        stack = cdk.Stack.of(self)
        self.function.allow(
            ["ssm:GetParameter"],
            [
                stack.format_arn(
                    service="ssm",
                    resource="parameter",
                    resource_name=app_credentials_parameter(settings.ssm_prefix).lstrip("/"),
                    arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME,
                )
            ],
        )
        self.function.allow_store_parameter(
            "api", actions=("ssm:GetParameter", "ssm:PutParameter", "ssm:DeleteParameters")
        )
        # Install writes the store's webhook credentials (a re-authorization reads the token
        # its hooks carry first); an uninstall deletes them.
        foundation.credentials.allow(
            self.function, ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
        )
        self.function.allow(["sqs:SendMessage"], [purge_queue.queue_arn])

        integration = integrations.HttpLambdaIntegration("App", self.function.function)
        self.routes: list[apigw.HttpRoute] = []
        for method, path in APP_ROUTES.values():
            self.routes += api.add_routes(
                path=path, methods=[apigw.HttpMethod(method)], integration=integration
            )
        for route in self.routes:
            acknowledge(
                route,
                "AwsSolutions-APIG4",
                "BigCommerce and the merchant's browser call the app's callbacks and cannot sign with "
                "IAM, Cognito or JWT authorizers; the function verifies each call itself (the install "
                "code at BigCommerce's token endpoint, signed_payload_jwt under the app's client "
                "secret, the settings form's sealed token) before it changes anything.",
            )
