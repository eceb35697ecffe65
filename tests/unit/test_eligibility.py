"""Eligibility rules: which abandoned carts a store wants announced, and what a skip leaves behind."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.unit.pipeline_fakes import T0, fixture

from cartwatch.domain.bigcommerce_cart import snapshot_from_bigcommerce
from cartwatch.domain.cart import CartSnapshot, Consent, RecoveryLink
from cartwatch.domain.eligibility import EligibilityRules, SkipReason, parse_min_value, skip_reason

REGISTERED = fixture("checkout_registered.json")["data"]  # janedoe@example.com, consented
_GUEST = fixture("checkout_guest.json")["data"]
NO_EMAIL = {**_GUEST, "cart": {**_GUEST["cart"], "email": ""}}  # a guest who never typed one


def snapshot(*, email: str | None, consent: bool | None, amount: Decimal) -> CartSnapshot:
    base = snapshot_from_bigcommerce(REGISTERED, None, [], T0, RecoveryLink(url=None, reason="not_enabled"))
    customer = base.customer.model_copy(
        update={
            "email": email,
            "consent": Consent(abandoned_cart_emails=consent, marketing_newsletter=None, source="unknown"),
        }
    )
    return base.model_copy(
        update={"customer": customer, "totals": base.totals.model_copy(update={"cart_amount": amount})}
    )


emails = st.sampled_from([None, "", "  ", "jane@example.com"])
consents = st.sampled_from([None, False, True])
amounts = st.decimals(min_value=0, max_value=10_000, places=2)
minimums = st.one_of(st.none(), st.decimals(min_value=0, max_value=10_000, places=2))
rules = st.builds(
    EligibilityRules, min_value=minimums, require_email=st.booleans(), require_consent=st.booleans()
)


@given(email=emails, consent=consents, amount=amounts, rule=rules)
def test_a_cart_is_skipped_exactly_when_it_fails_a_rule_and_for_the_first_it_fails(
    email: str | None, consent: bool | None, amount: Decimal, rule: EligibilityRules
) -> None:
    failed = [
        reason
        for reason, fails in (
            (SkipReason.NO_EMAIL, rule.require_email and not (email or "").strip()),
            (SkipReason.NO_CONSENT, rule.require_consent and consent is not True),
            (SkipReason.BELOW_MIN_VALUE, rule.min_value is not None and amount < rule.min_value),
        )
        if fails
    ]
    assert skip_reason(rule, snapshot(email=email, consent=consent, amount=amount)) == (
        failed[0] if failed else None
    )


@given(email=emails, consent=consents, amount=amounts, rule=rules)
def test_relaxing_a_rule_never_skips_a_cart_the_stricter_rules_announced(
    email: str | None, consent: bool | None, amount: Decimal, rule: EligibilityRules
) -> None:
    cart_snapshot = snapshot(email=email, consent=consent, amount=amount)
    if skip_reason(rule, cart_snapshot) is not None:
        return
    for laxer in (
        EligibilityRules(None, rule.require_email, rule.require_consent),
        EligibilityRules(rule.min_value, False, rule.require_consent),
        EligibilityRules(rule.min_value, rule.require_email, False),
    ):
        assert skip_reason(laxer, cart_snapshot) is None


def test_the_defaults_require_an_email_only() -> None:
    assert EligibilityRules() == EligibilityRules(min_value=None, require_email=True, require_consent=False)
    assert skip_reason(EligibilityRules(), snapshot(email=None, consent=True, amount=Decimal(500))) is (
        SkipReason.NO_EMAIL
    )
    assert skip_reason(EligibilityRules(), snapshot(email="a@b.c", consent=None, amount=Decimal(0))) is None


@pytest.mark.parametrize(
    ("text", "expected"), [("10.00", Decimal("10.00")), ("0", Decimal(0)), (" 7.5 ", Decimal("7.5"))]
)
def test_min_value_parses_amounts(text: str, expected: Decimal) -> None:
    assert parse_min_value(text) == expected
    assert EligibilityRules(min_value=Decimal(0)).min_value is None  # 0 is no minimum


@pytest.mark.parametrize("text", ["ten", "-1", "NaN", "Infinity", "0.0000001", "1e13", ""])
def test_min_value_refuses_what_is_not_an_amount(text: str) -> None:
    with pytest.raises(ValueError, match="amount"):
        parse_min_value(text)
