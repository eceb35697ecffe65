"""Cart state: the DynamoDB table, built from ``cartwatch.resources.TABLE``.

Keys, indexes, TTL and stream view come from that module — the same definitions
``cartwatch local`` creates in moto — so they are never copied by hand.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from cartwatch.adapters.cart_table import attributes as attr
from cartwatch.adapters.store_registry import STORE_PK
from cartwatch.resources import TABLE, KeyAttribute

# A condition for write grants that may touch cart items (keys ``CART#<store>#<cart>``) but
# never a store's row (``STORE``): IAM checks the partition key of every item written.
CART_ITEMS_ONLY = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["CART#*"]}}
# The stores' daily figures (keys ``STATS#<store>``), written by the figure tally and read by
# the query API.
FIGURE_ITEMS_ONLY = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{attr.STATS_PREFIX}*"]}}
# The converse, for the one write that removes a store's row.
STORE_ROWS_ONLY = {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [STORE_PK]}}

_ATTRIBUTE_TYPES = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER}
_PROJECTIONS = {
    "ALL": dynamodb.ProjectionType.ALL,
    "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY,
    "INCLUDE": dynamodb.ProjectionType.INCLUDE,
}
_STREAM_VIEWS = {
    "NEW_IMAGE": dynamodb.StreamViewType.NEW_IMAGE,
    "NEW_AND_OLD_IMAGES": dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
    "KEYS_ONLY": dynamodb.StreamViewType.KEYS_ONLY,
}


def attribute(key: KeyAttribute) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=key.name, type=_ATTRIBUTE_TYPES[key.type])


class CartState(Construct):
    """Carts, stores, the outbox and the stores' figures in one table; its stream feeds the
    publisher and the figure tally."""

    def __init__(self, scope: Construct, id: str, *, deletion_protection: bool) -> None:
        super().__init__(scope, id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=attribute(TABLE.partition_key),
            sort_key=attribute(TABLE.sort_key),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=TABLE.ttl_attribute,
            stream=_STREAM_VIEWS[TABLE.stream_view],
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # The AWS managed key (aws/dynamodb): encrypted at rest and auditable in
            # CloudTrail, with no key policy of ours for the functions to need.
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            deletion_protection=deletion_protection,
            # Cart state is the product; a development stack may opt out of keeping it.
            removal_policy=cdk.RemovalPolicy.RETAIN if deletion_protection else cdk.RemovalPolicy.DESTROY,
        )
        for index in TABLE.indexes:
            self.table.add_global_secondary_index(
                index_name=index.name,
                partition_key=attribute(index.partition_key),
                sort_key=attribute(index.sort_key),
                projection_type=_PROJECTIONS[index.projection],
                non_key_attributes=list(index.non_key_attributes) or None,
            )

    def index_arn(self, name: str) -> str:
        if name not in {index.name for index in TABLE.indexes}:
            raise ValueError(f"table has no index {name!r}")
        return f"{self.table.table_arn}/index/{name}"
