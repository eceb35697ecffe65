"""Carts too large for one SNS message (or one DynamoDB item) are trimmed by one documented rule.

An event is at most 256 KiB on SNS, counting its body and message attributes; a stored
snapshot at most ``SNAPSHOT_MAX_BYTES``.  The rule (``cartwatch.domain.cart.fit_snapshot``,
the README's event contract, the schemas' ``line_items_truncated``): first every line item
loses its url, image_url and long option values, then only the longest leading run of
items that fits is kept; ``line_item_count`` still counts them all.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cartwatch.domain.bigcommerce_cart import snapshot_from_bigcommerce
from cartwatch.domain.cart import (
    SNAPSHOT_MAX_BYTES,
    TRIMMED_OPTION_VALUE_CHARS,
    CartSnapshot,
    RecoveryLink,
    fit_snapshot,
)
from cartwatch.domain.cart_cloud_events import (
    abandoned_event,
    recovered_event,
    sns_attributes,
    sns_message_bytes,
)
from cartwatch.domain.cloud_events import CloudEvent
from cartwatch.domain.lifecycle import CartState
from cartwatch.resources import SNS_MESSAGE_MAX_BYTES

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"


def big_checkout(bigcommerce: Callable[[str], Any], items: int, option_chars: int, options: int = 3) -> Any:
    """The guest checkout fixture with ``items`` distinct line items carrying long option values."""
    checkout = bigcommerce("checkout_guest_options.json")["data"]
    template = checkout["cart"]["line_items"]["physical_items"][0]
    physical = []
    for n in range(items):
        item = copy.deepcopy(template)
        item.update(id=f"item-{n:04d}", variant_id=1000 + n, sku=f"sku-{n:04d}")
        item["options"] = [
            {
                "name": f"Engraving {k}",
                "nameId": 200 + k,
                "value": f"{n}:{k}:" + "é" * option_chars,
                "valueId": None,
            }
            for k in range(options)
        ]
        physical.append(item)
    checkout["cart"]["line_items"] = {
        "physical_items": physical,
        "digital_items": [],
        "custom_items": [],
        "gift_certificates": [],
    }
    return checkout


def snapshot_of(checkout: Any) -> CartSnapshot:
    return snapshot_from_bigcommerce(
        checkout, None, [], 1_754_408_488, RecoveryLink(url=None, reason="not_enabled")
    )


def sns_size(event: CloudEvent) -> int:
    return sns_message_bytes(event.to_json(), sns_attributes(event))


def validate(event: CloudEvent) -> None:
    body = json.loads(event.to_json())
    jsonschema.validate(body, json.loads((SCHEMAS / f"{body['type']}.json").read_text()))


def test_an_ordinary_cart_is_sent_whole(abandoned_state: CartState, snapshot: CartSnapshot) -> None:
    data = json.loads(abandoned_event(abandoned_state, snapshot, stage=1, stage_count=3).to_json())["data"]
    assert data["line_items_truncated"] is False
    assert data["line_item_count"] == len(data["line_items"]) == len(snapshot.line_items)
    assert data["line_items"][0]["url"] is not None


def test_250_line_items_with_long_option_values_still_publish_as_one_event(
    bigcommerce: Callable[[str], Any], abandoned_state: CartState
) -> None:
    checkout = big_checkout(bigcommerce, items=250, option_chars=1_000)
    snapshot = snapshot_of(checkout)
    event = abandoned_event(abandoned_state, snapshot, stage=1, stage_count=3)

    assert sns_size(event) <= SNS_MESSAGE_MAX_BYTES
    validate(event)
    data = json.loads(event.to_json())["data"]
    assert data["line_items_truncated"] is True
    assert data["line_item_count"] == 250
    listed = data["line_items"]
    assert 0 < len(listed) < 250
    # The leading items, in the cart's order, without links and with shortened options.
    assert [item["id"] for item in listed] == [f"item-{n:04d}" for n in range(len(listed))]
    assert all(item["url"] is None and item["image_url"] is None for item in listed)
    values = [option["value"] for item in listed for option in item["options"]]
    assert all(len(value) == TRIMMED_OPTION_VALUE_CHARS and value.endswith("…") for value in values)
    # Money is never trimmed: the totals are the whole cart's.
    assert data["totals"]["cart_amount"] == json.loads(snapshot.model_dump_json())["totals"]["cart_amount"]


def test_the_trim_keeps_as_many_items_as_fit(
    bigcommerce: Callable[[str], Any], abandoned_state: CartState
) -> None:
    event = abandoned_event(
        abandoned_state,
        snapshot_of(big_checkout(bigcommerce, items=250, option_chars=1_000)),
        stage=1,
        stage_count=3,
    )
    kept = len(event.data.line_items)  # type: ignore[attr-defined]
    # The same cart cut to one item more than was kept does not fit either: nothing that
    # could have fitted was left out.
    shorter = snapshot_of(big_checkout(bigcommerce, items=kept + 1, option_chars=1_000))
    assert (len(shorter.line_items), shorter.line_item_count) == (kept, kept + 1)


def test_dropping_details_is_enough_when_it_is_enough(
    bigcommerce: Callable[[str], Any], abandoned_state: CartState
) -> None:
    # Long option values, few items: every item stays, only the details go.
    snapshot = snapshot_of(big_checkout(bigcommerce, items=12, option_chars=20_000))
    event = abandoned_event(abandoned_state, snapshot, stage=1, stage_count=3)
    data = json.loads(event.to_json())["data"]
    assert (data["line_items_truncated"], data["line_item_count"], len(data["line_items"])) == (True, 12, 12)
    assert sns_size(event) <= SNS_MESSAGE_MAX_BYTES


def test_the_stored_snapshot_of_a_huge_cart_is_bounded(bigcommerce: Callable[[str], Any]) -> None:
    # BigCommerce documents no line-item limit per cart; names, SKUs and option names are at
    # most 255 characters and URLs 1,024 (its platform limits).  Whatever the count, the
    # snapshot that is stored on the cart item stays within its budget.
    checkout = big_checkout(bigcommerce, items=2_000, option_chars=5_000, options=5)
    for item in checkout["cart"]["line_items"]["physical_items"]:
        item.update(
            name="N" * 255,
            sku="S" * 255,
            url="https://x.example/" + "u" * 1_000,
            image_url="https://i.example/" + "i" * 1_000,
        )
    snapshot = snapshot_of(checkout)
    assert len(snapshot.model_dump_json().encode()) <= SNAPSHOT_MAX_BYTES
    assert snapshot.line_items_truncated and snapshot.line_item_count == 2_000
    # A snapshot read back from the cart item is the same, trimmed one.
    assert CartSnapshot.model_validate_json(snapshot.model_dump_json()) == snapshot


def test_a_recovered_event_carries_the_trimmed_cart_too(
    bigcommerce: Callable[[str], Any], recovered_state: CartState, order: Any
) -> None:
    snapshot = snapshot_of(big_checkout(bigcommerce, items=400, option_chars=2_000))
    event = recovered_event(recovered_state, snapshot, order)
    assert sns_size(event) <= SNS_MESSAGE_MAX_BYTES
    validate(event)
    assert event.data.line_items_truncated is True  # type: ignore[attr-defined]
    assert event.data.line_item_count == 400  # type: ignore[attr-defined]


def test_an_event_from_an_untrimmed_snapshot_is_trimmed_by_the_same_rule(
    bigcommerce: Callable[[str], Any], abandoned_state: CartState
) -> None:
    # A snapshot that fits the store budget but whose event, with the envelope and a long
    # store hash, would not: the event builder trims it further, by the same rule.
    checkout = big_checkout(bigcommerce, items=150, option_chars=200)
    raw = snapshot_from_bigcommerce(checkout, None, [], 1, RecoveryLink(url=None, reason="not_enabled"))
    state = replace(abandoned_state, store_hash="s" * 40_000)
    event = abandoned_event(state, raw, stage=1, stage_count=3)
    assert sns_size(event) <= SNS_MESSAGE_MAX_BYTES
    assert len(event.data.line_items) < len(raw.line_items)  # type: ignore[attr-defined]
    assert event.data.line_item_count == 150  # type: ignore[attr-defined]


def test_snapshots_stored_before_trimming_existed_read_as_whole(snapshot: CartSnapshot) -> None:
    stored = json.loads(snapshot.model_dump_json())
    del stored["line_items_truncated"], stored["line_item_count"]
    old = CartSnapshot.model_validate_json(json.dumps(stored))
    assert (old.line_items_truncated, old.line_item_count) == (False, len(snapshot.line_items))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    items=st.integers(min_value=0, max_value=600),
    option_chars=st.integers(min_value=0, max_value=3_000),
    options=st.integers(min_value=0, max_value=4),
    budget=st.integers(min_value=4_000, max_value=SNS_MESSAGE_MAX_BYTES),
)
def test_fit_snapshot_always_fits_and_keeps_the_most_items(
    bigcommerce: Callable[[str], Any], items: int, option_chars: int, options: int, budget: int
) -> None:
    checkout = big_checkout(bigcommerce, items=items, option_chars=option_chars, options=options)
    whole = snapshot_from_bigcommerce(checkout, None, [], 1, RecoveryLink(url=None, reason="not_enabled"))

    def fits(candidate: CartSnapshot) -> bool:
        return len(candidate.model_dump_json().encode()) <= budget

    fitted = fit_snapshot(whole, fits)
    assert fits(fitted)
    assert fitted.line_item_count == whole.line_item_count
    if fitted == whole:
        return
    assert fitted.line_items_truncated
    kept = len(fitted.line_items)
    if kept < len(whole.line_items):
        longer = fitted.model_copy(
            update={"line_items": [i.without_details() for i in whole.line_items[: kept + 1]]}
        )
        assert not fits(longer)


@pytest.mark.parametrize("items", [0, 1, 10])
def test_small_carts_are_never_marked_truncated(bigcommerce: Callable[[str], Any], items: int) -> None:
    snapshot = snapshot_of(big_checkout(bigcommerce, items=items, option_chars=10))
    assert (snapshot.line_items_truncated, snapshot.line_item_count) == (False, items)
