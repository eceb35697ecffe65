"""The cart lifecycle: transitions, and order-independence under BigCommerce's delivery."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from cartwatch.domain.lifecycle import (
    CartState,
    CartStatus,
    Outcome,
    SweepAction,
    apply_webhooks,
    event_order,
    next_due_at,
    sweep,
)
from cartwatch.domain.stages import CART_LIFETIME_SECONDS, StageSchedule
from cartwatch.domain.webhooks import CartWebhook, WebhookKind

STAGES = StageSchedule.parse("1h,24h,48h")
T0 = 1_700_000_000


def event(kind: WebhookKind, at: int, key: str | None = None, **extra: object) -> CartWebhook:
    return CartWebhook(
        store_hash="abc123",
        cart_id="cart-1",
        kind=kind,
        occurred_at=at,
        dedupe_key=key or f"{kind}-{at}",
        **extra,  # type: ignore[arg-type]
    )


def fold_one_by_one(events: list[CartWebhook], state: CartState | None = None) -> CartState | None:
    for e in events:
        state = apply_webhooks(state, [e]).after
    return state


def test_first_add_to_cart_opens_an_active_cart_due_at_stage_one() -> None:
    result = apply_webhooks(
        None,
        [
            event(WebhookKind.CREATED, T0),
            event(WebhookKind.UPDATED, T0),
            event(WebhookKind.LINE_ITEM_CREATED, T0),
        ],
    )
    assert result.after.status is CartStatus.ACTIVE
    assert result.after.last_activity_at == T0
    assert next_due_at(result.after, STAGES) == T0 + 3600
    assert [o for _, o in result.outcomes].count(Outcome.APPLIED) == 1


def test_the_same_webhook_five_times_changes_state_once() -> None:
    created = event(WebhookKind.CREATED, T0, key="wh:1")
    first = apply_webhooks(None, [created])
    state = first.after
    for _ in range(4):
        again = apply_webhooks(state, [created])
        assert not again.changed
        state = again.after
    batch = apply_webhooks(None, [created] * 5)
    assert [o for _, o in batch.outcomes] == [Outcome.APPLIED] + [Outcome.DUPLICATE] * 4


def test_a_redelivered_conversion_or_deletion_is_a_duplicate_even_in_a_later_batch() -> None:
    # BigCommerce retries a delivery for up to 48 hours; the cart records exactly that event.
    created = event(WebhookKind.CREATED, T0, key="wh:1")
    converted = event(WebhookKind.CONVERTED, T0 + 60, order_id=9, key="wh:2")
    state = apply_webhooks(None, [created, converted]).after
    again = apply_webhooks(state, [converted])
    assert (again.changed, again.conversion, again.outcomes[0][1]) == (False, None, Outcome.DUPLICATE)
    other_order = apply_webhooks(state, [event(WebhookKind.CONVERTED, T0 + 60, order_id=10)])
    assert other_order.outcomes[0][1] is not Outcome.DUPLICATE
    deleted = event(WebhookKind.DELETED, T0 + 60, key="wh:3")
    gone = apply_webhooks(None, [created, deleted]).after
    assert apply_webhooks(gone, [deleted]).outcomes[0][1] is Outcome.DUPLICATE
    # A repeated activity webhook cannot be told from a sibling of the same click.
    active = apply_webhooks(None, [created]).after
    assert apply_webhooks(active, [created]).outcomes[0][1] is Outcome.UNCHANGED


def test_late_update_after_conversion_leaves_it_converted() -> None:
    converted = apply_webhooks(
        None, [event(WebhookKind.CREATED, T0), event(WebhookKind.CONVERTED, T0 + 60, order_id=9)]
    )
    assert converted.after.status is CartStatus.CONVERTED
    assert converted.conversion is not None and not converted.conversion.recovered
    late = apply_webhooks(converted.after, [event(WebhookKind.UPDATED, T0 + 30)])
    assert late.after.status is CartStatus.CONVERTED
    assert late.conversion is None  # no second event
    assert late.outcomes[0][1] is Outcome.STALE
    after_close = apply_webhooks(converted.after, [event(WebhookKind.UPDATED, T0 + 600)])
    assert after_close.after.status is CartStatus.CONVERTED
    assert after_close.after.order_id == 9
    assert after_close.outcomes[0][1] is Outcome.STALE
    assert after_close.conversion is None


def test_converted_outranks_deleted_in_either_order() -> None:
    conv = event(WebhookKind.CONVERTED, T0 + 5, order_id=7)
    dele = event(WebhookKind.DELETED, T0 + 5)
    start = apply_webhooks(None, [event(WebhookKind.CREATED, T0)]).after
    a = fold_one_by_one([dele, conv], start)
    b = fold_one_by_one([conv, dele], start)
    assert a is not None and b is not None
    assert a.status is b.status is CartStatus.CONVERTED
    assert a.lifecycle_view() == b.lifecycle_view()


def test_conversion_after_abandonment_is_a_recovery() -> None:
    active = apply_webhooks(None, [event(WebhookKind.CREATED, T0)]).after
    decision = sweep(active, T0 + 3600, STAGES)
    assert decision.action is SweepAction.ABANDON and decision.stage == 1
    result = apply_webhooks(decision.after, [event(WebhookKind.CONVERTED, T0 + 5000, order_id=42)])
    assert result.after.status is CartStatus.RECOVERED
    assert result.conversion is not None
    assert result.conversion.recovered and result.conversion.stage_reached == 1
    assert result.conversion.order_id == 42


def test_activity_on_an_abandoned_cart_restarts_its_stages() -> None:
    active = apply_webhooks(None, [event(WebhookKind.CREATED, T0)]).after
    abandoned = sweep(sweep(active, T0 + 3600, STAGES).after, T0 + 86400, STAGES).after
    assert abandoned.stage == 2
    back = apply_webhooks(abandoned, [event(WebhookKind.UPDATED, T0 + 90000)])
    assert back.reactivated
    assert back.after.status is CartStatus.ACTIVE and back.after.stage == 0
    assert next_due_at(back.after, STAGES) == T0 + 90000 + 3600
    # …and a later purchase still counts as recovered: the cart had been abandoned.
    bought = apply_webhooks(back.after, [event(WebhookKind.CONVERTED, T0 + 90100, order_id=1)])
    assert bought.after.status is CartStatus.RECOVERED


def test_sweep_stages_expiry_and_catch_up() -> None:
    active = apply_webhooks(None, [event(WebhookKind.CREATED, T0)]).after
    assert sweep(active, T0 + 3599, STAGES).action is SweepAction.RESCHEDULE
    # A sweeper that was down for two days announces only the highest stage reached.
    late = sweep(active, T0 + 2 * 86400 + 5, STAGES)
    assert late.action is SweepAction.ABANDON and late.stage == 3
    assert next_due_at(late.after, STAGES) == T0 + CART_LIFETIME_SECONDS
    expired = sweep(late.after, T0 + CART_LIFETIME_SECONDS, STAGES)
    assert expired.action is SweepAction.EXPIRE
    assert expired.after.status is CartStatus.EXPIRED
    assert next_due_at(expired.after, STAGES) is None
    assert sweep(expired.after, T0 + CART_LIFETIME_SECONDS + 1, STAGES).action is SweepAction.DROP


def test_abandoned_hint_keeps_its_token_but_is_not_the_clock() -> None:
    active = apply_webhooks(None, [event(WebhookKind.CREATED, T0)]).after
    hinted = apply_webhooks(active, [event(WebhookKind.ABANDONED, T0 + 3600, token="tok")]).after
    assert hinted.abandoned_token == "tok"
    assert hinted.status is CartStatus.ACTIVE
    assert hinted.last_activity_at == T0


def test_ties_in_created_at_are_ordered_like_a_storefront() -> None:
    same_second = [
        event(WebhookKind.CONVERTED, T0, order_id=1),
        event(WebhookKind.UPDATED, T0),
        event(WebhookKind.CREATED, T0),
    ]
    kinds = [e.kind for e in sorted(same_second, key=event_order)]
    assert kinds == [WebhookKind.CREATED, WebhookKind.UPDATED, WebhookKind.CONVERTED]


# --- property: delivery order and duplication never change the outcome ------------------

_KINDS = [k for k in WebhookKind]


@st.composite
def cart_histories(draw: st.DrawFn) -> list[CartWebhook]:
    count = draw(st.integers(min_value=1, max_value=12))
    events = []
    for n in range(count):
        kind = draw(st.sampled_from(_KINDS))
        at = T0 + draw(st.integers(min_value=0, max_value=40))
        extra: dict[str, object] = {}
        if kind is WebhookKind.CONVERTED:
            extra["order_id"] = draw(st.integers(min_value=1, max_value=3))
        if kind is WebhookKind.ABANDONED:
            extra["token"] = draw(st.sampled_from(["t1", "t2"]))
        events.append(event(kind, at, key=f"wh:{n}", **extra))
    return events


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[CartWebhook], list[CartWebhook]]:
    history = draw(cart_histories())
    duplicated = history + draw(st.lists(st.sampled_from(history), max_size=8))
    delivered = draw(st.permutations(duplicated))
    return history, list(delivered)


@settings(max_examples=400, deadline=None)
@given(deliveries(), st.booleans())
def test_any_permutation_with_duplicates_ends_like_the_sorted_deduplicated_sequence(
    case: tuple[list[CartWebhook], list[CartWebhook]], start_abandoned: bool
) -> None:
    history, delivered = case
    start: CartState | None = None
    if start_abandoned:
        # A cart the sweeper had already abandoned before these webhooks arrived.
        base = CartState("abc123", "cart-1", CartStatus.ACTIVE, T0 - 4000, T0 - 4000)
        start = sweep(base, T0 - 100, STAGES).after
    expected = fold_one_by_one(sorted(history, key=event_order), start)
    one_by_one = fold_one_by_one(delivered, start)
    in_one_batch = apply_webhooks(start, delivered).after
    assert expected is not None and one_by_one is not None
    assert one_by_one.lifecycle_view() == expected.lifecycle_view()
    assert in_one_batch.lifecycle_view() == expected.lifecycle_view()


@settings(max_examples=200, deadline=None)
@given(deliveries())
def test_a_conversion_is_announced_exactly_once_whatever_the_delivery(
    case: tuple[list[CartWebhook], list[CartWebhook]],
) -> None:
    _, delivered = case
    state: CartState | None = None
    conversions = 0
    for e in delivered:
        result = apply_webhooks(state, [e])
        conversions += result.conversion is not None
        state = result.after
    assert state is not None
    bought = any(e.kind is WebhookKind.CONVERTED for e in delivered)
    assert conversions == (1 if bought else 0)
    assert (state.status in (CartStatus.CONVERTED, CartStatus.RECOVERED)) == bought


def test_lifecycle_view_ignores_only_the_storage_counter() -> None:
    a = CartState("s", "c", CartStatus.ACTIVE, T0, T0, version=3)
    assert a.lifecycle_view() == replace(a, version=9).lifecycle_view()
    assert a.lifecycle_view() != replace(a, last_activity_at=T0 + 1).lifecycle_view()
