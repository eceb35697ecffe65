"""The purge's own state, kept on the store's row: which purge, and where each scan segment is.

    status            "uninstalled" from the moment BigCommerce's uninstall is confirmed
    purge_id          the purge under way (a message of any other purge is stale)
    purge             {segment: {v, start?, done}}  — v counts the segment's steps; start is
                      the scan's LastEvaluatedKey (JSON); the map is removed when all are done
    purged_items      items deleted so far (ADD; a step that loses its race or fails before it
                      advances is not counted — a figure for the logs, not a ledger)
    uninstalled_at / uninstalled_by, purged_at, expires_at (TTL of the finished row)

Every step advances its segment with a write conditioned on the version it started from, so
of two deliveries of one message (SQS is at-least-once) one advances and the other stops:
a segment never runs as two chains for long, and a lost step is simply done again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cartwatch.adapters.store_registry import store_key
from cartwatch.domain.store import StoreStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

Item = dict[str, Any]


@dataclass(frozen=True)
class PurgeUnderWay:
    purge_id: str
    segments: int
    started: bool  # False: this call marked the store; True: a purge was already under way


@dataclass(frozen=True)
class SegmentCursor:
    version: int
    start: Item | None
    done: bool


class PurgeRecords:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def mark_uninstalled(
        self, store_hash: str, *, purge_id: str, segments: int, now: int, cause: str
    ) -> PurgeUnderWay | None:
        """Mark the store uninstalled with a new purge — or return the purge already under way.

        None: nothing to purge (no such store, or it was purged already).
        """
        cursors = {str(s): {"M": {"v": {"N": "0"}, "done": {"BOOL": False}}} for s in range(segments)}
        try:
            self._client.update_item(
                TableName=self._table,
                Key=store_key(store_hash),
                UpdateExpression="SET #status = :uninstalled, purge_id = :id, purge = :cursors, "
                "uninstalled_at = :now, uninstalled_by = :cause, purged_items = :zero "
                # BigCommerce deletes an app's hooks on uninstall: none are recorded any more.
                "REMOVE purged_at, expires_at, hooks",
                ConditionExpression="attribute_exists(pk) AND "
                "(attribute_not_exists(#status) OR #status <> :uninstalled)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":uninstalled": {"S": StoreStatus.UNINSTALLED.value},
                    ":id": {"S": purge_id},
                    ":cursors": {"M": cursors},
                    ":now": {"N": str(now)},
                    ":cause": {"S": cause},
                    ":zero": {"N": "0"},
                },
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            item = self._row(store_hash)
            if item is None or "purge" not in item:
                return None
            return PurgeUnderWay(item["purge_id"]["S"], len(item["purge"]["M"]), started=True)
        return PurgeUnderWay(purge_id, segments, started=False)

    def progress(self, store_hash: str, purge_id: str) -> dict[int, SegmentCursor] | None:
        """Each segment's cursor; None when this purge is not (or no longer) under way."""
        item = self._row(store_hash)
        if item is None or item.get("purge_id", {}).get("S") != purge_id or "purge" not in item:
            return None
        cursors: dict[int, SegmentCursor] = {}
        for segment, entry in item["purge"]["M"].items():
            fields = entry["M"]
            start = fields.get("start", {}).get("S")
            cursors[int(segment)] = SegmentCursor(
                version=int(fields["v"]["N"]),
                start=json.loads(start) if start else None,
                done=fields.get("done", {}).get("BOOL", False),
            )
        return cursors

    def status(self, store_hash: str) -> StoreStatus | None:
        """The store's status read now (not from a cache); None: no such store."""
        item = self._row(store_hash)
        if item is None:
            return None
        return StoreStatus(item.get("status", {}).get("S", StoreStatus.ACTIVE.value))

    def advance(
        self,
        store_hash: str,
        purge_id: str,
        segment: int,
        *,
        version: int,
        start: Item | None,
        deleted: int,
    ) -> bool | None:
        """Move the segment on from ``version``; returns whether every segment is now done,
        or None when another delivery moved it first (then this one stops)."""
        fields: dict[str, Any] = {"v": {"N": str(version + 1)}, "done": {"BOOL": start is None}}
        if start is not None:
            fields["start"] = {"S": json.dumps(start, sort_keys=True)}
        try:
            result = self._client.update_item(
                TableName=self._table,
                Key=store_key(store_hash),
                UpdateExpression="SET purge.#segment = :cursor ADD purged_items :deleted",
                ConditionExpression="purge_id = :id AND purge.#segment.v = :version",
                ExpressionAttributeNames={"#segment": str(segment)},
                ExpressionAttributeValues={
                    ":cursor": {"M": fields},
                    ":deleted": {"N": str(deleted)},
                    ":id": {"S": purge_id},
                    ":version": {"N": str(version)},
                },
                ReturnValues="ALL_NEW",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return None
        cursors = result["Attributes"]["purge"]["M"].values()
        return all(c["M"].get("done", {}).get("BOOL", False) for c in cursors)

    def finish(self, store_hash: str, purge_id: str, *, now: int, expires_at: int) -> int | None:
        """Record the purge as complete; returns the items it deleted (None: already recorded).

        The row stays, as the store's tombstone until ``expires_at``: deliveries still queued
        for the store see it uninstalled and are dropped instead of recreating its carts.
        """
        try:
            result = self._client.update_item(
                TableName=self._table,
                Key=store_key(store_hash),
                UpdateExpression="SET purged_at = :now, expires_at = :expires REMOVE purge",
                ConditionExpression="purge_id = :id AND attribute_exists(purge)",
                ExpressionAttributeValues={
                    ":now": {"N": str(now)},
                    ":expires": {"N": str(expires_at)},
                    ":id": {"S": purge_id},
                },
                ReturnValues="ALL_NEW",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return None
        return int(result["Attributes"].get("purged_items", {}).get("N", "0"))

    def note_uninstall_check(self, store_hash: str, *, now: int, interval: int) -> bool:
        """Whether the store's token may be checked now: at most once per ``interval`` seconds,
        so a flood of (perhaps forged) uninstall webhooks costs the store one API call."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=store_key(store_hash),
                UpdateExpression="SET uninstall_checked_at = :now",
                ConditionExpression="attribute_exists(pk) AND "
                "(attribute_not_exists(uninstall_checked_at) OR uninstall_checked_at <= :before)",
                ExpressionAttributeValues={":now": {"N": str(now)}, ":before": {"N": str(now - interval)}},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _row(self, store_hash: str) -> Item | None:
        item: Item | None = self._client.get_item(
            TableName=self._table, Key=store_key(store_hash), ConsistentRead=True
        ).get("Item")
        return item
