"""The publisher's per-record isolation, enrich-once, erase-wins, quota budget, deadline and
safety net — OutboxRelay against the in-memory cart store and in-memory SNS and BigCommerce."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from typing import Any

from tests.memory_cart_store import MemoryCartStore
from tests.unit.pipeline_fakes import PLANNER, STORE, BigCommerce, Sns, Stores, fixture, guest_checkout
from tests.unit.test_outbox_relay import SWEPT, cart, pipeline

from cartwatch.adapters.bigcommerce import BigCommerceUnauthorized, BigCommerceUnavailable
from cartwatch.domain.cart_record import CartRecord, Tombstone
from cartwatch.domain.event_types import ABANDONED
from cartwatch.domain.lifecycle import CartStatus, suppress
from cartwatch.domain.write_plan import Revision
from cartwatch.resources import SNS_MESSAGE_MAX_BYTES
from cartwatch.service.publishing import DEADLINE_RESERVE_MS, DeadlineReached, OutboxRelay, PublishFailed
from cartwatch.settings import ENV, Settings

LATER = SWEPT + PLANNER.OUTBOX_GRACE_SECONDS + 1


class Credentials:
    """Per-store clients as the factory builds them; counts reads past the cache."""

    def __init__(self, apis: dict[str, Any]) -> None:
        self.apis = apis
        self.fresh_reads: list[str] = []

    def __call__(self, store_hash: str, *, fresh: bool = False) -> Any:
        if fresh:
            self.fresh_reads.append(store_hash)
        return self.apis.get(store_hash)


def make_relay(
    store: MemoryCartStore, sns: Sns, factory: Any, *, at: float = SWEPT, **options: Any
) -> OutboxRelay:
    return OutboxRelay(store, PLANNER, options.pop("stores", Stores()), sns, factory, clock=lambda: at)


def large_checkout(cart_id: str) -> dict[str, Any]:
    """A guest's checkout with enough line items for an event of about 40 KiB."""
    checkout = guest_checkout(cart_id)
    template = checkout["cart"]["line_items"]["physical_items"][0]
    checkout["cart"]["line_items"]["physical_items"] = [
        {
            **copy.deepcopy(template),
            "id": f"i{n}",
            "name": f"{n:03d}" + "N" * 250,
            "sku": f"{n:03d}" + "S" * 250,
        }
        for n in range(60)
    ]
    return checkout


def test_a_batch_with_a_refused_token_and_large_events_publishes_each_good_once_and_parks_only_the_bad() -> (
    None
):
    # [good, a store answering 401, good, 10 events of 40 KiB] — the acceptance batch.
    big = [f"big{n}" for n in range(10)]
    store, written = pipeline("good1", "revoked", "good2", *big)
    order = ["good1", "revoked", "good2", *big]
    written = sorted(written, key=lambda r: order.index(r.state.cart_id))
    # The refused cart belongs to another store (same carts, moved there).
    written[1] = _moved_to(store, written[1], "s2")
    api = BigCommerce(checkouts={cart_id: large_checkout(cart_id) for cart_id in big})
    refused = BigCommerce(checkouts={"revoked": BigCommerceUnauthorized("401", status=401)})
    factory = Credentials({STORE: api, "s2": refused})
    sns = Sns()
    errors, report = make_relay(store, sns, factory).relay(written)

    assert errors == [None] * len(written)  # nothing goes back to the stream
    subjects = [event["subject"] for event in sns.published]
    assert sorted(subjects) == sorted(["good1", "good2", *big])  # each good event once
    assert all(len(json.dumps(e)) > 35_000 for e in sns.published if e["subject"] in big)
    assert all(len(json.dumps(e)) < SNS_MESSAGE_MAX_BYTES for e in sns.published)
    # The 401 re-read the store's credentials once, then parked the event with its reason.
    assert factory.fresh_reads == ["s2"] and refused.calls == 2
    assert report.parked == {"bigcommerce_unauthorized": 1}
    slot = _stored(store, "s2", "revoked").unpublished
    assert slot is not None and slot.parked == "bigcommerce_unauthorized"
    # The stream redelivers the whole batch (as after a later record's failure): nothing twice.
    again = Sns()
    make_relay(store, again, factory).relay(written)
    assert again.published == []


def test_a_token_rotated_since_the_client_was_built_is_read_again_and_the_event_goes_out() -> None:
    store, written = pipeline("a")
    rotated = BigCommerce()
    stale = BigCommerce(checkouts={"a": BigCommerceUnauthorized("401", status=401)})

    class Rotating(Credentials):
        def __call__(self, store_hash: str, *, fresh: bool = False) -> Any:
            super().__call__(store_hash, fresh=fresh)
            return rotated if fresh else stale

    sns = Sns()
    errors, report = make_relay(store, sns, Rotating({})).relay(written)
    assert errors == [None] and report.published[ABANDONED] == 1 and not report.parked


class Reads(Credentials):
    """Counts every read of a store's credentials, through the cache or past it."""

    def __init__(self, apis: dict[str, Any]) -> None:
        super().__init__(apis)
        self.reads: list[str] = []

    def __call__(self, store_hash: str, *, fresh: bool = False) -> Any:
        self.reads.append(store_hash)
        return super().__call__(store_hash, fresh=fresh)


def test_a_stores_token_is_read_once_per_token_period_and_a_missing_one_again_within_a_minute() -> None:
    store, written = pipeline("a", "b", "c", "d")
    factory = Reads({STORE: BigCommerce()})
    clock = [SWEPT]
    relay = OutboxRelay(
        store, PLANNER, Stores(), Sns(), factory, clock=lambda: clock[0], client_ttl_seconds=3600
    )
    for record, at in zip(written[:3], (SWEPT, SWEPT + 1800, SWEPT + 3599), strict=True):
        clock[0] = at
        relay.relay([record])
    assert factory.reads == [STORE]  # three carts' events within the hour: one read
    clock[0] = SWEPT + 3600
    relay.relay([written[3]])
    assert factory.reads == [STORE, STORE]

    # A store whose token is not there yet is asked again after a minute, not an hour.
    elsewhere, moved = pipeline("e", "f")
    waiting = Reads({})
    relay = OutboxRelay(
        elsewhere, PLANNER, Stores(), Sns(), waiting, clock=lambda: clock[0], client_ttl_seconds=3600
    )
    clock[0] = SWEPT
    relay.relay([moved[0]])
    clock[0] = SWEPT + OutboxRelay.MISSING_TOKEN_SECONDS
    relay.relay([moved[1]])
    assert waiting.reads == [STORE, STORE]


def test_a_stage_one_retry_publishes_identical_data_and_makes_one_recovery_copy() -> None:
    store, written = pipeline("a")
    api = BigCommerce()
    sns = Sns(refuse=[{0}])
    stores = Stores(recovery_links=True)
    errors, _ = make_relay(store, sns, Credentials({STORE: api}), stores=stores).relay(written)
    assert isinstance(errors[0], PublishFailed) and sns.published == []
    first_calls = api.asked.count("create cart")
    # The stream retries the record (its image as first written), twice.
    make_relay(store, sns, Credentials({STORE: api}), at=SWEPT + 30, stores=stores).relay(written)
    make_relay(store, Sns(), Credentials({STORE: api}), at=SWEPT + 60, stores=stores).relay(written)
    assert first_calls == 1 and api.asked.count("create cart") == 1  # one recovery copy, ever
    [event] = sns.published
    assert event["data"]["recovery_link"]["cart_id"] == fixture("cart_created.json")["data"]["id"]
    # Byte-identical: the data stored before the first attempt.
    snapshot = json.loads(cart(store, "a").snapshot or "{}")
    assert event["data"]["line_items"] == snapshot["line_items"]
    # A third delivery of the record finds the slot released and publishes nothing.
    assert cart(store, "a").unpublished is None


def test_a_retried_event_has_the_same_bytes_as_its_first_attempt() -> None:
    store, written = pipeline("a")
    first, second = Sns(refuse=[set()]), Sns()
    api = BigCommerce()
    make_relay(store, first, Credentials({STORE: api})).relay(written)
    # As if the slot release had failed: the event is published again from what was stored.
    _restore_slot(store, written[0])
    make_relay(store, second, Credentials({STORE: api}), at=SWEPT + 300).relay(written)
    assert json.dumps(first.published) == json.dumps(second.published)
    assert api.asked.count("checkout a") == 1


def test_an_erase_while_the_event_is_queued_publishes_no_personal_data() -> None:
    store, written = pipeline("erased", "suppressed", "kept")
    store.erase(Tombstone(STORE, "erased", erased_at=SWEPT + 1, expires_at=SWEPT + 86400))
    current = cart(store, "suppressed")
    store.apply(Revision(current, replace(current, state=suppress(current.state, SWEPT + 1))))
    sns, api = Sns(), BigCommerce()
    errors, report = make_relay(store, sns, Credentials({STORE: api})).relay(written)
    assert errors == [None, None, None]
    assert [event["subject"] for event in sns.published] == ["kept"]
    assert report.dropped_erased == 2
    # Nobody's data was even fetched for the erased or suppressed carts.
    assert not any("erased" in asked or "suppressed" in asked for asked in api.asked)


def test_one_stores_spent_quota_delays_its_own_events_and_nobody_elses() -> None:
    store, written = pipeline("a1", "a2", "a3")
    others = _moved_to(store, written[1], "s2")
    batch = [written[0], others, written[2]]
    spent = BigCommerce(checkouts={"a1": BigCommerceUnavailable("quota", status=429, retry_after=23.0)})
    fine = BigCommerce()
    sns = Sns()
    errors, report = make_relay(store, sns, Credentials({STORE: spent, "s2": fine})).relay(batch)
    assert errors == [None, None, None] and report.deferred == 2
    assert [e["subject"] for e in sns.published] == ["a2"]
    # The store's later record was deferred without asking BigCommerce again.
    assert spent.asked == ["checkout a1"]
    assert {cart(store, c).unpublished.due for c in ("a1", "a3")} == {SWEPT + 23}  # type: ignore[union-attr]
    # When it is due, the scheduled relay publishes them, once each.
    spent.checkouts.clear()
    later = Sns()
    rescued = make_relay(store, later, Credentials({STORE: spent})).rescue(SWEPT + 23)
    assert sorted(e["subject"] for e in later.published) == ["a1", "a3"] and rescued.rescued == 2


def test_the_relay_stops_before_its_deadline_and_leaves_the_rest_to_the_stream() -> None:
    store, written = pipeline("a", "b", "c")
    left = iter([60_000, DEADLINE_RESERVE_MS - 1, DEADLINE_RESERVE_MS - 1])
    sns = Sns()
    errors, _ = make_relay(store, sns, Credentials({STORE: BigCommerce()})).relay(written, lambda: next(left))
    assert errors[0] is None and all(isinstance(e, DeadlineReached) for e in errors[1:])
    assert len(sns.published) == 1
    assert all(cart(store, r.state.cart_id).unpublished is not None for r in written[1:])


def test_the_safety_net_publishes_an_event_the_stream_never_delivered_once() -> None:
    store, _ = pipeline("lost")
    factory = Credentials({STORE: BigCommerce()})
    early = Sns()
    assert make_relay(store, early, factory).rescue(SWEPT + 1).rescued == 0  # within its grace
    sns = Sns()
    report = make_relay(store, sns, factory, at=LATER).rescue(LATER)
    assert report.rescued == 1 and [e["subject"] for e in sns.published] == ["lost"]
    assert make_relay(store, sns, factory, at=LATER).rescue(LATER + 600).rescued == 0
    assert len(sns.published) == 1


def test_a_purchase_the_stream_never_delivered_is_found_on_its_due_entry_and_published_once() -> None:
    store, _ = pipeline(bought=("paid",))
    entry = cart(store, "paid").due
    assert entry is not None  # the bought cart's entry stayed: no outbox-index entry was written
    factory = Credentials({STORE: BigCommerce()})
    # Not before the entry is a grace period past due: until then the stream has it.
    assert make_relay(store, Sns(), factory, at=LATER).rescue(entry.at).rescued == 0
    sns = Sns()
    found = entry.at + PLANNER.OUTBOX_GRACE_SECONDS
    report = make_relay(store, sns, factory, at=found).rescue(found)
    assert report.rescued == 1 and [(e["type"], e["subject"]) for e in sns.published] == [
        ("cartwatch.cart.converted", "paid")
    ]
    # Published: the slot and the entry are gone, so nothing reads it again.
    assert cart(store, "paid").due is None and cart(store, "paid").unpublished is None
    assert make_relay(store, sns, factory, at=found).rescue(found + 600).rescued == 0
    assert len(sns.published) == 1


def test_a_parked_event_is_redriven_after_the_fix_and_published_once() -> None:
    store, written = pipeline("a")
    factory = Credentials({})  # the store's credentials are gone
    make_relay(store, Sns(), factory).relay(written)
    assert cart(store, "a").unpublished.is_parked  # type: ignore[union-attr]
    # Parked events are not retried by the schedule...
    assert make_relay(store, Sns(), factory, at=LATER).rescue(LATER).rescued == 0
    # ...until redriven, once the store is back.
    factory.apis[STORE] = BigCommerce()
    relay = make_relay(store, Sns(), factory, at=LATER)
    assert relay.redrive_parked(LATER) == 1
    sns = Sns()
    assert make_relay(store, sns, factory, at=LATER).rescue(LATER).rescued == 1
    assert [e["subject"] for e in sns.published] == ["a"]


def test_the_safety_net_drops_an_event_the_cart_has_moved_past() -> None:
    store, _ = pipeline("a")
    current = cart(store, "a")
    # The shopper came back before anything was published: the abandonment is moot.
    moved = replace(current, state=replace(current.state, status=CartStatus.ACTIVE, stage=0), outbox=None)
    store.apply(Revision(current, moved))
    sns = Sns()
    report = make_relay(store, sns, Credentials({STORE: BigCommerce()}), at=LATER).rescue(LATER)
    assert sns.published == [] and report.dropped_obsolete == 1 and cart(store, "a").unpublished is None


# --- helpers -------------------------------------------------------------------------------------


def _stored(store: MemoryCartStore, store_hash: str, cart_id: str) -> CartRecord:
    record = store.load(store_hash, cart_id)
    assert isinstance(record, CartRecord)
    return record


def _moved_to(store: MemoryCartStore, record: CartRecord, store_hash: str) -> CartRecord:
    """The same cart, as another store's (stored there too)."""
    moved = replace(record, state=replace(record.state, store_hash=store_hash))
    store.apply(Revision(None, moved))
    return moved


def _restore_slot(store: MemoryCartStore, record: CartRecord) -> None:
    current = cart(store, record.state.cart_id)
    store.apply(Revision(current, replace(current, unpublished=record.unpublished)))


def test_the_token_period_is_an_hour_unless_the_environment_says_otherwise() -> None:
    assert Settings.from_env({ENV.TABLE_NAME: "t"}).api_token_cache_seconds == 3600
    assert (
        Settings.from_env({ENV.TABLE_NAME: "t", ENV.API_TOKEN_CACHE_SECONDS: "7200"}).api_token_cache_seconds
        == 7200
    )
