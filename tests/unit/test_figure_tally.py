"""The figure tally: a store's daily figures match a brute-force count over its stored carts.

Carts of two stores live through the real services — processor, sweep, publisher (with a
BigCommerce answering in several currencies) — on the in-memory cart store, whose ``stream``
is the table's stream.  The tally folds that stream in arbitrary windows (some retried, some
refused half-way) into in-memory counters; whatever the windows, the figures of every day
equal a count over the carts as finally stored, per currency, computed here from the stored
fields with the API's documented meaning.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.memory_cart_store import MemoryCartStore
from tests.memory_daily_counters import CounterRefused, MemoryDailyCounters
from tests.unit.pipeline_fakes import HOUR, PLANNER, T0, BigCommerce, Sns, Stores, clients, fixture

from cartwatch.domain.cart import CartSnapshot, OrderSummary
from cartwatch.domain.cart_record import CartRecord, Tombstone
from cartwatch.domain.cart_views import store_stats
from cartwatch.domain.cart_webhooks import CartWebhook, WebhookKind
from cartwatch.domain.daily_figures import change, contribution, day_of, period_figures
from cartwatch.domain.eligibility import EligibilityRules
from cartwatch.domain.lifecycle import CartStatus
from cartwatch.service.figure_tally import FigureTally, Pending, TallyReport
from cartwatch.service.processing import CartProcessor
from cartwatch.service.publishing import OutboxRelay
from cartwatch.service.sweeping import AbandonmentSweep

K = WebhookKind
MINUTE = 60
TICK = 15 * MINUTE
DAYS = 4
STORES = ("s1", "s2")
FATES = ("walk", "buy", "buy_late", "delete", "return", "return_buy")
CURRENCIES = ("USD", "EUR", "JPY")


@dataclass(frozen=True)
class Life:
    """One shopper's cart: when it starts, the clicks after, how it ends, what it is worth."""

    store: str
    cart_id: str
    start: int  # seconds after T0
    gaps: tuple[int, ...]  # minutes between later clicks
    fate: str
    currency: str
    amount: int  # in the currency's minor unit

    def webhooks(self, order_id: int) -> list[CartWebhook]:
        t = T0 + self.start
        hooks = [self._hook(kind, t) for kind in (K.CREATED, K.UPDATED, K.LINE_ITEM_CREATED)]
        for gap in self.gaps:
            t += gap * MINUTE
            hooks.append(self._hook(K.UPDATED, t))
        if self.fate == "buy":
            hooks.append(self._hook(K.CONVERTED, t + 20 * MINUTE, order_id=order_id))
        elif self.fate == "buy_late":
            hooks.append(self._hook(K.CONVERTED, t + 3 * HOUR, order_id=order_id))
        elif self.fate == "delete":
            hooks.append(self._hook(K.DELETED, t + 10 * MINUTE))
        elif self.fate in ("return", "return_buy"):
            hooks.append(self._hook(K.UPDATED, t + 2 * HOUR))
            if self.fate == "return_buy":
                hooks.append(self._hook(K.CONVERTED, t + 5 * HOUR, order_id=order_id))
        return hooks

    def _hook(self, kind: WebhookKind, at: int, **data: Any) -> CartWebhook:
        return CartWebhook(self.store, self.cart_id, kind, at, f"{self.cart_id}:{kind.value}:{at}", **data)


class Shop(BigCommerce):
    """A store's API whose carts and orders are in the shoppers' own currencies."""

    def __init__(self, lives: dict[str, Life], orders: dict[int, Life]) -> None:
        super().__init__()
        self.lives, self.orders = lives, orders

    def get_checkout(self, cart_id: str) -> dict[str, Any] | None:
        self._ask(f"checkout {cart_id}")
        life = self.lives[cart_id]
        checkout = fixture("checkout_guest.json")["data"]
        amount = Decimal(life.amount) / 100
        checkout["cart"] |= {"currency": {"code": life.currency}, "cart_amount_inc_tax": str(amount)}
        return checkout  # type: ignore[no-any-return]

    def get_order(self, order_id: int) -> dict[str, Any] | None:
        self._ask(f"order {order_id}")
        life = self.orders[order_id]
        total = str(Decimal(life.amount + 99) / 100)
        return {
            **fixture("order.json"),
            "id": order_id,
            "default_currency_code": life.currency,
            "currency_code": life.currency,
            "total_inc_tax": total,
        }


lives = st.lists(
    st.builds(
        Life,
        store=st.sampled_from(STORES),
        cart_id=st.just(""),
        start=st.integers(0, (DAYS - 1) * 86400),
        gaps=st.lists(st.integers(1, 50), max_size=3).map(tuple),
        fate=st.sampled_from(FATES),
        currency=st.sampled_from(CURRENCIES),
        amount=st.integers(100, 50_000),
    ),
    min_size=1,
    max_size=10,
).map(lambda found: [Life(**{**life.__dict__, "cart_id": f"c{n}"}) for n, life in enumerate(found)])


def live(found: list[Life], rng: random.Random) -> MemoryCartStore:
    """The carts through the pipeline's services, tick by tick: webhooks delivered late, twice,
    in any order and batch; a sweep every tick; the publisher on every event the stream shows."""
    store = MemoryCartStore()
    stores = Stores(eligibility=EligibilityRules(require_email=False))
    orders = {1000 + n: life for n, life in enumerate(found)}
    shop = Shop({life.cart_id: life for life in found}, orders)
    pending = []
    for order_id, life in orders.items():
        for hook in life.webhooks(order_id):
            arrives = hook.occurred_at + rng.choice((0, 0, TICK, 3 * TICK))
            pending.append((arrives, hook))
            if rng.random() < 0.1:  # delivered again
                pending.append((arrives + rng.randint(0, 4 * TICK), hook))
    relayed = 0
    for tick in range(T0, T0 + (DAYS + 1) * 86400, TICK):
        due = [hook for at, hook in pending if at <= tick]
        pending = [(at, hook) for at, hook in pending if at > tick]
        rng.shuffle(due)
        split = rng.randint(0, len(due))
        clock = float(tick).__float__  # the services' clock: this tick
        for batch in (due[:split], due[split:]):
            if batch:
                CartProcessor(store, PLANNER, stores, check_uninstall=lambda _: None, clock=clock).apply(
                    batch
                )
        AbandonmentSweep(store, PLANNER, stores, clock=clock).run(tick)
        events = [
            after for _, after in store.stream[relayed:] if isinstance(after, CartRecord) and after.outbox
        ]
        relayed = len(store.stream)
        if events:
            OutboxRelay(store, PLANNER, stores, Sns(), clients(shop), clock=clock).relay(events)
    return store


def tally(store: MemoryCartStore, rng: random.Random) -> MemoryDailyCounters:
    """The stream folded in random windows of random batches; some window ends are retried,
    some refused half-way and retried, as Lambda retries a failing final invocation."""
    counters = MemoryDailyCounters()
    figures = FigureTally(counters)
    writes = [(f"{n:08d}", change_) for n, change_ in enumerate(store.stream)]
    position = 0
    while position < len(writes):
        window = writes[position : position + rng.randint(1, 40)]
        position += len(window)
        pending, report = Pending(), TallyReport()
        for start in range(0, len(window), 7):
            # Each invocation's state goes through Lambda as JSON.
            state = figures.fold(
                pending, window[start : start + 7], shard="shard-1", report=report
            ).to_state()
            pending = Pending.from_state(state)
        keys = sorted(pending.figures)
        if keys and rng.random() < 0.3:
            counters.refuse.add(rng.choice(keys))
            try:
                figures.add(pending, shard="shard-1", report=report)
            except CounterRefused:
                pass
            else:
                raise AssertionError("a refused addition was not raised")
        figures.add(pending, shard="shard-1", report=report)
        if rng.random() < 0.3:
            figures.add(pending, shard="shard-1", report=report)  # the final invocation, retried
    return counters


def brute_force(store: MemoryCartStore, store_hash: str) -> dict[str, dict[str, Decimal]]:
    """The API's figures per day, counted over the carts as stored (docs/query-api.md, Stats)."""
    days: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for record in store._carts.values():
        if not isinstance(record, CartRecord) or record.state.store_hash != store_hash:
            continue
        state = record.state
        if state.activity_seen:
            days[day_of(state.cart_created_at)]["created"] += 1
        if state.last_abandoned_stage > 0:
            assert state.abandoned_at is not None
            day = days[day_of(state.abandoned_at)]
            day["abandoned"] += 1
            if record.snapshot:
                snapshot = CartSnapshot.model_validate_json(record.snapshot)
                day[f"abandoned_value_{snapshot.currency}"] += snapshot.totals.cart_amount
            else:
                day["abandoned_unvalued"] += 1
        if state.status in (CartStatus.RECOVERED, CartStatus.CONVERTED):
            assert state.closed_at is not None
            figure = state.status.value
            day = days[day_of(state.closed_at)]
            day[figure] += 1
            order = OrderSummary.model_validate_json(record.order) if record.order else None
            if order is not None and order.total is not None and order.currency:
                day[f"{figure}_value_{order.currency}"] += order.total
            else:
                day[f"{figure}_unvalued"] += 1
    return {
        day: {name: amount for name, amount in figures.items() if amount} for day, figures in days.items()
    }


@settings(max_examples=30, deadline=None)
@given(found=lives, seed=st.integers(0, 2**32 - 1))
def test_the_figures_of_every_day_match_a_brute_force_count_over_the_stored_carts(
    found: list[Life], seed: int
) -> None:
    rng = random.Random(seed)
    store = live(found, rng)
    counters = tally(store, rng)
    first, last = day_of(T0 - 86400), day_of(T0 + (DAYS + 2) * 86400)
    for store_hash in STORES:
        counted = counters.read(store_hash, first, last)
        assert counted == brute_force(store, store_hash)
        # What the query API answers: the range per currency, never summed across currencies.
        stats = store_stats(store_hash, first, last, counted)
        bought = [
            r for r in store._carts.values() if isinstance(r, CartRecord) and r.state.store_hash == store_hash
        ]
        recovered: dict[str, Decimal] = defaultdict(Decimal)
        for record in bought:
            if record.state.status is CartStatus.RECOVERED and record.order:
                order = OrderSummary.model_validate_json(record.order)
                assert order.currency is not None and order.total is not None
                recovered[order.currency] += order.total
        assert {a.currency: a.amount for a in stats.total.recovered.value} == recovered
        assert sum(day.recovered.count for day in stats.days) == stats.total.recovered.count
        created = sum(r.state.activity_seen for r in bought)
        assert stats.total.created == created
        if created:
            assert stats.total.abandonment_rate == round(stats.total.abandoned.count / created, 4)


def test_a_write_changes_the_figures_by_what_the_cart_counts_for_after_it_less_before() -> None:
    rng = random.Random(3)
    found = [
        Life("s1", "a", 0, (5,), "return_buy", "EUR", 1234),
        Life("s1", "b", 600, (), "buy", "USD", 999),
    ]
    store = live(found, rng)
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for before, after in store.stream:
        for day, figures in change(before, after).items():
            for name, amount in figures.items():
                totals[(day, name)] += amount
    expected: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for record in store._carts.values():
        assert isinstance(record, CartRecord)
        for day, figures in contribution(record).items():
            for name, amount in figures.items():
                expected[(day, name)] += amount
    assert {k: v for k, v in totals.items() if v} == {k: v for k, v in expected.items() if v}
    a = store._carts[("s1", "a")]
    assert isinstance(a, CartRecord) and a.state.status is CartStatus.RECOVERED
    # Abandoned twice (before and after the shopper came back): counted once, on the latest.
    assert sum(v for (day, name), v in totals.items() if name == "abandoned") == 1


def test_erasing_a_cart_leaves_the_figures_as_they_were() -> None:
    store = live([Life("s1", "a", 0, (), "buy_late", "USD", 500)], random.Random(1))
    record = store._carts[("s1", "a")]
    assert isinstance(record, CartRecord)
    tombstone = Tombstone("s1", "a", erased_at=T0 + 86400, expires_at=T0 + 40 * 86400)
    assert change(record, tombstone) == {}
    assert change(record, None) == {}
    figures = period_figures(contribution(record).values())
    assert (figures.created, figures.abandoned.count, figures.recovered.count) == (1, 1, 1)


def test_a_recovery_link_copy_counts_for_nothing() -> None:
    store = live([Life("s1", "a", 0, (), "walk", "USD", 500)], random.Random(1))
    record = store._carts[("s1", "a")]
    assert isinstance(record, CartRecord)
    copy = CartRecord(state=record.state, recovery_of="original")
    assert contribution(copy) == {}
    assert change(record, copy) == {
        day: {name: -amount for name, amount in figures.items()}
        for day, figures in contribution(record).items()
    }


def test_a_window_whose_pending_figures_grow_too_large_adds_them_early_and_goes_on() -> None:
    found = [Life(f"s{n % 2 + 1}", f"c{n}", n * 3000, (), "buy_late", "EUR", 700 + n) for n in range(6)]
    store = live(found, random.Random(9))
    counters = MemoryDailyCounters()
    figures = FigureTally(counters, max_pending_bytes=120)  # a few store-days at most
    writes = [(f"{n:08d}", change_) for n, change_ in enumerate(store.stream)]
    pending, report = Pending(), TallyReport()
    for start in range(0, len(writes), 4):
        pending = figures.fold(pending, writes[start : start + 4], shard="s-1", report=report)
        assert pending.size() <= 120 or not pending.figures
    assert counters.writes > 0  # added before the window ended
    figures.add(pending, shard="s-1", report=report)
    first, last = day_of(T0 - 86400), day_of(T0 + 9 * 86400)
    for store_hash in STORES:
        assert counters.read(store_hash, first, last) == brute_force(store, store_hash)
