"""The shopper behind a cart: reminders per shopper, and none once they bought.

BigCommerce's cart webhooks carry ids only, so who the shopper is becomes known when the
publisher enriches a cart: its stage-1 snapshot (the customer, the email) or a purchase's
order (``customer_id``, the billing email).  Per store a shopper is named by a *key*: the
customer id of a logged-in shopper, else the normalized email once one is known — hashed,
because the key is an index partition and partition keys travel where an address should
not (CloudTrail data events, call logs).  A cart with neither has no shopper and is reminded
about as a cart of its own, as it always was.

Two rules follow (``docs/architecture.md``, decision 56):

* **A purchase stops the shopper's other series.**  When one of a shopper's carts is bought,
  every other open cart of theirs whose last activity is no later than the purchase stops
  its abandonment series (``lifecycle.stop_series``): no further stage is announced, and its
  history names the cart that was bought.  Activity after the purchase starts a new series.
* **One announcement per stage per shopper** (a store's ``reminders``: ``per_shopper``, the
  default, or ``per_cart``).  Of a shopper's open carts, only the most recently active one
  its store would announce is announced; an older cart's stage is skipped, with the newer
  cart in its history.  And a stage the shopper was already reminded of — another cart of
  theirs, still abandoned, announced it while this one existed — is not announced again.

Pure: no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from cartwatch.domain.eligibility import SKIPPED_PREFIX
from cartwatch.domain.lifecycle import CartState, CartStatus, stop_series
from cartwatch.domain.listing import normalize_email

BOUGHT = (CartStatus.CONVERTED, CartStatus.RECOVERED)
# The most carts of one shopper read for a decision (the latest recorded): the cost of an
# event stays bounded even if many carts share a key (guests all typing one address).
SHOPPER_CARTS_READ = 25
# Enough to hold hash collisions out of reach (128 bits) while keeping the key short.
_EMAIL_DIGEST_CHARS = 32


class ReminderScope(StrEnum):
    """How a store announces the abandoned carts of one shopper (``stores add|update --reminders``)."""

    # Only the shopper's most recently active open cart is announced for a stage.
    PER_SHOPPER = "per_shopper"
    # Every cart is announced on its own (a purchase still stops the shopper's other carts).
    PER_CART = "per_cart"


DEFAULT_REMINDERS = ReminderScope.PER_SHOPPER


def shopper_key(customer_id: int | None, email: str | None) -> str | None:
    """A shopper's key within a store: ``c:<customer id>``, else ``e:<digest of the email>``."""
    if customer_id is not None and customer_id > 0:
        return f"c:{customer_id}"
    normalized = normalize_email(email) if email else ""
    if not normalized:
        return None
    return "e:" + hashlib.sha256(normalized.encode()).hexdigest()[:_EMAIL_DIGEST_CHARS]


class ShopperSkip(StrEnum):
    """Why a shopper's cart was not announced for a stage (``CartsSkipped``'s ``reason``)."""

    # Another open cart of the shopper was active later (``per_shopper``).
    NEWER_CART = "newer_cart"
    # Another abandoned cart of the shopper announced this stage already (``per_shopper``).
    SHOPPER_REMINDED = "shopper_reminded"
    # The shopper bought with another cart after this cart's last activity.
    SHOPPER_BOUGHT = "shopper_bought"

    @property
    def cause(self) -> str:
        """The history entry's cause, without the other cart."""
        return f"{SKIPPED_PREFIX}{self.value}"


@dataclass(frozen=True)
class ShopperVerdict:
    """A stage not to announce, and the other cart that decided it (when one did)."""

    reason: ShopperSkip
    other_cart: str | None = None

    @property
    def cause(self) -> str:
        """The history entry's cause: ``skipped:<reason>[:<other cart>]``."""
        cause = self.reason.cause
        return cause if self.other_cart is None else f"{cause}:{self.other_cart}"


@dataclass(frozen=True)
class Sibling:
    """Another cart of the same shopper, as it is stored now.

    ``announceable``: its store would announce it — its snapshot passes the eligibility
    rules.  A newer cart the store would never announce does not silence an older one.
    ``announced``: the stages of its current abandonment that went out, and when
    (``history.announced_stages``).
    """

    state: CartState
    announceable: bool = True
    announced: Mapping[int, int] = field(default_factory=dict)


def bought_since(cart: CartState, idle_since: int) -> bool:
    """The cart's series idle since ``idle_since`` was stopped by the shopper's purchase of another cart."""
    return cart.shopper_bought_at is not None and cart.shopper_bought_at >= idle_since


def announcement(
    cart: CartState, idle_since: int, siblings: Iterable[Sibling], scope: ReminderScope, stage: int = 0
) -> ShopperVerdict | None:
    """Whether ``stage`` of ``cart`` — of its abandonment idle since ``idle_since`` — is announced.

    ``cart`` is the cart as stored now, ``siblings`` the shopper's other carts.  None: it is.
    Otherwise the verdict says why not: the shopper bought since ``idle_since`` (this cart —
    its stage was committed before the purchase —, another cart, or a purchase that stopped
    this cart's series); or, per shopper, another open cart was active later (ties go to the
    greater cart id, so of two carts exactly one is announced), or another abandoned cart
    announced this stage while this one existed.
    """
    if bought_since(cart, idle_since):
        return ShopperVerdict(ShopperSkip.SHOPPER_BOUGHT)
    others = [s for s in siblings if s.state.cart_id != cart.cart_id]
    for bought in (cart, *(other.state for other in others)):
        if bought.status in BOUGHT and bought.closed_at is not None and bought.closed_at >= idle_since:
            return ShopperVerdict(ShopperSkip.SHOPPER_BOUGHT, bought.cart_id)
    if scope is ReminderScope.PER_CART:
        return None
    live = [
        other
        for other in others
        if other.state.status.is_open and not other.state.suppressed and not other.state.series_stopped
    ]
    mine = (cart.last_activity_at, cart.cart_id)
    newer = [
        other.state
        for other in live
        if other.announceable and (other.state.last_activity_at, other.state.cart_id) > mine
    ]
    if newer:
        latest = max(newer, key=lambda state: (state.last_activity_at, state.cart_id))
        return ShopperVerdict(ShopperSkip.NEWER_CART, latest.cart_id)
    for other in live:
        announced_at = other.announced.get(stage)
        if announced_at is not None and announced_at >= cart.cart_created_at:
            return ShopperVerdict(ShopperSkip.SHOPPER_REMINDED, other.state.cart_id)
    return None


def stopped_by_purchase(bought: CartState, siblings: Iterable[CartState]) -> list[CartState]:
    """The shopper's other carts whose series the purchase of ``bought`` stops — as stopped.

    Carts already stopped by it (or by a later purchase), closed, or active since the
    purchase are left out: nothing to write for them.
    """
    if bought.status not in BOUGHT or bought.closed_at is None:
        return []
    stopped = []
    for other in siblings:
        if other.cart_id == bought.cart_id:
            continue
        after = stop_series(other, bought.closed_at)
        if after != other:
            stopped.append(after)
    return stopped
