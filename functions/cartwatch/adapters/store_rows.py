"""The store rows: every store's row in the cartwatch table (``pk = STORE``), as ``StoreRow``s.

What the CLI lists, the hook check walks (a page at a time) and the app's pages show: settings, the ids
of the hooks made for the store, and the app's owner and users.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cartwatch.adapters.store_registry import (
    CHANNEL_STAGES,
    STORE_PK,
    channel_stages_attribute,
    eligibility_attributes,
    store_from_item,
    store_key,
)
from cartwatch.domain.stages import DEFAULT_STAGES, StageSchedule
from cartwatch.domain.store import StoreRow, StoreSettings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class StoreRows:
    """Every store's row in the cartwatch table (pk="STORE"), with the hook ids recorded in it."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def all(self) -> list[StoreRow]:
        rows: list[StoreRow] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": STORE_PK}},
        }
        while True:
            page = self._client.query(**request)
            rows += [_row(item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return rows
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def page_after(self, cursor: str | None, limit: int) -> tuple[list[StoreRow], bool]:
        """Up to ``limit`` rows after store hash ``cursor`` (from the first: None), in hash
        order, and whether there are more."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": STORE_PK}},
            "Limit": limit,
        }
        if cursor is not None:
            request["ExclusiveStartKey"] = store_key(cursor)
        page = self._client.query(**request)
        return [_row(item) for item in page.get("Items", [])], "LastEvaluatedKey" in page

    def hashes_after(self, cursor: str | None, limit: int) -> tuple[list[str], int]:
        """The first ``limit`` store hashes after ``cursor``, and how many there are in all."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": STORE_PK}},
            "ProjectionExpression": "sk",
        }
        if cursor is not None:
            request["ExclusiveStartKey"] = store_key(cursor)
        hashes: list[str] = []
        count = 0
        while True:
            page = self._client.query(**request)
            items = page.get("Items", [])
            count += len(items)
            hashes += [item["sk"]["S"] for item in items][: max(0, limit - len(hashes))]
            if "LastEvaluatedKey" not in page:
                return hashes, count
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get(self, store_hash: str) -> StoreRow | None:
        item = self._client.get_item(
            TableName=self._table, Key=store_key(store_hash), ConsistentRead=True
        ).get("Item")
        return _row(item) if item else None

    def record(
        self, store_hash: str, *, hook_ids: Mapping[str, int] | None = None, default_stages: bool = False
    ) -> None:
        """Record the hook ids and/or drop the row's own stages; a missing row stays missing."""
        clauses: list[str] = []
        values: dict[str, Any] = {}
        if hook_ids is not None:
            clauses.append("SET hooks = :hooks")
            values[":hooks"] = hooks_attribute(hook_ids)
        if default_stages:
            clauses.append("REMOVE stages")
        if not clauses:
            return
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": store_key(store_hash),
            "UpdateExpression": " ".join(clauses),
            "ConditionExpression": "attribute_exists(pk)",
        }
        if values:
            request["ExpressionAttributeValues"] = values
        try:
            self._client.update_item(**request)
        except self._client.exceptions.ConditionalCheckFailedException:
            return  # removed meanwhile (e.g. uninstalled): nothing to record

    def update_settings(self, settings: StoreSettings, *, own_stages: bool) -> bool:
        """Write a store's row-kept settings (stages, channel stages, recovery links, eligibility,
        reminders per shopper or per cart, active-cart listing); False: no such row."""
        rules = eligibility_attributes(settings.eligibility)
        values: dict[str, Any] = {
            ":links": {"BOOL": settings.recovery_links},
            ":email": rules["require_email"],
            ":consent": rules["require_consent"],
            ":reminders": {"S": settings.reminders.value},
            ":active": {"BOOL": settings.list_active},
        }
        assignments = [
            "recovery_links = :links",
            "require_email = :email",
            "require_consent = :consent",
            "reminders = :reminders",
            "list_active = :active",
        ]
        removals: list[str] = []
        if own_stages:
            assignments.append("stages = :stages")
            values[":stages"] = {"S": str(settings.stages)}
        else:
            removals.append("stages")  # follows the deployment's default stages
        if settings.channel_stages:
            assignments.append(f"{CHANNEL_STAGES} = :channels")
            values[":channels"] = channel_stages_attribute(settings.channel_stages)
        else:
            removals.append(CHANNEL_STAGES)
        if "min_value" in rules:
            assignments.append("min_value = :min")
            values[":min"] = rules["min_value"]
        else:
            removals.append("min_value")
        expression = "SET " + ", ".join(assignments) + (" REMOVE " + ", ".join(removals) if removals else "")
        try:
            self._client.update_item(
                TableName=self._table,
                Key=store_key(settings.store_hash),
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=values,
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True


def hooks_attribute(hook_ids: Mapping[str, int]) -> dict[str, Any]:
    return {"M": {scope: {"N": str(hook_id)} for scope, hook_id in sorted(hook_ids.items())}}


def _row(item: dict[str, Any]) -> StoreRow:
    hooks = item.get("hooks", {}).get("M", {})
    owner = item.get("app_owner_id", {}).get("N")
    installer = item.get("installed_by", {}).get("N")
    return StoreRow(
        settings=store_from_item(item, StageSchedule.parse(DEFAULT_STAGES)),
        hook_ids={scope: int(value["N"]) for scope, value in hooks.items() if "N" in value},
        created_at=int(item.get("created_at", {}).get("N", "0")),
        own_stages="stages" in item,
        purging="purge" in item,
        app_owner_id=int(owner) if owner is not None else None,
        app_users=frozenset(int(u) for u in item.get("app_users", {}).get("NS", [])),
        installed_by=int(installer) if installer is not None else None,
    )
