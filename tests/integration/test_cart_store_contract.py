"""The cart store contract against the DynamoDB adapter, on moto server."""

from __future__ import annotations

import pytest
from tests.cart_store_contract import CartStoreContract
from tests.integration.conftest import Aws

from cartwatch.adapters.cart_table.store import DynamoCartStore


@pytest.mark.integration
class TestDynamoCartStore(CartStoreContract):
    @pytest.fixture
    def store(self, aws: Aws) -> DynamoCartStore:
        return DynamoCartStore(aws.client("dynamodb"), aws.resources.table_name)
