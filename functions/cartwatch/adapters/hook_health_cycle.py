"""Where the hook-health check is in its walk over every store: one item in the cartwatch table.

Layout
    pk = "HOOKHEALTH", sk = "CYCLE"
    started_at     when the current cycle (one pass over every store) began
    last_store     the last store hash checked in it, its cursor (absent: none yet)
    checked        how many stores it has checked
    finished_at    when it reached the last store (absent while it runs)
    lease_until    an invocation working on it holds it until then (absent: free)

The scheduled function runs every few minutes and takes a turn only with the lease, so two
invocations never check the same stores; each turn moves the cursor forward in store-hash
order and persists it after every chunk, so a turn that times out loses at most one chunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CYCLE_PK = "HOOKHEALTH"
_KEY = {"pk": {"S": CYCLE_PK}, "sk": {"S": "CYCLE"}}


@dataclass(frozen=True)
class Cycle:
    started_at: int | None  # None: no cycle has ever started
    cursor: str | None
    checked: int
    finished_at: int | None

    @property
    def finished(self) -> bool:
        return self.started_at is None or self.finished_at is not None


def _cycle(item: dict[str, Any]) -> Cycle:
    def number(name: str) -> int | None:
        value = item.get(name, {}).get("N")
        return int(value) if value is not None else None

    return Cycle(
        started_at=number("started_at"),
        cursor=item.get("last_store", {}).get("S"),
        checked=number("checked") or 0,
        finished_at=number("finished_at"),
    )


class CycleRecord:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def claim(self, now: int, lease_seconds: int) -> Cycle | None:
        """The cycle, with its lease taken until ``now + lease_seconds``; None while another
        invocation holds it."""
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=_KEY,
                UpdateExpression="SET lease_until = :until",
                ConditionExpression="attribute_not_exists(lease_until) OR lease_until < :now",
                ExpressionAttributeValues={
                    ":until": {"N": str(now + lease_seconds)},
                    ":now": {"N": str(now)},
                },
                ReturnValues="ALL_NEW",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return None
        return _cycle(response["Attributes"])

    def start(self, now: int) -> Cycle:
        """A new cycle from the first store on (under the lease this invocation holds)."""
        self._client.update_item(
            TableName=self._table,
            Key=_KEY,
            UpdateExpression="SET started_at = :now, checked = :zero REMOVE last_store, finished_at",
            ExpressionAttributeValues={":now": {"N": str(now)}, ":zero": {"N": "0"}},
        )
        return Cycle(started_at=now, cursor=None, checked=0, finished_at=None)

    def advance(self, cycle: Cycle, cursor: str, checked: int, *, finished_at: int | None = None) -> Cycle:
        """Record ``checked`` more stores, the last of them ``cursor`` (and the cycle's end)."""
        values: dict[str, Any] = {
            ":cursor": {"S": cursor},
            ":checked": {"N": str(checked)},
            ":started": {"N": str(cycle.started_at)},
        }
        expression = "SET last_store = :cursor ADD checked :checked"
        if finished_at is not None:
            expression = "SET last_store = :cursor, finished_at = :finished ADD checked :checked"
            values[":finished"] = {"N": str(finished_at)}
        self._client.update_item(
            TableName=self._table,
            Key=_KEY,
            UpdateExpression=expression,
            # Only the cycle this invocation works on: never a newer one's cursor.
            ConditionExpression="started_at = :started",
            ExpressionAttributeValues=values,
        )
        return Cycle(cycle.started_at, cursor, cycle.checked + checked, finished_at)

    def finish(self, cycle: Cycle, now: int) -> Cycle:
        """The cycle reached its last store (with nothing checked in this call)."""
        self._client.update_item(
            TableName=self._table,
            Key=_KEY,
            UpdateExpression="SET finished_at = :now",
            ConditionExpression="started_at = :started",
            ExpressionAttributeValues={":now": {"N": str(now)}, ":started": {"N": str(cycle.started_at)}},
        )
        return Cycle(cycle.started_at, cycle.cursor, cycle.checked, now)

    def release(self) -> None:
        self._client.update_item(TableName=self._table, Key=_KEY, UpdateExpression="REMOVE lease_until")
