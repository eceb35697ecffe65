"""Listing pages merged over status partitions: order, cursors, and what a page reads."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.query.fakes import FakeListingIndex, FakeStores

from cartwatch.domain.lifecycle import CartStatus
from cartwatch.domain.listing import CartFilter, ListedCart
from cartwatch.service.cart_queries import CartQueries, StoreNotFound
from cartwatch.service.cursors import CursorCodec

T0 = 1_700_000_000
STATUSES = list(CartStatus)


def queries(index: FakeListingIndex) -> CartQueries:
    return CartQueries(None, None, index, FakeStores("s1"), CursorCodec(b"k" * 32), None)  # type: ignore[arg-type]


def cart(
    n: int, status: CartStatus, modified: int, stage: int = 1, email: str | None = None, idle: int = 5
) -> ListedCart:
    """``idle``: how long before its latest transition the cart was last active (an open cart
    may have been active since: negative)."""
    return ListedCart(
        store_hash="s1",
        cart_id=f"c{n:03d}",
        status=status,
        stage=stage if status is CartStatus.ABANDONED else 0,
        stage_reached=stage,
        created_at=T0,
        modified_at=modified,
        abandoned_at=T0 + 10,
        last_activity_at=modified - (idle if status is not CartStatus.ACTIVE else idle - 10),
        customer_email=email,
    )


def every_page(q: CartQueries, cart_filter: CartFilter, limit: int) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        page = q.list_carts("s1", cart_filter, limit=limit, cursor=cursor)
        pages.append([c.cart_id for c in page.carts])
        cursor = page.next_cursor
        if cursor is None:
            return pages


carts_strategy = st.lists(
    st.tuples(
        st.sampled_from(STATUSES), st.integers(0, 40), st.integers(1, 3), st.booleans(), st.integers(0, 8)
    ),
    max_size=60,
).map(
    lambda rows: [
        cart(n, status, T0 + m, stage, "a@x.com" if has_email else None, idle)
        for n, (status, m, stage, has_email, idle) in enumerate(rows)
    ]
)
filters_strategy = st.builds(
    CartFilter,
    statuses=st.lists(st.sampled_from(STATUSES), max_size=3).map(tuple),
    transitioned_from=st.none() | st.integers(T0, T0 + 40),
    modified_from=st.none() | st.integers(T0, T0 + 40),
    modified_to=st.none() | st.integers(T0, T0 + 40),
    stages=st.lists(st.integers(1, 3), max_size=2).map(tuple),
    skip_empty_email=st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(carts_strategy, filters_strategy, st.integers(1, 9))
def test_pages_list_every_matching_cart_once_newest_first(
    carts: list[ListedCart], cart_filter: CartFilter, limit: int
) -> None:
    q = queries(FakeListingIndex(list(carts)))
    pages = every_page(q, cart_filter, limit)
    listed = [c for page in pages for c in page]
    assert all(len(page) <= limit for page in pages)
    assert all(len(page) == limit for page in pages[:-1] if page)
    assert sorted(listed) == sorted(c.cart_id for c in carts if cart_filter.matches(c))
    modified = {c.cart_id: c.modified_at for c in carts}
    assert [modified[c] for c in listed] == sorted((modified[c] for c in listed), reverse=True)


def test_one_status_reads_exactly_what_it_returns() -> None:
    index = FakeListingIndex([cart(n, CartStatus.ABANDONED, T0 + n) for n in range(100)])
    pages = every_page(queries(index), CartFilter(statuses=(CartStatus.ABANDONED,)), limit=10)
    assert sum(len(p) for p in pages) == 100
    assert index.usage.items_scanned == 100


def test_merging_statuses_reads_little_more_than_it_returns() -> None:
    carts = [cart(n, STATUSES[n % 4], T0 + n) for n in range(400)]
    index = FakeListingIndex(carts)
    pages = every_page(queries(index), CartFilter(statuses=tuple(STATUSES[:4])), limit=50)
    assert sum(len(p) for p in pages) == 400
    assert index.usage.items_scanned <= 400 * 1.2


def test_carts_that_change_or_arrive_mid_listing_are_left_to_the_next_pass() -> None:
    index = FakeListingIndex([cart(n, CartStatus.ABANDONED, T0 + n) for n in range(10)])
    q = queries(index)
    both = CartFilter(statuses=(CartStatus.ABANDONED, CartStatus.RECOVERED))
    first = q.list_carts("s1", both, limit=4)
    # c002 (not listed yet) is recovered now: it moves partition, with a new modified_at.
    index.carts[2] = cart(2, CartStatus.RECOVERED, T0 + 100)
    index.carts.append(cart(99, CartStatus.ABANDONED, T0 + 101))  # a new abandonment
    rest: list[str] = []
    cursor = first.next_cursor
    while cursor:
        page = q.list_carts("s1", both, limit=4, cursor=cursor)
        rest += [c.cart_id for c in page.carts]
        cursor = page.next_cursor
    listed = [c.cart_id for c in first.carts] + rest
    assert len(listed) == len(set(listed))
    assert set(listed) == {f"c{n:03d}" for n in range(10)} - {"c002"}


def test_an_unknown_store_is_not_found() -> None:
    with pytest.raises(StoreNotFound):
        queries(FakeListingIndex()).list_carts("nope", CartFilter(), limit=5)


def test_the_filter_binds_created_and_abandoned_bounds_to_the_index_range() -> None:
    f = CartFilter(created_from=5, abandoned_from=9, transitioned_from=7, transitioned_to=20)
    assert f.key_range(CartStatus.RECOVERED) == (9, 20)
    assert CartFilter().key_range(CartStatus.ABANDONED) == (None, None)
    # Last activity bounds the index range where it cannot pass the latest transition: in
    # the abandoned partition only (an open cart's activity moves on without a transition).
    activity = CartFilter(created_from=5, modified_from=12)
    assert activity.key_range(CartStatus.ABANDONED) == (12, None)
    assert activity.key_range(CartStatus.ACTIVE) == (5, None)
    same: dict[str, Any] = {"customer_email": "Ada@Example.com ", "currency": "usd"}
    assert (
        CartFilter(**same).fingerprint()
        == CartFilter(customer_email="ada@example.com", currency="USD").fingerprint()
    )
    assert CartFilter(stages=(2, 1, 2)).fingerprint() == CartFilter(stages=(1, 2)).fingerprint()
    assert CartFilter(stages=(1,)).fingerprint() != CartFilter(stages=(2,)).fingerprint()
