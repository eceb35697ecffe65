"""The stores' webhook credentials: a DynamoDB table of their own, and the ack path's view of it.

Layout (``cartwatch.resources``: key ``store_hash``, index ``known``)
    store_hash, listed = "STORES", version,
    client_secret, token, require_signature, previous_token, previous_token_until

Why a table and not one SSM parameter per store (architecture decision 60): the receiver must
know every store's credentials, and every new receiver instance would read each store's
parameter on its first delivery — at 10,000 stores thousands of reads a second while Lambda
scales out, against SSM's 40 a second per account.  DynamoDB has no such account-wide rate;
and an index of *which* stores exist, read whole once a minute, answers every unknown store
hash without any call at all.

What the receiver pays, per instance (:class:`WebhookCredentials`):

* every ``index_seconds`` one Query of the ``known`` index (every store's hash and the
  version of its credentials, ~40 bytes each: a page of 1 MB holds ~25,000 stores);
* per store, one GetItem when it first delivers and again only when its version changes;
* after a delivery failed against cached credentials, one read past the cache, at most every
  ``REFRESH_INTERVAL_SECONDS`` per store (architecture decision 29).

So a changed credential reaches every warm instance within ``index_seconds``: a rotation's
replaced token stops counting exactly when its grace period ends (15 minutes, longer than the
index's minute), and a removed or uninstalled store is refused within the minute.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cartwatch.domain.store import WebhookAuth
from cartwatch.resources import KNOWN_STORES_INDEX, KNOWN_STORES_PARTITION

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = logging.getLogger(__name__)


class CredentialsUnavailable(RuntimeError):
    """The credentials could not be read (throttling, permissions): a server-side problem."""


def _key(store_hash: str) -> dict[str, Any]:
    return {"store_hash": {"S": store_hash}}


class CredentialsTable:
    """Reads and writes one store's credentials: the CLI, the app's callbacks, the purge job."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def put(self, store_hash: str, auth: WebhookAuth) -> None:
        """Store (or replace) the store's credentials, under a new version."""
        item: dict[str, Any] = {
            "store_hash": {"S": store_hash},
            "listed": {"S": KNOWN_STORES_PARTITION},
            # A new version on every write: that is how warm receivers learn of the change.
            "version": {"S": uuid.uuid4().hex},
            "require_signature": {"BOOL": auth.require_signature},
        }
        for name in ("client_secret", "token", "previous_token"):
            value = getattr(auth, name)
            if value:
                item[name] = {"S": value}
        if auth.previous_token and auth.previous_token_until is not None:
            item["previous_token_until"] = {"N": str(auth.previous_token_until)}
        self._client.put_item(TableName=self._table, Item=item)

    def get(self, store_hash: str) -> WebhookAuth | None:
        """The store's credentials as stored now (a strongly consistent read)."""
        item = self._client.get_item(TableName=self._table, Key=_key(store_hash), ConsistentRead=True).get(
            "Item"
        )
        return auth_from_item(item) if item else None

    def delete(self, store_hash: str) -> None:
        """Forget the store's credentials; deleting what is gone is not an error."""
        self._client.delete_item(TableName=self._table, Key=_key(store_hash))

    def store_hashes(self) -> list[str]:
        """Every store with credentials (the ``known`` index, read whole)."""
        return sorted(_read_index(self._client, self._table))


def auth_from_item(item: dict[str, Any]) -> WebhookAuth:
    until = item.get("previous_token_until", {}).get("N")
    return WebhookAuth(
        client_secret=item.get("client_secret", {}).get("S") or None,
        token=item.get("token", {}).get("S") or None,
        require_signature=bool(item.get("require_signature", {}).get("BOOL", False)),
        previous_token=item.get("previous_token", {}).get("S") or None,
        previous_token_until=int(until) if until is not None else None,
    )


def _read_index(client: Any, table_name: str) -> dict[str, str]:
    """Store hash -> version of its credentials, for every store (eventually consistent)."""
    known: dict[str, str] = {}
    request: dict[str, Any] = {
        "TableName": table_name,
        "IndexName": KNOWN_STORES_INDEX.name,
        "KeyConditionExpression": "listed = :listed",
        "ExpressionAttributeValues": {":listed": {"S": KNOWN_STORES_PARTITION}},
    }
    while True:
        page = client.query(**request)
        for item in page.get("Items", []):
            known[item["store_hash"]["S"]] = item.get("version", {}).get("S", "")
        if "LastEvaluatedKey" not in page:
            return known
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@dataclass(frozen=True)
class _Cached:
    version: str  # the index's version of the store when its credentials were read
    auth: WebhookAuth | None


class WebhookCredentials:
    """The receiver's lookups: known stores from the index, credentials cached by version.

    A Lambda instance serves one request at a time; ``cartwatch local``'s gateway calls one
    instance from many threads.  There the index is read by one thread at a time while the
    others keep answering from the last one: when the index went stale under a burst, every
    request thread read it again at once — sixty reads of a thousand stores, each second,
    which queued the emulator's DynamoDB behind them until clients timed out and retried.
    A cached credential read twice by two threads costs a repeated read and nothing else.
    """

    # Re-reads past the cache (after a delivery failed against cached credentials) happen at
    # most this often per store: deliveries with bad credentials cannot turn into reads.
    REFRESH_INTERVAL_SECONDS = 10.0
    # After the index could not be read, the last one serves this long before the next try.
    INDEX_RETRY_SECONDS = 5.0

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        index_seconds: float = 60.0,
        reread_index_on_miss: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``reread_index_on_miss``: an unknown store hash reads the index again at once — for
        `cartwatch local` and the tests, where a store added a moment ago must be served at
        once; deployed, an unknown hash never costs a call (a new store waits for the minute)."""
        self._client = client
        self._table = table_name
        self._index_seconds = index_seconds
        self._reread_on_miss = reread_index_on_miss
        self._clock = clock
        self._known: dict[str, str] | None = None
        self._index_read_at = 0.0  # when the last read of the index began
        self._reading_index = threading.Lock()
        self._cache: dict[str, _Cached] = {}
        self._refreshed: dict[str, float] = {}

    def is_known(self, store_hash: str) -> bool:
        return store_hash in self._index()

    def webhook_auth(self, store_hash: str) -> WebhookAuth | None:
        """The store's credentials; None for a store the index does not list (no call made)."""
        # Read only where a miss re-reads the index (`cartwatch local`): not on the ack path.
        asked_at = self._clock() if self._reread_on_miss else 0.0
        version = self._index().get(store_hash)
        if version is None and self._reread_on_miss:
            # An index read begun after this delivery arrived (by this thread or another).
            version = self._index(begun_after=asked_at).get(store_hash)
        if version is None:
            return None
        cached = self._cache.get(store_hash)
        if cached is not None and cached.version == version:
            return cached.auth
        return self._read(store_hash, version, consistent=False)

    def refreshed_webhook_auth(self, store_hash: str) -> WebhookAuth | None:
        """The store's credentials read past the cache — at most once per
        ``REFRESH_INTERVAL_SECONDS`` per store; in between, the cached answer."""
        version = self._index().get(store_hash)
        if version is None:
            return None
        now = self._clock()
        last = self._refreshed.get(store_hash)
        if last is not None and now - last < self.REFRESH_INTERVAL_SECONDS:
            return self.webhook_auth(store_hash)
        self._refreshed[store_hash] = now
        return self._read(store_hash, version, consistent=True)

    def _read(self, store_hash: str, version: str, *, consistent: bool) -> WebhookAuth | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            item = self._client.get_item(
                TableName=self._table, Key=_key(store_hash), ConsistentRead=consistent
            ).get("Item")
        except (BotoCoreError, ClientError):
            # Never include the error text: it can echo request parameters.
            raise CredentialsUnavailable(f"could not read the credentials of {store_hash}") from None
        auth = auth_from_item(item) if item else None
        self._cache[store_hash] = _Cached(version, auth)
        return auth

    def _index(self, begun_after: float | None = None) -> dict[str, str]:
        """Every known store; re-read when older than ``index_seconds`` or, with
        ``begun_after``, when that read began at or before then."""
        if self._known is not None and self._current(begun_after):
            return self._known
        # While another thread reads it, the last index serves — unless there is none, or
        # the caller needs a newer one.
        waits = self._known is None or begun_after is not None
        if not self._reading_index.acquire(blocking=waits):
            return self._known or {}
        try:
            if self._known is not None and self._current(begun_after):
                return self._known  # read by the thread we waited for
            return self._reread()
        finally:
            self._reading_index.release()

    def _current(self, begun_after: float | None) -> bool:
        if begun_after is not None:
            return self._index_read_at > begun_after
        return self._clock() - self._index_read_at < self._index_seconds

    def _reread(self) -> dict[str, str]:
        now = self._clock()
        last = self._known
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            known = _read_index(self._client, self._table)
        except (BotoCoreError, ClientError):
            if last is None:
                raise CredentialsUnavailable("could not read the index of known stores") from None
            # Keep answering from the last index (a store added since waits a little longer)
            # and try again shortly, rather than failing every delivery.
            logger.warning("could not refresh the index of known stores; using the last one")
            self._known = last
            self._index_read_at = now - self._index_seconds + self.INDEX_RETRY_SECONDS
            return last
        self._known, self._index_read_at = known, now
        # Credentials of stores that are gone are dropped with them.
        for gone in self._cache.keys() - known.keys():
            del self._cache[gone]
        return known
