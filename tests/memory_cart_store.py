"""An in-memory cart store with the DynamoDB adapter's atomic conditions, for the unit tier.

Each write plan is applied under one lock, if its guard holds (``write_plan.admits``), with
the adapter's meaning: a revision changes only the fields in which it differs from the
cart its writer read (so what a non-versioned write recorded in between survives), a patch
sets its fields and appends its history entry, and every write without an event clears the
outbox.  ``tests/cart_store_contract.py`` holds both stores to the same behaviour.

The due index is a view of the stored carts; ``serve_index`` freezes what it shows, as an
eventually consistent index read may show entries the table has moved on from, and
``serve_stale`` makes the batch read (``load_many``) show a cart older than the stored one.
``stream`` is the table's stream: every write, the cart before and after it, in order.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import fields, replace
from typing import Any

from cartwatch.domain.cart_record import (
    PARKED_SHARD,
    CartRecord,
    CartRef,
    CartSummary,
    DueEntry,
    DueSlot,
    Tombstone,
)
from cartwatch.domain.lifecycle import CartState
from cartwatch.domain.shopper import SHOPPER_CARTS_READ
from cartwatch.domain.write_plan import (
    Conflict,
    Deferred,
    DueAt,
    Parked,
    Patch,
    Redriven,
    Released,
    Revision,
    Unscheduled,
    WritePlan,
    admits,
)

_STATE_FIELDS = [f.name for f in fields(CartState) if f.name != "version"]
_SUMMARY_FIELDS = [f.name for f in fields(CartSummary)]
_RECORD_FIELDS = [f.name for f in fields(CartRecord) if f.name not in ("state", "summary", "outbox")]


class MemoryCartStore:
    def __init__(self, *records: CartRecord) -> None:
        self._carts: dict[CartRef, CartRecord | Tombstone] = {record.ref: record for record in records}
        self._lock = threading.Lock()
        self._frozen_index: list[DueEntry] | None = None
        self.applied: list[WritePlan] = []  # every plan that was written, in order
        self.conflicts: list[WritePlan] = []  # every plan whose guard did not hold
        # Every write as the table's stream shows it (NEW_AND_OLD_IMAGES): before, after.
        self.stream: list[tuple[CartRecord | Tombstone | None, CartRecord | Tombstone]] = []
        self.loads = 0  # strongly consistent reads of one cart (``load``)
        self._stale: dict[CartRef, CartRecord | Tombstone | None] = {}

    # --- reads ---------------------------------------------------------------------------------

    def load(self, store_hash: str, cart_id: str) -> CartRecord | Tombstone | None:
        with self._lock:
            self.loads += 1
            return self._carts.get((store_hash, cart_id))

    def load_many(self, refs: Iterable[CartRef]) -> dict[CartRef, CartRecord | Tombstone]:
        with self._lock:
            seen = {
                ref: self._stale.pop(ref) if ref in self._stale else self._carts.get(ref)
                for ref in dict.fromkeys(refs)
            }
            return {ref: cart for ref, cart in seen.items() if cart is not None}

    def serve_stale(self, ref: CartRef, cart: CartRecord | Tombstone | None) -> None:
        """Make the next batch read of ``ref`` show ``cart`` (None: not there), whatever is stored."""
        with self._lock:
            self._stale[ref] = cart

    def due_entries(self, shard: str, now: int, page_size: int = 200) -> Iterator[list[DueEntry]]:
        due = sorted(
            (e for e in self.index_entries() if e.due.shard == shard and e.due.at <= now),
            key=lambda e: (e.due.at, e.cart_id),
        )
        for start in range(0, max(len(due), 1), page_size):
            yield due[start : start + page_size]

    def outbox_entries(self, shard: str, due_by: int, page_size: int = 100) -> Iterator[list[CartRef]]:
        with self._lock:
            slots = sorted(
                (r.unpublished.due, r.ref)
                for r in self._carts.values()
                if isinstance(r, CartRecord)
                and r.unpublished is not None
                and r.unpublished.shard == shard
                and r.unpublished.due <= due_by
            )
        refs = [ref for _, ref in slots]
        for start in range(0, max(len(refs), 1), page_size):
            yield refs[start : start + page_size]

    def shopper_carts(self, store_hash: str, key: str, limit: int = SHOPPER_CARTS_READ) -> list[CartRef]:
        with self._lock:
            slots = sorted(
                (
                    (r.shopper.at, r.ref)
                    for r in self._carts.values()
                    if isinstance(r, CartRecord)
                    and r.shopper is not None
                    and r.shopper.key == key
                    and r.state.store_hash == store_hash
                ),
                reverse=True,
            )
        return [ref for _, ref in slots[:limit]]

    def index_entries(self) -> list[DueEntry]:
        """What the due index shows now (the frozen view, if one is served)."""
        with self._lock:
            if self._frozen_index is not None:
                return list(self._frozen_index)
            return [
                DueEntry(
                    r.state.store_hash,
                    r.state.cart_id,
                    r.state.status,
                    r.state.stage,
                    r.due,
                    r.state.abandoned_at,
                    r.state.channel_id,
                )
                for r in self._carts.values()
                if isinstance(r, CartRecord) and r.due is not None
            ]

    def serve_index(self, entries: list[DueEntry] | None) -> None:
        """Make ``due_entries`` show ``entries`` (None: the live view again)."""
        with self._lock:
            self._frozen_index = None if entries is None else list(entries)

    # --- writes --------------------------------------------------------------------------------

    def apply(self, plan: WritePlan) -> CartRecord | Conflict:
        with self._lock:
            current = self._carts.get(plan.ref)
            if not admits(plan.guard, current):
                self.conflicts.append(plan)
                if isinstance(plan, Revision) and plan.base is None:
                    return Conflict(current=None)  # a failed put says nothing about what is there
                return Conflict(current=current if isinstance(current, CartRecord) else None)
            if isinstance(plan, Revision):
                written = plan.record if plan.base is None else _revise(current, plan.base, plan.record)
            else:
                written = _patch(current, plan)
            self._carts[plan.ref] = written
            self.applied.append(plan)
            self.stream.append((current, written))
            return written

    def erase(self, tombstone: Tombstone) -> bool:
        with self._lock:
            ref = (tombstone.store_hash, tombstone.cart_id)
            erased = self._carts.get(ref)
            if not isinstance(erased, CartRecord):
                return False
            self._carts[ref] = tombstone
            self.stream.append((erased, tombstone))
            return True

    def extend_tombstone(self, tombstone: Tombstone, expires_at: int) -> None:
        with self._lock:
            ref = (tombstone.store_hash, tombstone.cart_id)
            stored = self._carts.get(ref)
            if isinstance(stored, Tombstone) and stored.expires_at < expires_at:
                self._carts[ref] = extended = replace(stored, expires_at=expires_at)
                self.stream.append((stored, extended))


def _changed(before: Any, after: Any, names: list[str]) -> dict[str, Any]:
    return {name: getattr(after, name) for name in names if getattr(before, name) != getattr(after, name)}


def _revise(current: Any, base: CartRecord, record: CartRecord) -> CartRecord:
    stored: CartRecord = current
    state = replace(
        stored.state, **_changed(base.state, record.state, _STATE_FIELDS), version=stored.state.version + 1
    )
    summary = replace(stored.summary, **_changed(base.summary, record.summary, _SUMMARY_FIELDS))
    return replace(
        stored, **_changed(base, record, _RECORD_FIELDS), state=state, summary=summary, outbox=record.outbox
    )


def _patch(current: Any, plan: Patch) -> CartRecord:
    record: CartRecord = current
    state = record.state
    if plan.state is not None:
        patch = plan.state
        state = replace(state, status=patch.status, stage=patch.stage)
        for name in ("last_abandoned_stage", "abandoned_at", "closed_at"):
            if getattr(patch, name) is not None:
                state = replace(state, **{name: getattr(patch, name)})
    if plan.new_version:
        state = replace(state, version=state.version + 1)
    changes: dict[str, Any] = {"state": state, "outbox": plan.outbox}
    if plan.expires_at is not None:
        changes["expires_at"] = plan.expires_at
    if isinstance(plan.schedule, DueAt):
        changes["due"] = DueSlot(record.due.shard, plan.schedule.at) if record.due is not None else None
    elif isinstance(plan.schedule, Unscheduled):
        changes["due"] = None
    if plan.history is not None:
        changes["history"] = (*record.history, plan.history)  # appended, never trimmed
    if plan.listing is not None and not (plan.listing.keep_earlier and record.listed_at is not None):
        changes["listed_at"] = plan.listing.at
        changes["listed_activity_at"] = record.state.last_activity_at  # the item's value, before the write
    if plan.details is not None:
        details = plan.details
        for name in ("snapshot", "order", "recovery_of", "shopper"):
            if getattr(details, name) is not None:
                changes[name] = getattr(details, name)
        if details.summary is not None:
            # As the table stores them: an empty email or currency is no value.
            given = {f: v for f in _SUMMARY_FIELDS if (v := getattr(details.summary, f)) not in (None, "")}
            changes["summary"] = replace(record.summary, **given)
    if plan.unpublished is not None:
        changes["unpublished"] = plan.unpublished
    slot = record.unpublished
    match plan.slot:
        case Released():
            changes["unpublished"] = None
        case Parked(reason) if slot is not None:
            changes["unpublished"] = replace(slot, shard=PARKED_SHARD, parked=reason)
        case Deferred(until) if slot is not None:
            changes["unpublished"] = replace(slot, due=until)
        case Redriven(shard, at) if slot is not None:
            changes["unpublished"] = replace(slot, shard=shard, due=at, parked=None)
    return replace(record, **changes)
