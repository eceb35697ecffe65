"""The cart store contract against the in-memory store of the unit tier."""

from __future__ import annotations

import pytest
from tests.cart_store_contract import CartStoreContract
from tests.memory_cart_store import MemoryCartStore


class TestMemoryCartStore(CartStoreContract):
    @pytest.fixture
    def store(self) -> MemoryCartStore:
        return MemoryCartStore()
