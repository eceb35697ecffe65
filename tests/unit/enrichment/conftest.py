"""Fixtures of the enrichment unit tier: BigCommerce answers as JSON files, no sockets."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from cartwatch.domain.bigcommerce_cart import order_from_bigcommerce
from cartwatch.domain.bigcommerce_cart import snapshot_from_bigcommerce as build_snapshot
from cartwatch.domain.cart import CartSnapshot, OrderSummary, RecoveryLink
from cartwatch.domain.cart_cloud_events import abandoned_event, converted_event, recovered_event
from cartwatch.domain.cloud_events import CloudEvent
from cartwatch.domain.lifecycle import CartState, CartStatus

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bigcommerce"
STORE = "abc123"
CREATED = 1_754_404_694  # 2025-08-05T14:38:14Z
ACTIVE = CREATED + 3_600
ABANDONED = ACTIVE + 3_600
CONVERTED = ABANDONED + 7_200


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture
def bigcommerce() -> Callable[[str], Any]:
    """``bigcommerce("checkout_guest.json")``: a fresh copy of a recorded BigCommerce answer."""
    return load_fixture


@dataclass(frozen=True)
class Moments:
    created: int = CREATED
    active: int = ACTIVE
    abandoned: int = ABANDONED
    converted: int = CONVERTED


@pytest.fixture
def moments() -> Moments:
    """The sample cart's clock: created, last active, abandoned (1 h later), converted."""
    return Moments()


@pytest.fixture
def snapshot() -> CartSnapshot:
    link = RecoveryLink(
        url="https://store.mybigcommerce.com/cart.php?action=loadInCheckout&id=1ea1&token=00aa",
        reason=None,
        cart_id="1ea11efe-b111-11d1-11ee-cd1110f111b1",
    )
    return build_snapshot(
        load_fixture("checkout_registered.json")["data"],
        load_fixture("customers.json")["data"][0],
        load_fixture("subscribers.json")["data"],
        ABANDONED,
        link,
    )


@pytest.fixture
def order() -> OrderSummary:
    return order_from_bigcommerce(load_fixture("order.json"))


@pytest.fixture
def abandoned_state() -> CartState:
    return CartState(
        store_hash=STORE,
        cart_id="306d57d7-124e-4112-82cd-35e060c0d4d9",
        status=CartStatus.ABANDONED,
        cart_created_at=CREATED,
        last_activity_at=ACTIVE,
        stage=1,
        last_abandoned_stage=1,
        abandoned_at=ABANDONED,
        abandoned_token="1eed6d2d979776ff18e695ceeb10ea61",
        channel_id=1,
    )


@pytest.fixture
def recovered_state(abandoned_state: CartState) -> CartState:
    return replace(abandoned_state, status=CartStatus.RECOVERED, stage=0, order_id=218, closed_at=CONVERTED)


@pytest.fixture
def converted_state(abandoned_state: CartState) -> CartState:
    return replace(
        abandoned_state,
        status=CartStatus.CONVERTED,
        stage=0,
        last_abandoned_stage=0,
        abandoned_at=None,
        abandoned_token=None,
        order_id=218,
        closed_at=CONVERTED,
    )


@pytest.fixture
def every_event_variant(
    abandoned_state: CartState,
    recovered_state: CartState,
    converted_state: CartState,
    snapshot: CartSnapshot,
    order: OrderSummary,
) -> list[CloudEvent]:
    """Each builder with full and with missing inputs: what the schemas must accept."""
    guest = build_snapshot(
        load_fixture("checkout_guest_options.json")["data"],
        None,
        [],
        ABANDONED,
        RecoveryLink(url=None, reason="not_enabled"),
    )
    return [
        abandoned_event(abandoned_state, snapshot, stage=1, stage_count=3),
        abandoned_event(
            replace(abandoned_state, stage=2), guest, stage=2, stage_count=3, occurred_at=CONVERTED
        ),
        abandoned_event(
            replace(abandoned_state, abandoned_token=None, channel_id=None), guest, stage=1, stage_count=1
        ),
        recovered_event(recovered_state, snapshot, order),
        recovered_event(replace(recovered_state, order_id=None, abandoned_at=None), None, None),
        converted_event(converted_state, order),
        converted_event(replace(converted_state, order_id=None, channel_id=None), None),
    ]
