"""The publisher and eligibility: a skipped stage is recorded in the cart's history, never silent."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from tests.memory_cart_store import MemoryCartStore
from tests.unit.pipeline_fakes import HOUR, PLANNER, STORE, T0, BigCommerce, Sns, Stores, clients, fixture
from tests.unit.test_outbox_relay import SWEPT, cart, pipeline, written_with_events

from cartwatch.domain import history
from cartwatch.domain.cart_record import listed_cart
from cartwatch.domain.cart_views import detail_view
from cartwatch.domain.eligibility import EligibilityRules, SkipReason
from cartwatch.domain.event_types import ABANDONED
from cartwatch.domain.lifecycle import CartStatus
from cartwatch.service.publishing import OutboxRelay
from cartwatch.service.sweeping import AbandonmentSweep

REGISTERED = fixture("checkout_registered.json")["data"]  # janedoe@example.com, consented
_GUEST = fixture("checkout_guest.json")["data"]
NO_EMAIL = {**_GUEST, "cart": {**_GUEST["cart"], "email": ""}}  # a guest who never typed one


CASES: list[tuple[str, EligibilityRules, dict[str, Any], SkipReason]] = [
    ("no email", EligibilityRules(), NO_EMAIL, SkipReason.NO_EMAIL),
    (
        "no consent",
        EligibilityRules(require_consent=True),
        _GUEST,  # a guest whose email is no subscriber: consent unknown
        SkipReason.NO_CONSENT,
    ),
    (
        "below the minimum",
        EligibilityRules(min_value=Decimal("100000")),
        REGISTERED,
        SkipReason.BELOW_MIN_VALUE,
    ),
]


def relay(store: MemoryCartStore, sns: Sns, api: BigCommerce, rules: EligibilityRules) -> OutboxRelay:
    stores = Stores(eligibility=rules, recovery_links=True)
    return OutboxRelay(store, PLANNER, stores, sns, clients(api), clock=lambda: SWEPT)


@pytest.mark.parametrize(("name", "rules", "checkout", "reason"), CASES, ids=[c[0] for c in CASES])
def test_each_rule_skips_the_stage_with_its_reason_in_the_history_and_the_report(
    name: str, rules: EligibilityRules, checkout: dict[str, Any], reason: SkipReason
) -> None:
    store, written = pipeline("c1")
    api, sns = BigCommerce(checkouts={"c1": checkout}), Sns()
    errors, report = relay(store, sns, api, rules).relay(written)
    assert errors == [None] and sns.published == [] and report.skipped == {reason.value: 1}
    # No recovery link is made for a cart that will not be announced; the enrichment that
    # judged it is all BigCommerce was asked (at most 3 calls).
    assert "create cart" not in api.asked and api.calls <= 3
    record = cart(store, "c1")
    assert record.state.status is CartStatus.ABANDONED and record.snapshot is not None
    assert record.history[-1].cause == f"skipped:{reason.value}" and record.history[-1].stage == 1
    # `carts show`: the rule in the history, and no event claimed for the stage.
    shown = detail_view(
        listed_cart(record),
        record.state,
        record.history,
        history.published_events(record.state, record.history),
    )
    assert [entry.cause for entry in shown.history][-2:] == ["sweep", f"skipped:{reason.value}"]
    assert shown.events == []

    # Stage 2 judges the kept snapshot: skipped again, without calling BigCommerce.
    calls = api.calls
    AbandonmentSweep(store, PLANNER, Stores(), clock=lambda: T0 + 24 * HOUR).run(T0 + 24 * HOUR)
    stage_two = [r for r in written_with_events(store) if r.outbox is not None and r.outbox.stage == 2]
    _, report = relay(store, sns, api, rules).relay(stage_two)
    assert report.skipped == {reason.value: 1} and sns.published == [] and api.calls == calls


def test_a_cart_passing_every_rule_is_announced_with_its_recovery_link() -> None:
    store, written = pipeline("c1")
    api, sns = BigCommerce(checkouts={"c1": REGISTERED}), Sns()
    rules = EligibilityRules(min_value=Decimal("1.00"), require_email=True, require_consent=True)
    errors, report = relay(store, sns, api, rules).relay(written)
    assert errors == [None] and report.published[ABANDONED] == 1 and not report.skipped
    assert sns.published[0]["data"]["recovery_link"]["url"]
    assert "create cart" in api.asked
    record = cart(store, "c1")
    assert [e.type for e in history.published_events(record.state, record.history)] == [ABANDONED]
    assert record.state.store_hash == STORE
