"""The cart item's key and attribute names in the cartwatch table — spelled here once.

    pk = CART#<store>#<cart>   sk = STATE   a cart (kind "cart"), or its tombstone once erased
                                            (kind "erased")
    pk = STATS#<store>         sk = DAY#<yyyy-mm-dd>   the store's figures of one UTC day
                                            (``adapters/daily_counters.py``)

The table and index definitions (``cartwatch.resources``), the stream filter, the adapter
and the tooling all name attributes through these constants.
"""

from __future__ import annotations

from typing import Final

PK: Final = "pk"
SK: Final = "sk"
STATE_SK: Final = "STATE"
KIND: Final = "kind"
CART_KIND: Final = "cart"
TOMBSTONE_KIND: Final = "erased"  # what is left of an erased cart: its key and a TTL

# The lifecycle state (``CartState``).
STORE_HASH: Final = "store_hash"
CART_ID: Final = "cart_id"
STATUS: Final = "status"
VERSION: Final = "version"
CART_CREATED_AT: Final = "cart_created_at"
LAST_ACTIVITY_AT: Final = "last_activity_at"
STAGE: Final = "stage"
LAST_ABANDONED_STAGE: Final = "last_abandoned_stage"
ABANDONED_AT: Final = "abandoned_at"
ABANDONED_TOKEN: Final = "abandoned_token"  # noqa: S105 — an attribute name, not a secret
ABANDONED_HINT_AT: Final = "abandoned_hint_at"
CHANNEL_ID: Final = "channel_id"
ORDER_ID: Final = "order_id"
CLOSED_AT: Final = "closed_at"
SUPPRESSED_AT: Final = "suppressed_at"
SHOPPER_BOUGHT_AT: Final = "shopper_bought_at"  # the shopper bought another cart: series stopped
# Stored only in the rare "no activity seen yet" case, to keep items small.
NO_ACTIVITY: Final = "no_activity"

# The due index (open carts only) and the listing index (listed carts only).
DUE_SHARD: Final = "due_shard"
DUE_AT: Final = "due_at"
LISTING_KEY: Final = "listing_key"
MODIFIED_AT: Final = "modified_at"
# The cart's last activity as of its latest listing write: the listing's ``last_activity_at``
# (``modified_from/to``).  Written with ``modified_at`` only, so activity alone writes no
# index unit; exact for every listed cart but an open one (which came back after an
# abandonment and may have been active since its transition).
LISTED_ACTIVITY_AT: Final = "listed_activity_at"

# The shopper index (carts whose shopper the publisher learnt): partition ``shopper``
# (``SHOPPER#<store>#<key>``), sort key ``shopper_at`` (when the publisher recorded it).
SHOPPER: Final = "shopper"
SHOPPER_AT: Final = "shopper_at"

HISTORY: Final = "history"
SNAPSHOT: Final = "snapshot"
ORDER: Final = "order"
RECOVERY_OF: Final = "recovery_of"
# The listing's filters, flattened from the snapshot or the order.
CUSTOMER_ID: Final = "customer_id"
CUSTOMER_EMAIL: Final = "customer_email"
CART_TOTAL: Final = "cart_total"
CURRENCY: Final = "currency"

EXPIRES_AT: Final = "expires_at"  # the table's TTL
ERASED_AT: Final = "erased_at"
# The outbox: a transition writes its event intent here, in the same write; the publisher's
# stream filter selects images that carry it, and every other write removes it.
PENDING_EVENT: Final = "pending_event"
# The outbox slot (``OutboxSlot``): the latest event until it is published, and its entry in
# the sparse outbox index (partition ``outbox_shard``: ``OUTBOX#nn`` or ``PARKED``; sort key
# ``outbox_due``); ``parked_reason`` says why a parked event failed.
UNPUBLISHED: Final = "unpublished"
OUTBOX_SHARD: Final = "outbox_shard"
OUTBOX_DUE: Final = "outbox_due"
PARKED_REASON: Final = "parked_reason"


def cart_pk(store_hash: str, cart_id: str) -> str:
    return f"CART#{store_hash}#{cart_id}"


def cart_key(store_hash: str, cart_id: str) -> dict[str, dict[str, str]]:
    return {PK: {"S": cart_pk(store_hash, cart_id)}, SK: {"S": STATE_SK}}


def store_carts_prefix(store_hash: str) -> str:
    """The ``pk`` prefix every cart of a store shares."""
    return f"CART#{store_hash}#"


def cart_ref_of(pk: str) -> tuple[str, str]:
    """(store hash, cart id) of a cart's ``pk``: store hashes hold no '#', cart ids may."""
    _, store_hash, cart_id = pk.split("#", 2)
    return store_hash, cart_id


def cart_id_of(pk: str) -> str:
    # CART#<store>#<cart>: cart ids may themselves contain '#'.
    return pk.split("#", 2)[2]


def shopper_partition(store_hash: str, key: str) -> str:
    """A shopper's partition in the shopper index: one per store and shopper key."""
    return f"SHOPPER#{store_hash}#{key}"


def shopper_key_of(partition: str) -> str:
    # SHOPPER#<store>#<key>: store hashes hold no '#'.
    return partition.split("#", 2)[2]


def listing_partition(store_hash: str, status: str) -> str:
    """A listed cart's partition in the listing index: one per store and status."""
    return f"CARTS#{store_hash}#{status}"


# The store's daily figures (``adapters/daily_counters.py``): one item per store and UTC day.
STATS_PREFIX: Final = "STATS#"
DAY_PREFIX: Final = "DAY#"
# The marker of the latest window of writes added to a day (see ``service/figure_tally.py``).
TALLY_MARKER: Final = "tally"


def stats_pk(store_hash: str) -> str:
    return f"{STATS_PREFIX}{store_hash}"


def day_sk(day: str) -> str:
    return f"{DAY_PREFIX}{day}"
