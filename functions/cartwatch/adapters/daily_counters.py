"""Each store's daily figures in the cartwatch table: one item per store and UTC day.

    pk = STATS#<store>   sk = DAY#<yyyy-mm-dd>   created, abandoned, abandoned_unvalued,
                                                 abandoned_value_USD, …, tally, expires_at

Figures are added with ``ADD`` (atomic, negative changes included) by the figure tally — one
``UpdateItem`` per store and day a window of writes touched — and read with one ``Query`` of
the store's partition over a day range.  Each addition records its window's marker and is
conditioned on the day not holding that marker already, so a retried window adds nothing
twice.  A day is kept ``RETENTION_DAYS`` (the table's TTL), then DynamoDB deletes it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from cartwatch.adapters.cart_table import attributes as attr
from cartwatch.domain.daily_figures import RETENTION_DAYS, Day, Figures, is_measure

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def day_expiry(day: Day) -> int:
    """When the table's TTL may delete a day's figures."""
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return int((start + timedelta(days=RETENTION_DAYS + 1)).timestamp())


class DynamoDailyCounters:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def add(self, store_hash: str, day: Day, figures: Figures, *, marker: str) -> bool:
        measures = sorted(name for name, amount in figures.items() if amount != 0)
        unknown = [name for name in measures if not is_measure(name)]
        if unknown:
            raise ValueError(f"not a figure: {', '.join(unknown)}")
        if not measures:
            return True
        names = {"#marker": attr.TALLY_MARKER, "#expires": attr.EXPIRES_AT}
        values: dict[str, Any] = {
            ":marker": {"S": marker},
            ":expires": {"N": str(day_expiry(day))},
        }
        additions = []
        for n, name in enumerate(measures):
            names[f"#m{n}"] = name
            values[f":m{n}"] = {"N": format(figures[name], "f")}
            additions.append(f"#m{n} :m{n}")
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_key(store_hash, day),
                UpdateExpression=f"ADD {', '.join(additions)} SET #marker = :marker, #expires = :expires",
                ConditionExpression="attribute_not_exists(#marker) OR #marker <> :marker",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def read(self, store_hash: str, first: Day, last: Day) -> dict[Day, Figures]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#pk = :pk AND #sk BETWEEN :first AND :last",
            "ExpressionAttributeNames": {"#pk": attr.PK, "#sk": attr.SK},
            "ExpressionAttributeValues": {
                ":pk": {"S": attr.stats_pk(store_hash)},
                ":first": {"S": attr.day_sk(first)},
                ":last": {"S": attr.day_sk(last)},
            },
        }
        found: dict[Day, Figures] = {}
        while True:
            page = self._client.query(**request)
            for item in page.get("Items", []):
                day = item[attr.SK]["S"].removeprefix(attr.DAY_PREFIX)
                found[day] = {
                    name: Decimal(value["N"])
                    for name, value in item.items()
                    if is_measure(name) and "N" in value
                }
            if "LastEvaluatedKey" not in page:
                return found
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _key(store_hash: str, day: Day) -> dict[str, Any]:
    return {attr.PK: {"S": attr.stats_pk(store_hash)}, attr.SK: {"S": attr.day_sk(day)}}
