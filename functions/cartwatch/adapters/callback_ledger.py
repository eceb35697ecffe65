"""One-time things the app's callbacks have seen, in the cartwatch table (TTL ``expires_at``).

    pk = APP#JTI#<jti>          sk = JTI    a signed payload's id: each is accepted once
    pk = APP#CODE#<sha256(code)> sk = CODE   an install code: pending | connected | failed

A browser may send the auth callback twice (BigCommerce's own SDK issue shows the second
exchange failing with ``invalid_grant``, APPS.md §5.3), so a code is claimed before it is
exchanged and the outcome recorded: a repeat shows the first request's result instead of
failing.  Codes are stored hashed: the ledger never holds one that could still be exchanged.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

APP_KEY_PREFIX = "APP#"


class CodeOutcome(StrEnum):
    PENDING = "pending"
    CONNECTED = "connected"
    FAILED = "failed"


def code_digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


class CallbackLedger:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def first_use(self, jti: str, keep_until: int) -> bool:
        """True the first time ``jti`` is presented; False for a replay."""
        return self._put_new(f"{APP_KEY_PREFIX}JTI#{jti}", "JTI", keep_until, {})

    def claim_code(self, code: str, keep_until: int) -> tuple[CodeOutcome, str | None] | None:
        """Claim an install code.  None: claimed now.  Else what became of the earlier claim
        (its outcome and the store it connected)."""
        key = f"{APP_KEY_PREFIX}CODE#{code_digest(code)}"
        if self._put_new(key, "CODE", keep_until, {"outcome": {"S": CodeOutcome.PENDING.value}}):
            return None
        item = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": key}, "sk": {"S": "CODE"}}, ConsistentRead=True
        ).get("Item", {})
        store = item.get("store_hash", {}).get("S")
        return CodeOutcome(item.get("outcome", {}).get("S", CodeOutcome.PENDING.value)), store

    def settle_code(self, code: str, outcome: CodeOutcome, store_hash: str | None) -> None:
        values: dict[str, Any] = {":outcome": {"S": outcome.value}}
        expression = "SET outcome = :outcome"
        if store_hash is not None:
            expression += ", store_hash = :store"
            values[":store"] = {"S": store_hash}
        self._client.update_item(
            TableName=self._table,
            Key={"pk": {"S": f"{APP_KEY_PREFIX}CODE#{code_digest(code)}"}, "sk": {"S": "CODE"}},
            UpdateExpression=expression,
            ExpressionAttributeValues=values,
        )

    def _put_new(self, pk: str, sk: str, keep_until: int, extra: dict[str, Any]) -> bool:
        try:
            self._client.put_item(
                TableName=self._table,
                Item={"pk": {"S": pk}, "sk": {"S": sk}, "expires_at": {"N": str(keep_until)}, **extra},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True
