"""The stores' webhook credentials: a DynamoDB table of their own, and its ``known`` index.

Built from ``cartwatch.resources`` (``CREDENTIALS_KEY``, ``KNOWN_STORES_INDEX``), the same
definitions ``cartwatch local`` creates in moto.  A table apart from the carts' (architecture
decision 44): the functions that read carts cannot read it, its writes never reach the cart
table's stream (which the publisher reads), and only the receiver reads it at all — the CLI,
the app's install and the purge job write it.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from cartwatch.resources import CREDENTIALS_KEY, KNOWN_STORES_INDEX
from cartwatch_infra.state import attribute


class StoreCredentials(Construct):
    def __init__(self, scope: Construct, id: str, *, deletion_protection: bool) -> None:
        super().__init__(scope, id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=attribute(CREDENTIALS_KEY),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # Encrypted at rest with the AWS managed key, as the SSM parameters it replaces were.
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            deletion_protection=deletion_protection,
            removal_policy=cdk.RemovalPolicy.RETAIN if deletion_protection else cdk.RemovalPolicy.DESTROY,
        )
        index = KNOWN_STORES_INDEX
        self.table.add_global_secondary_index(
            index_name=index.name,
            partition_key=attribute(index.partition_key),
            sort_key=attribute(index.sort_key),
            projection_type=dynamodb.ProjectionType.INCLUDE,
            non_key_attributes=list(index.non_key_attributes),
        )

    @property
    def index_arn(self) -> str:
        return f"{self.table.table_arn}/index/{KNOWN_STORES_INDEX.name}"
