"""The writes the app's merchant page and callbacks make to a store's row (``pk = STORE``).

Each is one ``UpdateItem`` conditioned on the store being there and active, so a save that
races an uninstall changes nothing instead of resurrecting a row the purge is retiring.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cartwatch.adapters.store_registry import store_key
from cartwatch.domain.merchant_settings import SettingsChange
from cartwatch.domain.store import StoreStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_ACTIVE = "attribute_exists(pk) AND #status = :active"


class MerchantRows:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def update_settings(self, store_hash: str, change: SettingsChange) -> bool:
        """Apply a validated change; False when the store is gone or no longer active."""
        values: dict[str, Any] = {":links": {"BOOL": change.recovery_links}}
        expression = "SET recovery_links = :links"
        if change.stages is None:
            # No stages of its own: the row follows the deployment's default stages.
            expression += " REMOVE stages"
        else:
            expression += ", stages = :stages"
            values[":stages"] = {"S": str(change.stages)}
        return self._update(store_hash, expression, values)

    def link_user(self, store_hash: str, user_id: int) -> bool:
        """A control-panel user opened the app (multi-user apps provision users on load)."""
        return self._update(store_hash, "ADD app_users :user", {":user": {"NS": [str(user_id)]}})

    def unlink_user(self, store_hash: str, user_id: int) -> bool:
        """The owner removed the user's access to the app: the link goes, the store stays."""
        return self._update(store_hash, "DELETE app_users :user", {":user": {"NS": [str(user_id)]}})

    def _update(self, store_hash: str, expression: str, values: dict[str, Any]) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=store_key(store_hash),
                UpdateExpression=expression,
                ConditionExpression=_ACTIVE,
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={**values, ":active": {"S": StoreStatus.ACTIVE.value}},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True
