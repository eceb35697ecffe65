"""A store that lists active carts (``--list-active``) lists every cart from its first write,
and at transitions only; a store that does not is listed exactly as before."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.memory_cart_store import MemoryCartStore
from tests.unit.pipeline_fakes import HOUR, PLANNER, STORE, T0, Stores, webhook

from cartwatch.domain.cart_record import CartRecord
from cartwatch.domain.cart_webhooks import WebhookKind
from cartwatch.domain.history import Transition
from cartwatch.domain.lifecycle import CartState, CartStatus
from cartwatch.domain.listing import is_listed
from cartwatch.domain.write_plan import listed_at
from cartwatch.service.processing import CartProcessor
from cartwatch.service.sweeping import AbandonmentSweep

K = WebhookKind


def run(stores: Stores, *batches: list[object], sweep_at: int | None = None) -> MemoryCartStore:
    store = MemoryCartStore()
    for batch in batches:
        CartProcessor(store, PLANNER, stores, check_uninstall=lambda _: None, clock=lambda: T0 + 5).apply(
            batch  # type: ignore[arg-type]
        )
    if sweep_at is not None:
        AbandonmentSweep(store, PLANNER, stores, clock=lambda: sweep_at).run(sweep_at)
    return store


def cart(store: MemoryCartStore, cart_id: str) -> CartRecord:
    record = store.load(STORE, cart_id)
    assert isinstance(record, CartRecord)
    return record


def listings(store: MemoryCartStore, cart_id: str) -> list[tuple[CartStatus, int | None]]:
    """The cart's place in the listing after each of its writes (status partition, sort key)."""
    return [
        (after.state.status, after.listed_at)
        for _, after in store.stream
        if isinstance(after, CartRecord) and after.state.cart_id == cart_id
    ]


def test_an_opted_in_store_lists_a_cart_from_its_first_write_and_moves_it_at_transitions_only() -> None:
    clicks = [[webhook("c1", K.CREATED, T0), webhook("c1", K.LINE_ITEM_CREATED, T0)]]
    clicks += [[webhook("c1", K.UPDATED, T0 + 60 * n)] for n in range(1, 4)]
    clicks += [[webhook("c1", K.CONVERTED, T0 + 600, order_id=7)]]
    store = run(Stores(list_active=True), *clicks)
    assert listings(store, "c1") == [
        (CartStatus.ACTIVE, T0 + 5),  # listed at its creation…
        (CartStatus.ACTIVE, T0 + 5),  # …clicks leave the listing alone (no index write)
        (CartStatus.ACTIVE, T0 + 5),
        (CartStatus.ACTIVE, T0 + 5),
        (CartStatus.CONVERTED, T0 + 600),  # the purchase moves it
    ]
    # The last activity the listing shows is copied when the listing moves, not per click.
    shown = [after.listed_activity_at for _, after in store.stream if isinstance(after, CartRecord)]
    assert shown == [T0, T0, T0, T0, T0 + 180]


def test_a_store_that_did_not_opt_in_lists_an_open_cart_only_once_abandoned() -> None:
    batches = [[webhook("c1", K.CREATED, T0)], [webhook("c1", K.UPDATED, T0 + 60)]]
    store = run(Stores(), *batches, sweep_at=T0 + 60 + HOUR)
    assert [listed for _, listed in listings(store, "c1")] == [None, None, T0 + 60 + HOUR]
    assert cart(store, "c1").state.status is CartStatus.ABANDONED


@pytest.mark.parametrize("opted_in", [True, False])
def test_a_cart_never_abandoned_expires_into_the_listing_only_for_an_opted_in_store(opted_in: bool) -> None:
    stores = Stores(list_active=opted_in)
    store = run(stores, [webhook("c1", K.CREATED, T0)])
    sweep_at = T0 + 31 * 86400  # first found idle past BigCommerce's 30 days: it expires at once
    AbandonmentSweep(store, PLANNER, stores, clock=lambda: sweep_at).run(sweep_at)
    record = cart(store, "c1")
    assert record.state.status is CartStatus.EXPIRED
    assert record.listed_at == (sweep_at if opted_in else None)


states = st.builds(
    CartState,
    store_hash=st.just(STORE),
    cart_id=st.just("c"),
    status=st.sampled_from(CartStatus),
    cart_created_at=st.integers(T0, T0 + 1000),
    last_activity_at=st.integers(T0, T0 + 2000),
    stage=st.integers(0, 3),
    last_abandoned_stage=st.integers(0, 3),
    activity_seen=st.booleans(),
    suppressed_at=st.one_of(st.none(), st.integers(T0, T0 + 3000)),
)


@settings(deadline=None)
@given(states, st.one_of(st.none(), st.integers(T0, T0 + 5000)), st.booleans(), st.integers(T0, T0 + 5000))
def test_listing_active_carts_changes_only_when_a_cart_first_enters_the_listing(
    state: CartState, previous: int | None, transition: bool, now: int
) -> None:
    base = CartRecord(state, listed_at=previous)
    entry = Transition(now, state.status, state.stage, "sweep") if transition else None
    plain = listed_at(base, state, entry, now)
    opted = listed_at(base, state, entry, now, list_active=True)
    assert plain is None or opted == plain  # a cart listed anyway is listed in the same place
    if entry is None:
        # Only the write that first sees a cart's activity lists it; later ones leave it alone.
        first = max(state.cart_created_at, now) if state.activity_seen else None
        assert opted == (previous if previous is not None else first)
    elif is_listed(state, order_recorded=False, list_active=True):
        assert opted == max(previous or 0, now)
    else:
        assert opted is None
