"""The stores' webhook credentials: a DynamoDB table of their own, and its ``known`` index.

Built from ``cartwatch.resources`` (``CREDENTIALS_KEY``, ``KNOWN_STORES_INDEX``), the same
definitions ``cartwatch local`` creates in moto.  A table apart from the carts' (architecture
decision 60): the functions that read carts cannot read it, its writes never reach the cart
table's stream (which the publisher reads), and only the receiver reads it at all — the CLI,
the app's install and the purge job write it.

Encrypted with a customer managed key of its own (rotating yearly), not the AWS managed
aws/dynamodb key: a role that may read DynamoDB tables in the account still cannot read a
store's secret unless it may also use this key, and the stack grants that to the three
functions that touch the table and to nobody else (``allow``).  Operators' `cartwatch
stores add` runs with their own IAM identity, which the key policy's account statement
lets IAM policies grant.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from cartwatch.resources import CREDENTIALS_KEY, KNOWN_STORES_INDEX
from cartwatch_infra.functions import CartwatchFunction
from cartwatch_infra.state import attribute


class StoreCredentials(Construct):
    def __init__(self, scope: Construct, id: str, *, deletion_protection: bool) -> None:
        super().__init__(scope, id)
        self.key = kms.Key(
            self,
            "Key",
            description="cartwatch: encrypts the stores' webhook credentials",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN if deletion_protection else cdk.RemovalPolicy.DESTROY,
        )
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=attribute(CREDENTIALS_KEY),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.key,
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

    def allow(self, function: CartwatchFunction, actions: Sequence[str], *, index: bool = False) -> None:
        """``actions`` on the table (or its ``known`` index), and the key's Decrypt that
        DynamoDB needs on the caller's behalf to open the table's key — through DynamoDB only."""
        function.allow(actions, [self.index_arn if index else self.table.table_arn])
        function.allow(
            ["kms:Decrypt"],
            [self.key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"dynamodb.{cdk.Aws.REGION}.amazonaws.com"}},
        )
