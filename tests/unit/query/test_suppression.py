"""Suppression in the pure lifecycle: no more stages, whatever the shopper does."""

from __future__ import annotations

from cartwatch.domain.lifecycle import (
    CartState,
    CartStatus,
    SweepAction,
    apply_webhooks,
    next_due_at,
    suppress,
    sweep,
)
from cartwatch.domain.stages import StageSchedule
from cartwatch.domain.webhooks import CartWebhook, WebhookKind

STAGES = StageSchedule.parse("1h,24h,48h")
T0 = 1_700_000_000


def test_a_suppressed_cart_is_never_due_and_never_swept_into_a_stage() -> None:
    abandoned = sweep(CartState("s", "c", CartStatus.ACTIVE, T0, T0), T0 + 3600, STAGES).after
    suppressed = suppress(abandoned, T0 + 4000)
    assert suppress(suppressed, T0 + 9999) == suppressed  # idempotent: the first time stays
    assert next_due_at(suppressed, STAGES) is None
    assert sweep(suppressed, T0 + 2 * 86400, STAGES).action is SweepAction.DROP
    back = apply_webhooks(suppressed, [CartWebhook("s", "c", WebhookKind.UPDATED, T0 + 5000, "wh:1")])
    assert back.after.status is CartStatus.ACTIVE and back.after.suppressed
    assert next_due_at(back.after, STAGES) is None
    bought = apply_webhooks(back.after, [CartWebhook("s", "c", WebhookKind.CONVERTED, T0 + 6000, "wh:2")])
    assert bought.after.status is CartStatus.RECOVERED and bought.conversion is not None
