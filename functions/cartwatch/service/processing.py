"""Processing: intake messages → one conditional write per cart per batch.

For a batch of intake messages: parse each (a body that is not a webhook is poison and
fails alone), group the cart webhooks by cart, fold each cart's webhooks into its stored
state with the pure lifecycle, and write each changed cart once, guarded by its version.
A lost race re-reads and re-applies (the fold is order-independent, so re-applying is
always right).  Duplicates and stale webhooks cost no write at all.

An erased cart's tombstone is honoured: its webhooks are dropped (outcome ``erased``), so a
cart a merchant erased is never recreated with personal data; the tombstone's TTL is
stretched while BigCommerce keeps the cart alive.

``store/app/uninstalled`` purges nothing here: it only asks the purge job to have BigCommerce
confirm it (``service/uninstall.py``), one request per store per batch.  Webhooks still in
flight for a store already uninstalled are dropped (outcome ``store_uninstalled``), so they
cannot recreate carts its purge deleted.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cartwatch.adapters.store_registry import StoreDirectory
from cartwatch.domain.cart_record import CartRecord, CartRef, Tombstone
from cartwatch.domain.cart_store import CartStore
from cartwatch.domain.cart_webhooks import WebhookKind
from cartwatch.domain.history import webhook_transition
from cartwatch.domain.lifecycle import WebhookResult, apply_webhooks
from cartwatch.domain.stages import CART_LIFETIME_SECONDS
from cartwatch.domain.store import StoreStatus
from cartwatch.domain.webhooks import (
    AppUninstalled,
    CartWebhook,
    IgnoredWebhook,
    NotAWebhook,
    Webhook,
    parse_webhook,
)
from cartwatch.domain.write_plan import Conflict, conversion_event
from cartwatch.domain.write_planner import WritePlanner

logger = logging.getLogger(__name__)


_MAX_ATTEMPTS = 4
# A tombstone's TTL is pushed out only when a webhook would extend it by more than this,
# so an erased cart still in use costs at most one write a day.
_TOMBSTONE_SLACK_SECONDS = 86400


class PoisonMessage(ValueError):
    """An intake message that can never be processed; it belongs in the DLQ."""


def parse_intake_message(body: str) -> Webhook:
    """The intake queue's message (see ``service.intake.intake_message``) → a webhook."""
    try:
        envelope = json.loads(body)
        raw, store_hash = envelope["body"], envelope["store_hash"]
        webhook_id = envelope.get("webhook_id")
    except (ValueError, KeyError, TypeError):
        raise PoisonMessage("intake message is not a cartwatch envelope") from None
    try:
        webhook = parse_webhook(raw, webhook_id)
    except NotAWebhook as error:
        raise PoisonMessage(f"not a BigCommerce webhook: {error}") from None
    if webhook.store_hash != store_hash:
        raise PoisonMessage("producer does not match the store the delivery was addressed to")
    return webhook


@dataclass
class BatchReport:
    """What one batch did, for metrics and logs."""

    outcomes: Counter[str] = field(default_factory=Counter)
    carts_written: int = 0
    conflicts_retried: int = 0
    conversions: int = 0
    uninstalls_to_check: int = 0


class CartContention(RuntimeError):
    """Other writers kept winning the race for one cart; the batch retries it later."""


class CartProcessor:
    def __init__(
        self,
        carts: CartStore,
        planner: WritePlanner,
        stores: StoreDirectory,
        *,
        check_uninstall: Callable[[str], object],
        on_result: Callable[[WebhookResult], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._carts = carts
        self._planner = planner
        self._stores = stores
        self._check_uninstall = check_uninstall
        self._on_result = on_result
        self._clock = clock

    def apply(self, webhooks: Sequence[Webhook]) -> tuple[list[BaseException | None], BatchReport]:
        """Apply a batch; returns, per webhook, None (done) or the error that failed it."""
        report = BatchReport()
        errors: list[BaseException | None] = [None] * len(webhooks)
        by_cart: dict[CartRef, list[int]] = defaultdict(list)
        uninstalls: dict[str, list[int]] = defaultdict(list)
        uninstalled = _UninstalledStores(self._stores)
        for index, webhook in enumerate(webhooks):
            if isinstance(webhook, CartWebhook):
                if uninstalled(webhook.store_hash):
                    report.outcomes["store_uninstalled"] += 1
                    continue
                by_cart[(webhook.store_hash, webhook.cart_id)].append(index)
            elif isinstance(webhook, IgnoredWebhook):
                report.outcomes["ignored"] += 1
            elif isinstance(webhook, AppUninstalled):
                uninstalls[webhook.store_hash].append(index)
        for store_hash, indexes in uninstalls.items():
            try:
                self._check_uninstall(store_hash)
                report.uninstalls_to_check += 1
            except Exception as error:  # noqa: BLE001 — reported per record, retried by SQS
                for i in indexes:
                    errors[i] = error
        if by_cart:
            stored = self._carts.load_many(by_cart)
            for ref, indexes in by_cart.items():
                cart_webhooks = [w for i in indexes if isinstance(w := webhooks[i], CartWebhook)]
                try:
                    self._apply_cart(ref, cart_webhooks, stored.get(ref), report)
                except Exception as error:  # noqa: BLE001 — one cart's failure must not fail the others
                    logger.warning("cart write failed", extra={"cart_id": ref[1], "store_hash": ref[0]})
                    for i in indexes:
                        errors[i] = error
        return errors, report

    def _apply_cart(
        self,
        ref: CartRef,
        cart_webhooks: list[CartWebhook],
        stored: CartRecord | Tombstone | None,
        report: BatchReport,
    ) -> None:
        for _attempt in range(_MAX_ATTEMPTS):
            if isinstance(stored, Tombstone):
                self._refuse_erased(stored, cart_webhooks, report)
                return
            if stored is not None and stored.recovery_of is not None:
                self._apply_copy(ref, stored, cart_webhooks, report)
                return
            result = apply_webhooks(stored.state if stored else None, cart_webhooks)
            if not result.changed:
                break
            event = conversion_event(result)
            plan = self._planner.revision(
                stored,
                result.after,
                self._stores.stages_for(ref[0], result.after.channel_id),
                recorded_at=int(self._clock()),
                event=event,
                entry=webhook_transition(result, cart_webhooks),
                list_active=self._stores.lists_active(ref[0]),
            )
            written = self._carts.apply(plan)
            if not isinstance(written, Conflict):
                report.carts_written += 1
                report.conversions += 1 if event else 0
                if self._on_result:
                    self._on_result(result)
                break
            report.conflicts_retried += 1
            # The failed condition brought the stored cart; a failed put does not say what is there.
            stored = written.current if written.current is not None else self._carts.load(*ref)
        else:
            raise CartContention(f"cart {ref[1]} kept changing during processing; SQS will retry it")
        for _key, outcome in result.outcomes:
            report.outcomes[outcome.value] += 1

    def _apply_copy(
        self,
        ref: CartRef,
        stored: CartRecord | Tombstone | None,
        cart_webhooks: list[CartWebhook],
        report: BatchReport,
    ) -> None:
        """Webhooks of a recovery-link copy: tracked, never scheduled; its purchase recovers the original.

        The original's conversion is applied first: if saving the copy then fails, the SQS
        retry applies it again, which the lifecycle's join makes a no-op.
        """
        for _attempt in range(_MAX_ATTEMPTS):
            if not isinstance(stored, CartRecord) or stored.recovery_of is None:
                raise CartContention(f"recovery copy {ref[1]} changed kind during processing")
            result = apply_webhooks(stored.state, cart_webhooks)
            if not result.changed:
                break
            if result.conversion is not None:
                purchase = CartWebhook(
                    store_hash=ref[0],
                    cart_id=stored.recovery_of,
                    kind=WebhookKind.CONVERTED,
                    occurred_at=result.conversion.converted_at,
                    dedupe_key=f"recovery-copy:{ref[1]}",
                    order_id=result.conversion.order_id,
                )
                original = (ref[0], stored.recovery_of)
                self._apply_cart(original, [purchase], self._carts.load(*original), report)
            plan = self._planner.revision(
                stored,
                result.after,
                self._stores.stages_for(ref[0], result.after.channel_id),
                recorded_at=int(self._clock()),
                scheduled=False,
            )
            if not isinstance(self._carts.apply(plan), Conflict):
                report.carts_written += 1
                break
            report.conflicts_retried += 1
            stored = self._carts.load(*ref)
        else:
            raise CartContention(f"recovery copy {ref[1]} kept changing during processing; SQS will retry it")

    def _refuse_erased(
        self, erased: Tombstone, cart_webhooks: list[CartWebhook], report: BatchReport
    ) -> None:
        report.outcomes["erased"] += len(cart_webhooks)
        keep_until = max(webhook.occurred_at for webhook in cart_webhooks) + CART_LIFETIME_SECONDS
        if keep_until > erased.expires_at + _TOMBSTONE_SLACK_SECONDS:
            self._carts.extend_tombstone(erased, keep_until)


class _UninstalledStores:
    """Whether a batch's store is uninstalled, asked once per store per batch.

    A cached "uninstalled" is read again past the cache: a store re-installed a moment ago
    must not lose its first webhooks to a warm processor's memory of the old uninstall.
    """

    def __init__(self, stores: StoreDirectory) -> None:
        self._stores = stores
        self._known: dict[str, bool] = {}

    def __call__(self, store_hash: str) -> bool:
        known = self._known.get(store_hash)
        if known is None:
            settings = self._stores.get(store_hash)
            if settings is not None and settings.status is StoreStatus.UNINSTALLED:
                settings = self._stores.refresh(store_hash)
            known = settings is not None and settings.status is StoreStatus.UNINSTALLED
            self._known[store_hash] = known
        return known
