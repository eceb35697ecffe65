"""Lifecycle history entries, and the events that follow from them."""

from __future__ import annotations

from cartwatch.domain import history
from cartwatch.domain.cart import CartSnapshot
from cartwatch.domain.cart_cloud_events import abandoned_event, converted_event, recovered_event
from cartwatch.domain.history import Transition, published_events, sweep_transition, webhook_transition
from cartwatch.domain.lifecycle import CartState, CartStatus, apply_webhooks, sweep
from cartwatch.domain.stages import StageSchedule
from cartwatch.domain.webhooks import CartWebhook, WebhookKind

STAGES = StageSchedule.parse("1h,24h,48h")
T0 = 1_700_000_000


def event(kind: WebhookKind, at: int, **extra: object) -> CartWebhook:
    return CartWebhook("abc123", "cart-1", kind, at, f"{kind}-{at}", **extra)  # type: ignore[arg-type]


def test_an_entry_round_trips_through_its_compact_form() -> None:
    for entry in (
        Transition(T0, CartStatus.ABANDONED, 2, "sweep", None),
        Transition(T0, CartStatus.RECOVERED, 0, "webhook:converted", T0 - 5),
    ):
        assert Transition.decode(entry.encode()) == entry
    assert len(Transition(T0, CartStatus.ABANDONED, 2, "sweep", T0).encode()) < 40


def test_webhooks_record_only_status_changes_with_their_cause() -> None:
    opened = apply_webhooks(None, [event(WebhookKind.CREATED, T0), event(WebhookKind.UPDATED, T0)])
    assert webhook_transition(opened, []) is None  # creation is cart_created_at, not history
    busy = apply_webhooks(opened.after, [event(WebhookKind.UPDATED, T0 + 30)])
    assert webhook_transition(busy, [event(WebhookKind.UPDATED, T0 + 30)]) is None
    abandoned = sweep(busy.after, T0 + 3700, STAGES).after
    back = [event(WebhookKind.LINE_ITEM_CREATED, T0 + 4000), event(WebhookKind.UPDATED, T0 + 4000)]
    revived = webhook_transition(apply_webhooks(abandoned, back), back)
    assert revived == Transition(T0 + 4000, CartStatus.ACTIVE, 0, "webhook:updated", T0 + 30)
    bought = [event(WebhookKind.CONVERTED, T0 + 4100, order_id=7)]
    closed = webhook_transition(apply_webhooks(abandoned, bought), bought)
    assert closed == Transition(T0 + 4100, CartStatus.RECOVERED, 0, "webhook:converted", T0 + 30)


def test_sweeps_record_stages_and_expiry() -> None:
    active = CartState("abc123", "cart-1", CartStatus.ACTIVE, T0, T0)
    decision = sweep(active, T0 + 3600, STAGES)
    assert sweep_transition(decision, T0 + 3600, idle_known=False) == Transition(
        T0 + 3600, CartStatus.ABANDONED, 1, "sweep", None
    )
    assert sweep_transition(decision, T0 + 3600, idle_known=True).idle_since == T0  # type: ignore[union-attr]
    assert sweep_transition(sweep(decision.after, T0 + 3601, STAGES), T0 + 3601, idle_known=True) is None


def snapshot() -> CartSnapshot:
    return CartSnapshot.model_validate(
        {
            "cart_id": "cart-1",
            "channel_id": 1,
            "currency": "USD",
            "totals": {
                "base_amount": "10.00",
                "discount_amount": "0.00",
                "coupon_amount": None,
                "cart_amount": "10.00",
                "tax_included": None,
            },
            "line_items": [],
            "coupons": [],
            "customer": {
                "id": None,
                "email": None,
                "first_name": None,
                "last_name": None,
                "phone": None,
                "is_guest": True,
                "consent": {"abandoned_cart_emails": None, "marketing_newsletter": None, "source": "unknown"},
            },
            "recovery_link": {"url": None, "reason": "not requested"},
            "captured_at": T0,
        }
    )


def test_the_derived_event_ids_are_the_ids_the_publisher_publishes() -> None:
    """Abandoned twice (revived in between), then bought: five events, ids as published."""
    state = CartState("abc123", "cart-1", CartStatus.ACTIVE, T0, T0)
    entries: list[Transition] = []
    published: list[str] = []
    for now in (T0 + 3600, T0 + 86400):  # stages 1 and 2, decided from the due index
        decision = sweep(state, now, STAGES)
        state = decision.after
        entries.append(sweep_transition(decision, now, idle_known=False))  # type: ignore[arg-type]
        published.append(
            abandoned_event(state, snapshot(), stage=decision.stage, stage_count=3, occurred_at=now).id
        )
    back = [event(WebhookKind.UPDATED, T0 + 90000)]
    revived = apply_webhooks(state, back)
    entries.append(webhook_transition(revived, back))  # type: ignore[arg-type]
    state = revived.after
    decision = sweep(state, T0 + 90000 + 3600, STAGES)
    state = decision.after
    entries.append(sweep_transition(decision, T0 + 93600, idle_known=True))  # type: ignore[arg-type]
    published.append(abandoned_event(state, snapshot(), stage=1, stage_count=3, occurred_at=T0 + 93600).id)
    bought = [event(WebhookKind.CONVERTED, T0 + 95000, order_id=42)]
    result = apply_webhooks(state, bought)
    entries.append(webhook_transition(result, bought))  # type: ignore[arg-type]
    state = result.after
    published.append(recovered_event(state, snapshot(), None).id)
    assert [e.id for e in published_events(state, entries)] == published


def test_a_converted_cart_has_its_conversion_event_and_a_gone_abandonment_has_none() -> None:
    result = apply_webhooks(None, [event(WebhookKind.CREATED, T0), event(WebhookKind.CONVERTED, T0 + 9)])
    entry = webhook_transition(result, [event(WebhookKind.CONVERTED, T0 + 9)])
    assert [e.id for e in published_events(result.after, [entry])] == [converted_event(result.after, None).id]  # type: ignore[list-item]
    state = CartState("abc123", "cart-1", CartStatus.ACTIVE, T0, T0)
    abandoned = sweep(state, T0 + 3600, STAGES)
    entries = [
        sweep_transition(abandoned, T0 + 3600, idle_known=False),
        history.gone(abandoned.after, T0 + 3610),
    ]
    assert published_events(abandoned.after, entries) == []  # type: ignore[arg-type]


def test_the_history_keeps_its_latest_entries() -> None:
    entries: tuple[Transition, ...] = ()
    for n in range(history.HISTORY_LIMIT + 5):
        entries = history.append(entries, Transition(T0 + n, CartStatus.ABANDONED, 1, "sweep"))
    assert len(entries) == history.HISTORY_LIMIT
    assert entries[-1].at == T0 + history.HISTORY_LIMIT + 4
