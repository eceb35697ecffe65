"""One DynamoDB request per write plan: the plan's guard becomes the condition expression.

* a :class:`Revision` of a new cart is a ``PutItem`` of its whole item, conditioned on
  nothing being stored under its key;
* any other plan is one ``UpdateItem``: a revision sets and removes exactly the attributes in
  which the new record's item differs from its base's (attributes no index keys on or
  projects cost no index units when they are all that changes); a patch sets its fields,
  appends its history entry and bumps the version when it makes a transition.

Every write without an event removes ``pending_event``: the stream then never shows an
event intent twice.  Updates ask for the item as written (``ALL_NEW``) and, when the
condition fails, the item as it is (``ALL_OLD``, at no extra read).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cartwatch.adapters.cart_table import attributes as attr
from cartwatch.adapters.cart_table.expression import Placeholders
from cartwatch.adapters.cart_table.items import (
    Item,
    history_value,
    record_item,
    shopper_attributes,
    slot_attributes,
    summary_attributes,
)
from cartwatch.domain.cart_record import PARKED_SHARD
from cartwatch.domain.lifecycle import CartStatus
from cartwatch.domain.write_plan import (
    Absent,
    AtVersion,
    Deferred,
    Details,
    DueAt,
    Guard,
    HoldsUnpublished,
    IdleSince,
    IsCart,
    Parked,
    Patch,
    Redriven,
    Released,
    Revision,
    StillAbandoned,
    StillBought,
    StillOpen,
    Unscheduled,
    WritePlan,
)


@dataclass(frozen=True)
class Request:
    operation: str  # the client method: "put_item" or "update_item"
    parameters: dict[str, Any]


@dataclass
class Expression(Placeholders):
    """An update expression, sharing its placeholders with the write's condition."""

    set_clauses: list[str] = field(default_factory=list)
    remove_clauses: list[str] = field(default_factory=list)
    add_clauses: list[str] = field(default_factory=list)

    def set(self, attribute: str, value: dict[str, Any]) -> None:
        self.set_clauses.append(f"{self.name(attribute)} = {self.value(value)}")

    def set_if_absent(self, attribute: str, value: dict[str, Any]) -> None:
        name = self.name(attribute)
        self.set_clauses.append(f"{name} = if_not_exists({name}, {self.value(value)})")

    def copy(self, attribute: str, source: str) -> None:
        """``attribute`` takes the value ``source`` has in the item before this write."""
        self.set_clauses.append(f"{self.name(attribute)} = {self.name(source)}")

    def copy_if_absent(self, attribute: str, source: str) -> None:
        name = self.name(attribute)
        self.set_clauses.append(f"{name} = if_not_exists({name}, {self.name(source)})")

    def append(self, attribute: str, values: dict[str, Any]) -> None:
        name = self.name(attribute)
        self.set_clauses.append(
            f"{name} = list_append(if_not_exists({name}, {self.value({'L': []})}), {self.value(values)})"
        )

    def remove(self, attribute: str) -> None:
        if self.name(attribute) not in self.remove_clauses:
            self.remove_clauses.append(self.name(attribute))

    def increment(self, attribute: str) -> None:
        self.add_clauses.append(f"{self.name(attribute)} {self.value({'N': '1'})}")

    def update(self) -> str:
        parts = [
            f"{keyword} {', '.join(clauses)}"
            for keyword, clauses in (
                ("SET", self.set_clauses),
                ("REMOVE", self.remove_clauses),
                ("ADD", self.add_clauses),
            )
            if clauses
        ]
        return " ".join(parts)


def render(plan: WritePlan, table: str) -> Request:
    expression = Expression()
    if isinstance(plan, Revision):
        if plan.base is None:
            return Request(
                "put_item",
                {
                    "TableName": table,
                    "Item": record_item(plan.record),
                    "ConditionExpression": f"attribute_not_exists({attr.PK})",
                },
            )
        _revise(expression, record_item(plan.base), record_item(plan.record))
        event = plan.record.outbox
    else:
        _patch(expression, plan)
        event = plan.outbox
    if event is None:
        # The outbox rule: a write that commits no event clears an earlier one.
        expression.remove(attr.PENDING_EVENT)
    condition = condition_expression(plan.guard, expression)
    store_hash, cart_id = plan.ref
    parameters: dict[str, Any] = {
        "TableName": table,
        "Key": attr.cart_key(store_hash, cart_id),
        "UpdateExpression": expression.update(),
        "ConditionExpression": condition,
        "ExpressionAttributeNames": expression.names,
        "ReturnValues": "ALL_NEW",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    if expression.values:  # DynamoDB refuses an empty map
        parameters["ExpressionAttributeValues"] = expression.values
    return Request("update_item", parameters)


def _revise(expression: Expression, before: Item, after: Item) -> None:
    for name in sorted(after):
        if before.get(name) != after[name]:
            expression.set(name, after[name])
    for name in sorted(before):
        if name not in after:
            expression.remove(name)


def _patch(expression: Expression, plan: Patch) -> None:
    if plan.state is not None:
        state = plan.state
        expression.set(attr.STATUS, {"S": state.status.value})
        expression.set(attr.STAGE, {"N": str(state.stage)})
        for name, number in (
            (attr.LAST_ABANDONED_STAGE, state.last_abandoned_stage),
            (attr.ABANDONED_AT, state.abandoned_at),
            (attr.CLOSED_AT, state.closed_at),
        ):
            if number is not None:
                expression.set(name, {"N": str(number)})
    if plan.expires_at is not None:
        expression.set(attr.EXPIRES_AT, {"N": str(plan.expires_at)})
    if isinstance(plan.schedule, DueAt):
        expression.set(attr.DUE_AT, {"N": str(plan.schedule.at)})
    elif isinstance(plan.schedule, Unscheduled):
        expression.remove(attr.DUE_SHARD)
        expression.remove(attr.DUE_AT)
    if plan.outbox is not None:
        expression.set(attr.PENDING_EVENT, {"S": plan.outbox.to_json()})
    if plan.history is not None:
        # The whole history is not at hand: append, and leave trimming to a full write.
        expression.append(attr.HISTORY, history_value((plan.history,)))
    if plan.listing is not None:
        partition = attr.listing_partition(plan.ref[0], plan.listing.status.value)
        expression.set(attr.LISTING_KEY, {"S": partition})
        modified = {"N": str(plan.listing.at)}
        if plan.listing.keep_earlier:
            expression.set_if_absent(attr.MODIFIED_AT, modified)
            expression.copy_if_absent(attr.LISTED_ACTIVITY_AT, attr.LAST_ACTIVITY_AT)
        else:
            expression.set(attr.MODIFIED_AT, modified)
            # The patch's writer may not know the cart's last activity (the sweep decides from
            # the due index): the item's own value is copied, in the same write.
            expression.copy(attr.LISTED_ACTIVITY_AT, attr.LAST_ACTIVITY_AT)
    if plan.details is not None:
        _details(expression, plan.ref[0], plan.details)
    if plan.unpublished is not None:
        for name, value in slot_attributes(plan.unpublished).items():
            expression.set(name, value)
        expression.remove(attr.PARKED_REASON)
    match plan.slot:
        case Released():
            for name in (attr.UNPUBLISHED, attr.OUTBOX_SHARD, attr.OUTBOX_DUE, attr.PARKED_REASON):
                expression.remove(name)
        case Parked(reason):
            expression.set(attr.OUTBOX_SHARD, {"S": PARKED_SHARD})
            expression.set(attr.PARKED_REASON, {"S": reason})
        case Deferred(until):
            expression.set(attr.OUTBOX_DUE, {"N": str(until)})
        case Redriven(shard, at):
            expression.set(attr.OUTBOX_SHARD, {"S": shard})
            expression.set(attr.OUTBOX_DUE, {"N": str(at)})
            expression.remove(attr.PARKED_REASON)
    if plan.new_version:
        expression.increment(attr.VERSION)


def _details(expression: Expression, store_hash: str, details: Details) -> None:
    """What the publisher learnt: the snapshot, the order, a copy's original, the summary, the shopper."""
    for name, text in (
        (attr.SNAPSHOT, details.snapshot),
        (attr.ORDER, details.order),
        (attr.RECOVERY_OF, details.recovery_of),
    ):
        if text is not None:
            expression.set(name, {"S": text})
    if details.summary is not None:
        for name, value in summary_attributes(details.summary).items():
            expression.set(name, value)
    if details.shopper is not None:
        for name, value in shopper_attributes(store_hash, details.shopper).items():
            expression.set(name, value)


def condition_expression(guard: Guard, expression: Expression) -> str:
    """The guard, as DynamoDB evaluates it (``write_plan.admits`` is its meaning)."""
    name, value = expression.name, expression.value
    match guard:
        case Absent():
            return f"attribute_not_exists({name(attr.PK)})"
        case AtVersion(version):
            return f"{name(attr.VERSION)} = {value(_n(version))}"
        case IdleSince(status, stage, cutoff, channel_id):
            channel = (
                f"attribute_not_exists({name(attr.CHANNEL_ID)})"
                if channel_id is None
                else f"{name(attr.CHANNEL_ID)} = {value(_n(channel_id))}"
            )
            return (
                f"{name(attr.STATUS)} = {value(_s(status))} AND {name(attr.STAGE)} = {value(_n(stage))}"
                f" AND {name(attr.LAST_ACTIVITY_AT)} <= {value(_n(cutoff))}"
                f" AND attribute_not_exists({name(attr.SUPPRESSED_AT)})"
                # Not stopped by the shopper's purchase of another cart (``series_stopped``).
                f" AND (attribute_not_exists({name(attr.SHOPPER_BOUGHT_AT)})"
                f" OR {name(attr.LAST_ACTIVITY_AT)} > {name(attr.SHOPPER_BOUGHT_AT)})"
                f" AND {channel}"
            )
        case StillAbandoned(last_activity_at):
            return (
                f"{name(attr.STATUS)} = {value(_s(CartStatus.ABANDONED))}"
                f" AND {name(attr.LAST_ACTIVITY_AT)} = {value(_n(last_activity_at))}"
            )
        case StillOpen(last_activity_at):
            return (
                f"{name(attr.STATUS)} IN ({value(_s(CartStatus.ACTIVE))}, {value(_s(CartStatus.ABANDONED))})"
                f" AND {name(attr.LAST_ACTIVITY_AT)} = {value(_n(last_activity_at))}"
            )
        case StillBought(status, closed_at):
            return (
                f"{name(attr.STATUS)} = {value(_s(status))}"
                f" AND {name(attr.CLOSED_AT)} = {value(_n(closed_at))}"
            )
        case IsCart():
            return f"attribute_exists({name(attr.STATUS)})"
        case HoldsUnpublished(event):
            return f"{name(attr.UNPUBLISHED)} = {value({'S': event.to_json()})}"
    raise AssertionError(f"unknown guard {guard!r}")


def _n(number: int) -> dict[str, str]:
    return {"N": str(number)}


def _s(status: CartStatus) -> dict[str, str]:
    return {"S": status.value}
