"""CartRepository: cart state in DynamoDB, every transition a conditional write.

The core decides a transition; the condition expression makes it atomic.  A failed
condition is a domain outcome (``Conflict``: someone else changed the cart first), not
an exception for callers to untangle.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from cartwatch.adapters.cart_items import (
    HISTORY,
    LISTING_KEY,
    MODIFIED_AT,
    ORDER,
    RECOVERY_OF,
    STATE_SK,
    TOMBSTONE_KIND,
    Item,
    StoredCart,
    cart_key,
    cart_pk,
    changed_attributes,
    due_shard,
    history_value,
    is_tombstone,
    listing_attributes,
    listing_key,
    state_attributes,
    stored_cart_from_item,
    tombstone_item,
    update_expression,
)
from cartwatch.domain.history import Transition, append
from cartwatch.domain.lifecycle import CartState, CartStatus, next_due_at
from cartwatch.domain.stages import CART_LIFETIME_SECONDS, StageSchedule
from cartwatch.resources import DUE_INDEX, PENDING_EVENT_ATTRIBUTE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CartRef = tuple[str, str]  # (store_hash, cart_id)
Loaded = tuple[StoredCart, Item]  # a cart as stored, and its raw item

_BATCH_GET_LIMIT = 100


@dataclass(frozen=True)
class PendingEvent:
    """An event intent written with the transition that causes it (the stream is the outbox)."""

    type: str
    at: int
    stage: int = 0
    stage_count: int = 0

    def to_json(self) -> str:
        return json.dumps(
            {"type": self.type, "at": self.at, "stage": self.stage, "stage_count": self.stage_count},
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> PendingEvent:
        raw = json.loads(text)
        return cls(
            type=raw["type"], at=int(raw["at"]), stage=int(raw["stage"]), stage_count=int(raw["stage_count"])
        )


@dataclass(frozen=True)
class Conflict:
    """The conditional write lost: the stored cart is not what the caller based it on.

    ``current`` is the stored item DynamoDB returned with the failure, when it did.
    """

    current: tuple[StoredCart, Item] | None


@dataclass(frozen=True)
class Erased:
    """An erased cart's tombstone: webhooks for it are refused until ``expires_at``."""

    store_hash: str
    cart_id: str
    expires_at: int


@dataclass
class DueEntry:
    """One due-index entry, with the attributes the index projects."""

    store_hash: str
    cart_id: str
    status: CartStatus
    stage: int
    due_at: int
    due_shard: str
    abandoned_at: int | None


@dataclass
class Usage:
    """What the repository spent, for benchmarks and metrics."""

    reads: int = 0
    items_read: int = 0
    writes: int = 0
    conflicts: int = 0
    # (item before, item after) of every successful write, for write-unit accounting.
    write_log: list[tuple[Item | None, Item]] = field(default_factory=list)


class CartRepository:
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        due_shards: int,
        closed_retention_days: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        # Stamps ``modified_at``: the listing's order is when cartwatch recorded a transition,
        # so a cart that changes while a client pages lands above the client's cursor.
        self._clock = clock
        self._table = table_name
        self.due_shards = due_shards
        self._retention_seconds = closed_retention_days * 86400
        self.usage = Usage()

    # --- reads ----------------------------------------------------------------------------

    def load_many(self, refs: Iterable[CartRef]) -> dict[CartRef, Loaded | Erased]:
        """Strongly consistent reads of many carts (BatchGetItem, 100 keys a call)."""
        unique = list(dict.fromkeys(refs))
        found: dict[CartRef, Loaded | Erased] = {}
        for start in range(0, len(unique), _BATCH_GET_LIMIT):
            keys: list[Item] = [
                cart_key(store, cart) for store, cart in unique[start : start + _BATCH_GET_LIMIT]
            ]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                response = self._client.batch_get_item(RequestItems=request)
                self.usage.reads += 1
                for item in response.get("Responses", {}).get(self._table, []):
                    self.usage.items_read += 1
                    loaded = _loaded(item)
                    found[(item["store_hash"]["S"], item["cart_id"]["S"])] = loaded
                request = response.get("UnprocessedKeys") or {}
        return found

    def load(self, store_hash: str, cart_id: str) -> Loaded | Erased | None:
        response = self._client.get_item(
            TableName=self._table, Key=cart_key(store_hash, cart_id), ConsistentRead=True
        )
        self.usage.reads += 1
        item = response.get("Item")
        if not item:
            return None
        self.usage.items_read += 1
        return _loaded(item)

    def due_entries(self, shard: str, now: int, page_size: int = 200) -> Iterator[list[DueEntry]]:
        """Pages of due-index entries of one shard that are due at ``now``."""
        start: Item | None = None
        while True:
            request: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": DUE_INDEX.name,
                "KeyConditionExpression": "#shard = :shard AND #due <= :now",
                "ExpressionAttributeNames": {"#shard": "due_shard", "#due": "due_at"},
                "ExpressionAttributeValues": {":shard": {"S": shard}, ":now": {"N": str(now)}},
                "Limit": page_size,
            }
            if start:
                request["ExclusiveStartKey"] = start
            response = self._client.query(**request)
            self.usage.reads += 1
            items = response.get("Items", [])
            self.usage.items_read += len(items)
            yield [_due_entry(item) for item in items]
            start = response.get("LastEvaluatedKey")
            if not start:
                return

    def shards(self) -> list[str]:
        return [f"DUE#{n:02d}" for n in range(self.due_shards)]

    # --- writes ---------------------------------------------------------------------------

    def save(
        self,
        before: tuple[StoredCart, Item] | None,
        after: CartState,
        stages: StageSchedule,
        *,
        pending: PendingEvent | None = None,
        exact_due: bool = False,
        transition: Transition | None = None,
        schedule: bool = True,
    ) -> StoredCart | Conflict:
        """Write ``after`` if the stored cart is still ``before`` (by version).

        ``schedule=False`` keeps the cart out of the due index (recovery-link copies).

        ``exact_due`` sets the due-index entry to the true next due time (sweeps); by
        default an earlier stored entry is kept as a valid lower bound (webhooks).  A
        ``transition`` is appended to the cart's history and moves its listing entry, in
        this same write; writes without one leave both alone.
        """
        stored_before = before[0] if before else None
        shard, due_at = self._due_fields(None if exact_due else stored_before, after, stages)
        if not schedule:
            shard, due_at = None, None
        if exact_due and stored_before and stored_before.due_shard and shard:
            shard = stored_before.due_shard
        target = replace_version(after, (stored_before.state.version if stored_before else 0) + 1)
        attributes = state_attributes(target)
        attributes["due_shard"] = {"S": shard} if shard else None
        attributes["due_at"] = {"N": str(due_at)} if due_at is not None else None
        attributes["expires_at"] = self._expiry(target)
        attributes[PENDING_EVENT_ATTRIBUTE] = {"S": pending.to_json()} if pending else None
        if transition is not None:
            attributes.update(_transition_attributes(stored_before, target, transition, self._clock()))
        if before is None:
            item = {name: value for name, value in attributes.items() if value is not None}
            item.update(cart_key(after.store_hash, after.cart_id))
            item["kind"] = {"S": "cart"}
            return self._put_new(item)
        to_set, to_remove = changed_attributes(before[1], attributes)
        return self._update(
            after.store_hash,
            after.cart_id,
            to_set,
            to_remove,
            condition="#v = :expected",
            names={"#v": "version"},
            values={":expected": {"N": str(before[0].state.version)}},
            before_item=before[1],
        )

    def transition_from_index(
        self,
        entry: DueEntry,
        after: CartState,
        *,
        cutoff: int,
        due_at: int | None,
        pending: PendingEvent | None,
        transition: Transition | None = None,
    ) -> StoredCart | Conflict:
        """Apply a sweep decided from the index alone.

        The index does not carry ``last_activity_at``; the condition does the re-check
        against the base item: the cart is still in the status and stage the index showed,
        has been idle since ``cutoff``, and was not suppressed.  The ``transition`` is
        appended to the history (which only the writers holding the whole item trim) and
        moves the listing entry: every abandoned cart is listed, an expiring one only if
        it had been abandoned before.
        """
        to_set: Item = {"status": {"S": after.status.value}, "stage": {"N": str(after.stage)}}
        if after.stage > 0:
            to_set["last_abandoned_stage"] = {"N": str(after.stage)}
        to_remove: list[str] = []
        if after.abandoned_at is not None and after.abandoned_at != entry.abandoned_at:
            to_set["abandoned_at"] = {"N": str(after.abandoned_at)}
        if after.closed_at is not None:
            to_set["closed_at"] = {"N": str(after.closed_at)}
            to_set["expires_at"] = {"N": str(after.closed_at + self._retention_seconds)}
        if due_at is None:
            to_remove += ["due_shard", "due_at"]
        else:
            to_set["due_at"] = {"N": str(due_at)}
        if pending:
            to_set[PENDING_EVENT_ATTRIBUTE] = {"S": pending.to_json()}
        appended: dict[str, Transition] = {}
        if transition is not None:
            appended[HISTORY] = transition
            if after.ever_abandoned or entry.abandoned_at is not None:
                to_set[LISTING_KEY] = {"S": listing_key(entry.store_hash, after.status)}
                to_set[MODIFIED_AT] = {"N": str(max(transition.at, int(self._clock())))}
        return self._update(
            entry.store_hash,
            entry.cart_id,
            to_set,
            to_remove,
            condition=(
                "#st = :status AND #stage = :stage AND #last <= :cutoff AND attribute_not_exists(#sup)"
            ),
            names={"#st": "status", "#stage": "stage", "#last": "last_activity_at", "#sup": "suppressed_at"},
            values={
                ":status": {"S": entry.status.value},
                ":stage": {"N": str(entry.stage)},
                ":cutoff": {"N": str(cutoff)},
            },
            increment_version=True,
            keep_pending=pending is not None,
            appended=appended,
        )

    def reschedule(self, stored: StoredCart, due_at: int | None) -> StoredCart | Conflict:
        """Move a cart's due-index entry (a sweep found it early), guarded by version."""
        to_set: Item = {}
        to_remove: list[str] = []
        if due_at is None:
            to_remove = ["due_shard", "due_at"]
        else:
            to_set["due_at"] = {"N": str(due_at)}
            if stored.due_shard is None:
                to_set["due_shard"] = {"S": due_shard(stored.state.cart_id, self.due_shards)}
        return self._update(
            stored.state.store_hash,
            stored.state.cart_id,
            to_set,
            to_remove,
            condition="#v = :expected",
            names={"#v": "version"},
            values={":expected": {"N": str(stored.state.version)}},
        )

    def mark_recovery_copy(self, store_hash: str, copy_id: str, original_id: str, now: int) -> None:
        """Remember that ``copy_id`` is the recovery-link copy of ``original_id``.

        Usually the copy is new to us (its ``created`` webhook is still on the way): it is
        written as an open cart outside the due index.  If its webhooks won the race, the
        existing cart is marked and taken out of the due index instead.
        """
        from botocore.exceptions import ClientError

        state = CartState(store_hash, copy_id, CartStatus.ACTIVE, now, now, activity_seen=False, version=1)
        item = {name: value for name, value in state_attributes(state).items() if value is not None}
        item.update(cart_key(store_hash, copy_id))
        item["kind"] = {"S": "cart"}
        item[RECOVERY_OF] = {"S": original_id}
        self.usage.writes += 1
        try:
            self._client.put_item(
                TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as error:
            if not _is_condition_failure(error):
                raise
        else:
            return
        self._client.update_item(
            TableName=self._table,
            Key=cart_key(store_hash, copy_id),
            UpdateExpression="SET #copy = :original REMOVE due_shard, due_at",
            ExpressionAttributeNames={"#copy": RECOVERY_OF},
            ExpressionAttributeValues={":original": {"S": original_id}},
        )

    def record_snapshot(self, state: CartState, snapshot_json: str, summary: Item | None = None) -> bool:
        """Keep the stage-1 snapshot for later stages, if the cart is still in that abandonment.

        ``summary`` (see ``cart_items.summary_attributes``) flattens the snapshot's customer
        and total for the listing index's filters.
        """
        return self._record(
            state,
            {"snapshot": {"S": snapshot_json}, **(summary or {})},
            condition="#st = :abandoned AND #last = :last",
            names={"#st": "status", "#last": "last_activity_at"},
            values={
                ":abandoned": {"S": CartStatus.ABANDONED.value},
                ":last": {"N": str(state.last_activity_at)},
            },
        )

    def record_order(self, state: CartState, order_json: str, summary: Item) -> bool:
        """Keep what the publisher learnt of a bought cart's order, and list the cart.

        A cart bought without ever being abandoned enters the listing index here, with its
        order value, rather than in the processor's conversion write: the ordinary webhook
        path stays at its write units, and the one write records both.
        """
        if state.closed_at is None or state.status not in (CartStatus.CONVERTED, CartStatus.RECOVERED):
            return False
        return self._record(
            state,
            {
                ORDER: {"S": order_json},
                LISTING_KEY: {"S": listing_key(state.store_hash, state.status)},
                **summary,
            },
            condition="#st = :status AND #closed = :closed",
            names={"#st": "status", "#closed": "closed_at"},
            values={":status": {"S": state.status.value}, ":closed": {"N": str(state.closed_at)}},
            if_absent={MODIFIED_AT: {"N": str(max(state.closed_at, int(self._clock())))}},
        )

    def _record(
        self,
        state: CartState,
        attributes: Item,
        *,
        condition: str,
        names: dict[str, str],
        values: Item,
        if_absent: Item | None = None,
    ) -> bool:
        """Set what the publisher learnt (``None`` values are left out) if the cart is still as seen."""
        to_set = {name: value for name, value in attributes.items() if value is not None}
        result = self._update(
            state.store_hash,
            state.cart_id,
            to_set,
            [],
            condition=condition,
            names=names,
            values=values,
            if_absent=if_absent,
        )
        return not isinstance(result, Conflict)

    def close_gone(self, state: CartState, now: int, transition: Transition | None = None) -> bool:
        """BigCommerce no longer has the cart (404 at abandonment): close it, no event."""
        to_set: Item = {
            "status": {"S": CartStatus.DELETED.value},
            "stage": {"N": "0"},
            "closed_at": {"N": str(now)},
            "expires_at": {"N": str(now + self._retention_seconds)},
        }
        if state.ever_abandoned:
            to_set[LISTING_KEY] = {"S": listing_key(state.store_hash, CartStatus.DELETED)}
            to_set[MODIFIED_AT] = {"N": str(max(now, int(self._clock())))}
        result = self._update(
            state.store_hash,
            state.cart_id,
            to_set,
            ["due_shard", "due_at"],
            condition="#st IN (:active, :abandoned) AND #last = :last",
            names={"#st": "status", "#last": "last_activity_at"},
            values={
                ":active": {"S": CartStatus.ACTIVE.value},
                ":abandoned": {"S": CartStatus.ABANDONED.value},
                ":last": {"N": str(state.last_activity_at)},
            },
            increment_version=True,
            appended={HISTORY: transition} if transition else None,
        )
        return not isinstance(result, Conflict)

    def erase(self, store_hash: str, cart_id: str, now: int) -> bool:
        """Replace a cart by its tombstone (GDPR erasure); False when there is no such cart.

        One conditional put: the snapshot (customer, email, address), the history and every
        index entry go at once.  The tombstone outlives BigCommerce's own cart lifetime so
        that webhooks still arriving for the cart are recognized (see ``extend_tombstone``).
        """
        from botocore.exceptions import ClientError

        item = tombstone_item(store_hash, cart_id, erased_at=now, expires_at=now + CART_LIFETIME_SECONDS)
        try:
            self._client.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_exists(#st)",
                ExpressionAttributeNames={"#st": "status"},
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        self.usage.writes += 1
        return True

    def extend_tombstone(self, erased: Erased, expires_at: int) -> None:
        """Keep refusing an erased cart's webhooks while BigCommerce may still send them."""
        from botocore.exceptions import ClientError

        try:
            self._client.update_item(
                TableName=self._table,
                Key=cart_key(erased.store_hash, erased.cart_id),
                UpdateExpression="SET #exp = :exp",
                ConditionExpression="#kind = :erased AND #exp < :exp",
                ExpressionAttributeNames={"#exp": "expires_at", "#kind": "kind"},
                ExpressionAttributeValues={":exp": {"N": str(expires_at)}, ":erased": {"S": TOMBSTONE_KIND}},
            )
        except ClientError as error:
            if not _is_condition_failure(error):
                raise
            return
        self.usage.writes += 1

    # --- internals ------------------------------------------------------------------------

    def _due_fields(
        self, before: StoredCart | None, after: CartState, stages: StageSchedule
    ) -> tuple[str | None, int | None]:
        true_due = next_due_at(after, stages)
        if true_due is None:
            return None, None
        shard = before.due_shard if before and before.due_shard else due_shard(after.cart_id, self.due_shards)
        if before is not None and before.due_at is not None and before.due_at <= true_due:
            # Lazy scheduling: the stored entry is a valid lower bound; moving it would
            # cost two index writes for every webhook of a busy cart.
            return shard, before.due_at
        return shard, true_due

    def _expiry(self, state: CartState) -> Item | None:
        if state.closed_at is not None and not state.status.is_open:
            return {"N": str(state.closed_at + self._retention_seconds)}
        if state.suppressed:
            # Out of the due index, a suppressed cart never expires through a sweep: TTL
            # retires it when BigCommerce would have, plus the usual retention.
            expiry = state.last_activity_at + CART_LIFETIME_SECONDS + self._retention_seconds
            return {"N": str(expiry)}
        return None

    def _put_new(self, item: Item) -> StoredCart | Conflict:
        from botocore.exceptions import ClientError

        try:
            self._client.put_item(
                TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as error:
            if _is_condition_failure(error):
                self.usage.conflicts += 1
                return Conflict(current=None)
            raise
        self.usage.writes += 1
        self.usage.write_log.append((None, item))
        return stored_cart_from_item(item)

    def _update(
        self,
        store_hash: str,
        cart_id: str,
        to_set: Item,
        to_remove: Sequence[str],
        *,
        condition: str,
        names: dict[str, str],
        values: Item,
        increment_version: bool = False,
        keep_pending: bool = False,
        before_item: Item | None = None,
        appended: dict[str, Transition] | None = None,
        if_absent: Item | None = None,
    ) -> StoredCart | Conflict:
        from botocore.exceptions import ClientError

        remove = list(to_remove)
        if not keep_pending and PENDING_EVENT_ATTRIBUTE not in to_set:
            # Any write that is not itself a transition clears the event intent, so the
            # stream never shows it twice.
            remove.append(PENDING_EVENT_ATTRIBUTE)
        expression, expr_names, expr_values = update_expression(to_set, sorted(set(remove)))
        extra_sets: list[str] = []
        for index, (name, entry) in enumerate(sorted((appended or {}).items())):
            # The whole history is not at hand: append, and leave trimming to a full write.
            expr_names[f"#a{index}"] = name
            expr_values[f":a{index}"] = history_value((entry,))
            expr_values[":nothing"] = {"L": []}
            extra_sets.append(f"#a{index} = list_append(if_not_exists(#a{index}, :nothing), :a{index})")
        for index, (name, value) in enumerate(sorted((if_absent or {}).items())):
            expr_names[f"#i{index}"] = name
            expr_values[f":i{index}"] = value
            extra_sets.append(f"#i{index} = if_not_exists(#i{index}, :i{index})")
        if extra_sets:
            expression = _add_sets(expression, extra_sets)
        if increment_version:
            expression = (expression + " ADD #ver :one").strip()
            expr_names["#ver"] = "version"
            expr_values[":one"] = {"N": "1"}
        expr_names.update(names)
        expr_values.update(values)
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=cart_key(store_hash, cart_id),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=expr_names,
                ExpressionAttributeValues=expr_values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not _is_condition_failure(error):
                raise
            self.usage.conflicts += 1
            old: Item | None = error.response.get("Item")  # type: ignore[assignment]
            if old and "status" in old and not is_tombstone(old):
                return Conflict(current=(stored_cart_from_item(old), old))
            return Conflict(current=None)
        self.usage.writes += 1
        new_item = response["Attributes"]
        self.usage.write_log.append((before_item, new_item))
        return stored_cart_from_item(new_item)


def replace_version(state: CartState, version: int) -> CartState:
    return replace(state, version=version)


def _loaded(item: Item) -> Loaded | Erased:
    if is_tombstone(item):
        return Erased(item["store_hash"]["S"], item["cart_id"]["S"], int(item["expires_at"]["N"]))
    return stored_cart_from_item(item), item


def _transition_attributes(
    before: StoredCart | None, after: CartState, transition: Transition, now: float
) -> Item:
    """History and listing attributes of a write that makes ``transition`` (whole item at hand)."""
    history = append(before.history if before else (), transition)
    # When this write happens, and never earlier than any transition so far: ``modified_at``
    # bounds creation and abandonment times from above (the listing's key range relies on it).
    previous = before.modified_at if before is not None and before.modified_at is not None else 0
    modified_at = max(previous, transition.at, int(now))
    order_recorded = before.order_recorded if before is not None else False
    return {
        HISTORY: history_value(history),
        **listing_attributes(after, modified_at, order_recorded=order_recorded),
    }


def _add_sets(expression: str, parts: list[str]) -> str:
    if expression.startswith("SET "):
        head, _, rest = expression.partition(" REMOVE ")
        combined = f"{head}, {', '.join(parts)}"
        return f"{combined} REMOVE {rest}" if rest else combined
    return f"SET {', '.join(parts)} {expression}".strip()


def _due_entry(item: Item) -> DueEntry:
    abandoned = item.get("abandoned_at")
    return DueEntry(
        store_hash=item["store_hash"]["S"],
        cart_id=item["cart_id"]["S"],
        status=CartStatus(item["status"]["S"]),
        stage=int(item["stage"]["N"]),
        due_at=int(item["due_at"]["N"]),
        due_shard=item["due_shard"]["S"],
        abandoned_at=int(abandoned["N"]) if abandoned else None,
    )


def _is_condition_failure(error: Exception) -> bool:
    response = getattr(error, "response", {})
    return bool(response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


__all__ = [
    "STATE_SK",
    "CartRef",
    "CartRepository",
    "Conflict",
    "DueEntry",
    "Erased",
    "Loaded",
    "PendingEvent",
    "cart_pk",
]
