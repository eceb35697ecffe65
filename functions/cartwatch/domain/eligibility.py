"""A store's eligibility rules: which abandoned carts are worth a reminder.

A merchant does not want reminders for trivial carts, for shoppers nobody can write to, or
— where the law or the store's policy asks for it — for shoppers who did not consent to
abandoned-cart emails.  The rules are judged on the cart as captured at abandonment (the
snapshot: totals, customer, consent), so they cost no BigCommerce call of their own.  A cart
that fails one is *skipped* for that stage, with the rule it failed recorded in its history
(``skipped:<reason>``) — never silently dropped.

Defaults (a store that never set them): no minimum value, an email required (a reminder
without an address reaches nobody), consent not required (BigCommerce's own consent
settings are the merchant's to enforce; many stores send cart reminders as transactional).

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the receiver imports the store settings: no pydantic on its cold start
    from cartwatch.domain.cart import CartSnapshot

SKIPPED_PREFIX = "skipped:"
_MICRO = Decimal("0.000001")


class SkipReason(StrEnum):
    """The rule a cart failed, as its history and the ``CartsSkipped`` metric name it."""

    NO_EMAIL = "no_email"
    NO_CONSENT = "no_consent"
    BELOW_MIN_VALUE = "below_min_value"

    @property
    def cause(self) -> str:
        """The history entry's cause."""
        return f"{SKIPPED_PREFIX}{self.value}"


@dataclass(frozen=True)
class EligibilityRules:
    # Carts whose total (``totals.cart_amount``, in the cart's own currency) is below this
    # are skipped; None: no minimum.
    min_value: Decimal | None = None
    require_email: bool = True
    # Consent to abandoned-cart emails, as BigCommerce reports it (a subscriber's
    # ``abandoned_cart`` consent, else a registered customer's flag); unknown is no consent.
    require_consent: bool = False

    def __post_init__(self) -> None:
        if self.min_value is not None and (not self.min_value.is_finite() or self.min_value < 0):
            raise ValueError("the minimum value must be a non-negative amount")
        if self.min_value == 0:
            object.__setattr__(self, "min_value", None)  # a minimum of 0 is no minimum

    def describe(self) -> str:
        """One line for `cartwatch stores show`."""
        minimum = f"min value {self.min_value}" if self.min_value is not None else "no min value"
        email = "email required" if self.require_email else "email not required"
        consent = "consent required" if self.require_consent else "consent not required"
        return f"{minimum}, {email}, {consent}"


def parse_min_value(text: str) -> Decimal:
    """``--min-value 10.00`` (``0``: no minimum); ValueError says why not."""
    stripped = text.strip()
    try:
        value = Decimal(stripped)
    except ArithmeticError:
        raise ValueError(f"{text!r} is not an amount (e.g. 10.00)") from None
    if not value.is_finite() or value < 0 or value > 10**12 or value != value.quantize(_MICRO):
        raise ValueError(f"{text!r} is not an amount between 0 and 10^12 with at most 6 decimals")
    return value


def skip_reason(rules: EligibilityRules, snapshot: CartSnapshot) -> SkipReason | None:
    """The first rule the cart fails (email, consent, value — the order a merchant reads them), or None."""
    customer = snapshot.customer
    if rules.require_email and not (customer.email or "").strip():
        return SkipReason.NO_EMAIL
    if rules.require_consent and customer.consent.abandoned_cart_emails is not True:
        return SkipReason.NO_CONSENT
    if rules.min_value is not None and snapshot.totals.cart_amount < rules.min_value:
        return SkipReason.BELOW_MIN_VALUE
    return None
