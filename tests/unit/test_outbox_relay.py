"""OutboxRelay against the in-memory cart store: enrichment, per-record failures, what it records."""

from __future__ import annotations

from typing import Any

from tests.memory_cart_store import MemoryCartStore
from tests.unit.pipeline_fakes import (
    GONE,
    HOUR,
    PLANNER,
    STAGES,
    STORE,
    T0,
    BigCommerce,
    Sns,
    Stores,
    clients,
    fixture,
    webhook,
)

from cartwatch.adapters.bigcommerce import BigCommerceRejected, BigCommerceUnavailable
from cartwatch.domain.cart_record import CartRecord
from cartwatch.domain.cart_webhooks import WebhookKind
from cartwatch.domain.event_types import ABANDONED, CONVERTED
from cartwatch.domain.lifecycle import CartStatus
from cartwatch.service.processing import CartProcessor
from cartwatch.service.publishing import OutboxRelay, PublishFailed
from cartwatch.service.sweeping import AbandonmentSweep

K = WebhookKind
SWEPT = T0 + HOUR + 5


def pipeline(*cart_ids: str, bought: tuple[str, ...] = ()) -> tuple[MemoryCartStore, list[CartRecord]]:
    """Carts made by the processor and the sweep; what the stream would hand the relay."""
    store = MemoryCartStore()
    hooks = [webhook(cart_id, K.CREATED, T0) for cart_id in (*cart_ids, *bought)]
    hooks += [webhook(cart_id, K.CONVERTED, T0 + 60, order_id=100 + n) for n, cart_id in enumerate(bought)]
    CartProcessor(store, PLANNER, Stores(), check_uninstall=lambda _: None, clock=lambda: T0).apply(hooks)
    AbandonmentSweep(store, PLANNER, Stores(), clock=lambda: SWEPT).run(SWEPT)
    return store, written_with_events(store)


def written_with_events(store: MemoryCartStore) -> list[CartRecord]:
    records = [store.load(*plan.ref) for plan in store.applied]
    return [r for r in dict.fromkeys(records) if isinstance(r, CartRecord) and r.outbox is not None]


def relay(store: MemoryCartStore, sns: Sns, api: BigCommerce | None, **options: Any) -> OutboxRelay:
    return OutboxRelay(
        store, PLANNER, options.pop("stores", Stores()), sns, clients(api, **options), clock=lambda: SWEPT
    )


def cart(store: MemoryCartStore, cart_id: str) -> CartRecord:
    record = store.load(STORE, cart_id)
    assert isinstance(record, CartRecord)
    return record


def test_only_the_events_sns_refused_fail_and_the_rest_are_published_and_recorded() -> None:
    store, written = pipeline("a", "b", "c")
    sns = Sns(refuse=[{1}])
    errors, report = relay(store, sns, BigCommerce()).relay(written)
    assert [type(e) for e in errors] == [type(None), PublishFailed, type(None)]
    assert report.published[ABANDONED] == 2 and report.failed == 1
    published = {event["subject"] for event in sns.published}
    refused = written[1].state.cart_id
    assert refused not in published and len(published) == 2
    # Every stage-1 snapshot is kept before the publish; only the published events' slots go.
    assert all(cart(store, c).snapshot is not None for c in (*published, refused))
    assert cart(store, refused).unpublished is not None
    assert all(cart(store, c).unpublished is None for c in published)
    # The stream retries the failed record: the same event, with the same id.
    errors, _ = relay(store, sns, BigCommerce()).relay([written[1]])
    assert errors == [None] and sns.published[-1]["subject"] == refused
    assert cart(store, refused).unpublished is None


def test_a_store_bigcommerce_cannot_serve_defers_its_own_records() -> None:
    store, written = pipeline("a", "b")
    broken = BigCommerce(checkouts={written[0].state.cart_id: BigCommerceUnavailable("503")})
    sns = Sns()
    errors, report = relay(store, sns, broken).relay(written)
    # Nothing fails back to the stream (which would hold up every store on the shard), and
    # the store is left alone for a while: its other event waits without another call.
    assert errors == [None, None] and report.deferred == 2 and sns.published == []
    assert broken.calls == 1
    for record in written:
        slot = cart(store, record.state.cart_id).unpublished
        assert slot is not None and slot.due == SWEPT + 60 and not slot.is_parked


def test_a_cart_bigcommerce_no_longer_has_is_closed_without_an_event() -> None:
    store, written = pipeline("gone")
    sns = Sns()
    errors, report = relay(store, sns, BigCommerce(checkouts={"gone": GONE})).relay(written)
    assert errors == [None] and sns.published == [] and report.dropped_cart_gone == 1
    record = cart(store, "gone")
    assert (record.state.status, record.due, record.outbox) == (CartStatus.DELETED, None, None)
    assert record.history[-1].cause == "bigcommerce:gone"


def test_a_removed_store_has_nobody_to_tell_and_nothing_fails() -> None:
    store, written = pipeline("a")
    sns = Sns()
    errors, report = relay(store, sns, BigCommerce(), without={STORE}).relay(written)
    assert errors == [None] and sns.published == [] and report.dropped_store_gone == 1
    # Counted (StoreGone is alarmed) and parked: a store added again can have it redriven.
    slot = cart(store, written[0].state.cart_id).unpublished
    assert slot is not None and slot.parked == "store_gone"


def test_later_stages_reuse_the_stage_one_snapshot_and_only_ask_whether_the_cart_is_still_open() -> None:
    store, written = pipeline("a")
    api = BigCommerce()
    relay(store, Sns(), api).relay(written)
    stage_one_calls = api.calls
    AbandonmentSweep(store, PLANNER, Stores(), clock=lambda: SWEPT).run(T0 + 24 * HOUR)
    stage_two = [r for r in written_with_events(store) if r.outbox is not None and r.outbox.stage == 2]
    sns = Sns()
    assert relay(store, sns, api).relay(stage_two)[0] == [None]
    assert api.calls == stage_one_calls + 1 and api.asked[-1] == "cart a"
    assert sns.published[0]["data"]["stage"] == 2 and sns.published[0]["data"]["line_items"]


def test_a_purchase_is_published_with_its_order_value_which_lists_the_cart() -> None:
    store, written = pipeline(bought=("b1",))
    sns = Sns()
    errors, report = relay(store, sns, BigCommerce()).relay(written)
    assert errors == [None] and report.published[CONVERTED] == 1
    assert sns.published[0]["data"]["order"]["total"] == fixture("order.json")["total_inc_tax"].rstrip("0")
    record = cart(store, "b1")
    assert record.order is not None and record.listed_at == SWEPT and record.summary.total is not None


def test_a_refused_order_lookup_still_publishes_the_purchase_without_a_value() -> None:
    store, written = pipeline(bought=("b1",))
    sns = Sns()
    errors, _ = relay(store, sns, BigCommerce(order=BigCommerceRejected("403", status=403))).relay(written)
    assert errors == [None]
    assert sns.published[0]["data"]["order"] == {
        "id": 100,
        "total": None,
        "currency": None,
        "status_id": None,
        "status": None,
    }


def test_a_recovery_link_marks_the_copy_so_it_is_never_announced() -> None:
    store, written = pipeline("a")
    sns = Sns()
    relay(store, sns, BigCommerce(), stores=Stores(recovery_links=True)).relay(written)
    copy_id = fixture("cart_created.json")["data"]["id"]
    copy = cart(store, copy_id)
    assert copy.recovery_of == "a" and copy.due is None
    assert sns.published[0]["data"]["recovery_link"]["cart_id"] == copy_id
    assert STAGES.count == 3
