"""The shape of every AWS resource cartwatch stores state in.

One source of truth for both deployments: the CDK stack (``infra/``) and ``cartwatch local``
(which creates the same table, queues and topic in the embedded moto server) read these
definitions, so keys, indexes and queue settings can never drift apart.

Everything here is plain data: importing it costs nothing at cold start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cartwatch.adapters.cart_table import attributes as attr
from cartwatch.domain.event_types import EVENT_TYPES, PLATFORM

AttributeType = Literal["S", "N"]


@dataclass(frozen=True)
class KeyAttribute:
    name: str
    type: AttributeType


@dataclass(frozen=True)
class GlobalIndex:
    name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute
    projection: Literal["ALL", "KEYS_ONLY", "INCLUDE"]
    non_key_attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableDefinition:
    partition_key: KeyAttribute
    sort_key: KeyAttribute
    indexes: tuple[GlobalIndex, ...]
    ttl_attribute: str
    stream_view: Literal["NEW_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"]


@dataclass(frozen=True)
class QueueDefinition:
    visibility_timeout_seconds: int
    retention_seconds: int
    max_receive_count: int
    # The queue's MaximumMessageSize.  Set explicitly rather than left to SQS's default
    # (raised from 256 KiB to 1 MiB in 2025): the ack path derives its 413 bound from it.
    max_message_bytes: int = 256 * 1024
    dlq_retention_seconds: int = 14 * 24 * 3600


@dataclass(frozen=True)
class StreamSourceDefinition:
    """A DynamoDB stream event source mapping (the publisher's, the figure tally's), as AWS
    Lambda runs it.

    The CDK stack configures the mapping from these values and `cartwatch local`'s stream
    poller enacts the same semantics (tools/cartwatch_tools/local/event_sources.py).
    """

    batch_size: int
    # Retries of a failing batch after its first attempt; then the batch's stream
    # coordinates go to the on-failure destination and the shard moves on.  -1: retried
    # until the records leave the stream (24 hours).
    max_retry_attempts: int
    bisect_batch_on_error: bool
    # Records older than this are not retried but discarded to the on-failure destination;
    # None is AWS's default (-1): retried until the stream drops them after 24 hours.
    max_record_age_seconds: int | None
    report_batch_item_failures: bool = True
    # A tumbling window (Lambda's stateful stream processing): each invocation gets the
    # window's state from the one before, and the window's last invocation is marked final.
    tumbling_window_seconds: int | None = None
    # How long Lambda gathers records before an invocation (fewer, larger batches).
    max_batching_window_seconds: int = 0


@dataclass(frozen=True)
class TopicDefinition:
    platform: str = PLATFORM
    event_types: tuple[str, ...] = EVENT_TYPES


# The due index holds only open carts (a sparse index: only items carrying ``due_shard``
# appear).  Its partition key is write-sharded (``DUE#00`` .. ``DUE#{n-1}``) so a burst of
# carts falling due in the same second never lands on one index partition.  ``due_at`` is
# a *lower bound* of when the cart's next stage falls due: ordinary activity does not move
# it (that would cost two index writes per webhook); the sweep finds the entry, lets a
# conditional write re-check the base item, and pushes the entry forward when the cart
# was busy.  The projection carries only slow-moving attributes for the same reason — the
# channel among them: it picks the cart's stages, and it is written once, when it becomes known.
DUE_INDEX = GlobalIndex(
    name="due",
    partition_key=KeyAttribute(attr.DUE_SHARD, "S"),
    sort_key=KeyAttribute(attr.DUE_AT, "N"),
    projection="INCLUDE",
    non_key_attributes=(
        attr.STORE_HASH,
        attr.CART_ID,
        attr.STATUS,
        attr.STAGE,
        attr.ABANDONED_AT,
        attr.CHANNEL_ID,
    ),
)

# The listing index serves the query API (``GET /v1/stores/{store}/carts``): one partition
# per store and lifecycle status (``CARTS#<store>#<status>``), newest transition first.
# It is sparse and written only by *transitions*: a cart enters it when it is first
# abandoned, suppressed, or (for a cart bought without ever being abandoned) when the
# publisher records its order; it moves partition when its status changes and its sort key
# (``modified_at``, the time of its latest transition) moves with each transition.
# Nothing it keys on or projects changes on an ordinary webhook — not ``last_activity_at``,
# not ``version``, not the abandoned hint — so ordinary activity writes no index units.  The
# cart's last activity it shows (``listed_activity_at``, the query API's ``modified_from/to``
# as API2Cart's) is copied at each listing write: an abandoned or closed cart's last activity
# cannot move without a transition, so only an open listed cart's may be newer.
# The projection carries every filterable field, so a page reads only index items.
LISTING_INDEX = GlobalIndex(
    name="listing",
    partition_key=KeyAttribute(attr.LISTING_KEY, "S"),
    sort_key=KeyAttribute(attr.MODIFIED_AT, "N"),
    projection="INCLUDE",
    non_key_attributes=(
        attr.STORE_HASH,
        attr.CART_ID,
        attr.STATUS,
        attr.STAGE,
        attr.LAST_ABANDONED_STAGE,
        attr.CART_CREATED_AT,
        attr.LISTED_ACTIVITY_AT,
        attr.ABANDONED_AT,
        attr.CLOSED_AT,
        attr.ORDER_ID,
        attr.CHANNEL_ID,
        attr.SUPPRESSED_AT,
        attr.CUSTOMER_ID,
        attr.CUSTOMER_EMAIL,
        attr.CART_TOTAL,
        attr.CURRENCY,
        attr.SNAPSHOT,
        attr.ORDER,
    ),
)

# The outbox index serves the outbox's safety net: one entry per cart whose latest event is
# not published yet (``unpublished``), in a write-sharded live partition (``OUTBOX#nn``) or
# the parked one (``PARKED``), sorted by when the scheduled relay may take it over.  The
# publisher removes the entry as it publishes, so the index holds events in flight (for
# seconds) and stuck ones — a relay run reads those, not the table.  Keys only: the relay
# reads each cart strongly consistent before it acts.
OUTBOX_INDEX = GlobalIndex(
    name="outbox",
    partition_key=KeyAttribute(attr.OUTBOX_SHARD, "S"),
    sort_key=KeyAttribute(attr.OUTBOX_DUE, "N"),
    projection="KEYS_ONLY",
)

# The shopper index serves the shopper rules (domain/shopper.py): one partition per store and
# shopper (``SHOPPER#<store>#<key>``), a shopper's latest recorded carts first.  Sparse and
# written by the publisher only — when it learns who the shopper is: with a stage-1
# snapshot, or with a purchase's order — so no webhook ever writes it.  Keys only: the
# publisher reads the carts it finds strongly consistent before it decides anything.
SHOPPER_INDEX = GlobalIndex(
    name="shopper",
    partition_key=KeyAttribute(attr.SHOPPER, "S"),
    sort_key=KeyAttribute(attr.SHOPPER_AT, "N"),
    projection="KEYS_ONLY",
)

# How often the scheduled relay looks for stuck or deferred events (the publisher, on an
# EventBridge schedule; `cartwatch local` runs it on the same period).
OUTBOX_RESCUE_MINUTES = 1

# The stores' webhook credentials, in a table of their own (architecture decision 60): what the
# receiver checks deliveries against, and nothing else — no function that reads carts can read
# them, and the cart table's stream never carries them.  One item per store, keyed by its hash.
# The ``known`` index lists every store with the version of its credentials: the receiver
# reads it whole, every minute, so an unknown store hash costs no call at all and a cached
# secret is dropped as soon as its version changes.  Every item carries ``listed`` = ``STORES``.
CREDENTIALS_KEY = KeyAttribute("store_hash", "S")
KNOWN_STORES_INDEX = GlobalIndex(
    name="known",
    partition_key=KeyAttribute("listed", "S"),
    sort_key=KeyAttribute("store_hash", "S"),
    projection="INCLUDE",
    non_key_attributes=("version",),
)
KNOWN_STORES_PARTITION = "STORES"

TABLE = TableDefinition(
    partition_key=KeyAttribute(attr.PK, "S"),
    sort_key=KeyAttribute(attr.SK, "S"),
    indexes=(DUE_INDEX, LISTING_INDEX, OUTBOX_INDEX, SHOPPER_INDEX),
    ttl_attribute=attr.EXPIRES_AT,
    # The stream is the outbox: a transition writes its event intent (``pending_event``)
    # into the cart item in the same write, and the publisher consumes stream records
    # whose new image carries one.  The figure tally reads every write of a cart with the
    # cart before it (what the write changed of the store's figures), hence the old image
    # too: stream records cost no write units, and Lambda reads them at no charge.
    stream_view="NEW_AND_OLD_IMAGES",
)

# The processor's timeout is 60 s; SQS visibility must be at least 6x the consumer's
# timeout (AWS guidance for Lambda event sources) so a slow batch is never redelivered
# while it is still running.
PROCESSOR_TIMEOUT_SECONDS = 60
INTAKE_QUEUE = QueueDefinition(
    visibility_timeout_seconds=6 * PROCESSOR_TIMEOUT_SECONDS,
    retention_seconds=4 * 24 * 3600,
    max_receive_count=5,
)

TOPIC = TopicDefinition()

# With bisection, ten attempts isolate a poison record in a batch of 100 and still retry
# transient SNS/BigCommerce failures a few times before giving up on it (bisected halves
# do not count against the retries — AWS Lambda's rule).  No record age limit: while the
# publisher cannot be invoked at all (throttled, broken deployment), records wait for it
# until the stream drops them, rather than being discarded early.
PUBLISHER_STREAM = StreamSourceDefinition(
    batch_size=100,
    max_retry_attempts=10,
    bisect_batch_on_error=True,
    max_record_age_seconds=None,
)

# The figure tally (store figures per day, decision 48) reads every write of a cart in
# tumbling windows of 15 minutes — Lambda's longest — and adds each window's figures once,
# so the counters cost one write per store and day per window, whatever the traffic.  A
# failing window end is retried until it succeeds (-1: until the records leave the stream,
# 24 hours; alarmed long before by the mapping's iterator age), never bisected: a window's
# figures are added whole.
FIGURE_TALLY_STREAM = StreamSourceDefinition(
    batch_size=1000,
    max_retry_attempts=-1,
    bisect_batch_on_error=False,
    max_record_age_seconds=None,
    report_batch_item_failures=False,
    tumbling_window_seconds=900,
    # A window is at most 15 invocations and its end, however busy the table.
    max_batching_window_seconds=60,
)

# Service limits cartwatch designs against (AWS enforces them; the embedded moto server is
# wrapped to enforce them too, see tools/cartwatch_tools/local/aws_limits.py).
# SNS: a message, and a PublishBatch request in total, each at most 256 KiB counting
# bodies and message attributes; at most 10 entries per PublishBatch.
SNS_MESSAGE_MAX_BYTES = 256 * 1024
SNS_BATCH_MAX_BYTES = 256 * 1024
SNS_BATCH_MAX_ENTRIES = 10
# DynamoDB: an item (attribute names and values) at most 400 KB.
DYNAMODB_ITEM_MAX_BYTES = 400 * 1024

# Interpreter settings every function runs with; the stack sets them and the import
# benchmark measures under them.  cartwatch uses no pydantic plugins, and without this
# pydantic scans every installed distribution's entry points when it builds its first model.
RUNTIME_ENVIRONMENT: dict[str, str] = {"PYDANTIC_DISABLE_PLUGINS": "__all__"}

# Each function's memory (MB), sized from what it was measured to hold at its largest input
# (`bench/footprint.py`: twice that, with the runtime's client, within the size): the stack
# sets them, and `bench/run` checks them against the measurement and prices them.  The
# sweeper keeps more than its memory needs for the CPU share (Lambda gives CPU in proportion
# to memory), since its work per run is bounded by time; see docs/capacity.md.
FUNCTION_MEMORY_MB: dict[str, int] = {
    "receiver": 256,
    "processor": 256,
    "sweeper": 512,
    "hook_health": 256,
    "publisher": 512,
    "query_api": 256,
    "app_callbacks": 256,
    "store_purge": 256,
    "archiver": 256,
    "figure_tally": 512,
}

# The publisher reads the stream records whose new image carries an event intent (the
# outbox, ``attr.PENDING_EVENT``); every other write removes it, so no event is published
# twice.  Transitions of existing carts are MODIFY records, a cart converted on first sight
# an INSERT.
PUBLISHER_STREAM_FILTER = {
    "eventName": ["INSERT", "MODIFY"],
    "dynamodb": {"NewImage": {attr.PENDING_EVENT: {"S": [{"exists": True}]}}},
}

# The figure tally reads writes of cart items (``sk = STATE``: carts and their tombstones),
# never those of store rows, the app's ledger or the figures it writes itself.
FIGURE_TALLY_STREAM_FILTER = {
    "eventName": ["INSERT", "MODIFY"],
    "dynamodb": {"Keys": {attr.SK: {"S": [attr.STATE_SK]}}},
}

# The query API's routes on the same HTTP API, every one IAM-authorized (SigV4).  The CDK
# stack adds exactly these; `cartwatch local`'s gateway matches and signs-checks the same.
QUERY_API_PREFIX = "/v1"
QUERY_ROUTES: tuple[tuple[str, str], ...] = (
    ("GET", "/v1/openapi.json"),
    ("GET", "/v1/stores/{store_hash}/carts"),
    ("GET", "/v1/stores/{store_hash}/carts/{cart_id}"),
    ("DELETE", "/v1/stores/{store_hash}/carts/{cart_id}"),
    ("POST", "/v1/stores/{store_hash}/carts/{cart_id}/suppress"),
    ("POST", "/v1/stores/{store_hash}/shoppers/erase"),
    ("GET", "/v1/stores/{store_hash}/stats"),
)

# The event archive: an SQS queue subscribed to the topic (raw delivery) feeds the archiver,
# which writes each batch as gzipped objects by store and hour (domain/event_archive.py).
# Long batches make few, larger objects: S3 PUTs, not storage, dominate the archive's cost.
ARCHIVE_BATCH_SIZE = 1000
ARCHIVE_BATCH_WINDOW_SECONDS = 60
ARCHIVER_TIMEOUT_SECONDS = 60
ARCHIVE_QUEUE = QueueDefinition(
    visibility_timeout_seconds=6 * ARCHIVER_TIMEOUT_SECONDS,
    retention_seconds=4 * 24 * 3600,
    max_receive_count=5,
)
# The message attribute a replay to the topic adds; the archive's subscription skips such
# events (they are archived already).
REPLAY_ATTRIBUTE = "cartwatch_replay"
ARCHIVE_FILTER_POLICY = {REPLAY_ATTRIBUTE: [{"exists": False}]}
# How long archived events are kept (days); the bucket's lifecycle rule expires them.
ARCHIVE_RETENTION_DAYS = 30
# Archive batches side by side: a backlog of events to archive (S3 down for a while) can
# wait, and must not draw on the account's concurrency the receiver needs. Two is the
# smallest maximum an SQS event source takes; at peak (~60 events/s, docs/capacity.md) one
# instance writing a batch of up to 1,000 events at a time keeps up.
ARCHIVER_MAX_CONCURRENCY = 2

# The purge job (uninstall checks and purge steps).  Each message is one bounded step that
# stops with time to spare and queues its successor, so the timeout only caps a step.
PURGE_JOB_TIMEOUT_SECONDS = 60
# Purge steps of one purge run side by side (one per scan segment); more would only let a
# burst of uninstalls crowd the table's write capacity.
PURGE_MAX_CONCURRENCY = 4
PURGE_QUEUE = QueueDefinition(
    visibility_timeout_seconds=6 * PURGE_JOB_TIMEOUT_SECONDS,
    retention_seconds=4 * 24 * 3600,
    max_receive_count=5,
)

# The BigCommerce app's callbacks, on the same HTTP API: the stack adds exactly these routes,
# `cartwatch local`'s gateway matches the same, and the handler dispatches on them.
APP_CALLBACK_PATH = "/bigcommerce/app"
APP_ROUTES: dict[str, tuple[str, str]] = {
    "auth": ("GET", f"{APP_CALLBACK_PATH}/auth"),
    "load": ("GET", f"{APP_CALLBACK_PATH}/load"),
    "settings": ("POST", f"{APP_CALLBACK_PATH}/settings"),
    "uninstall": ("GET", f"{APP_CALLBACK_PATH}/uninstall"),
    "remove_user": ("GET", f"{APP_CALLBACK_PATH}/remove-user"),
}

# The webhook route: BigCommerce posts every delivery here.
WEBHOOK_ROUTE: tuple[str, str] = ("POST", "/webhooks/bigcommerce/{store_hash}")


@dataclass(frozen=True)
class Throttle:
    """A token bucket, as API Gateway throttles: ``rate_limit`` requests per second refill
    it, ``burst_limit`` is its size."""

    rate_limit: int
    burst_limit: int


@dataclass(frozen=True)
class ThrottlePlan:
    """One throttle per route of the HTTP API, by kind of caller.

    Every route has its own bucket (API Gateway's route-level throttling), so a query client
    or a flood of merchant-page requests drains only its own route's bucket.  What they
    still share is the account's regional quota (every API of the account counts against
    it), so the plan is valid only when every route at its limit fits in that quota: then
    no amount of query traffic can take a token the webhook route needs.
    """

    intake: Throttle  # the webhook route: BigCommerce's deliveries
    query: Throttle  # each /v1 route: consumers of the query API
    app: Throttle  # each app callback route: BigCommerce's callbacks and merchants' browsers

    def routes(self) -> dict[str, Throttle]:
        """Route key (``METHOD /path``, as API Gateway writes it) -> its throttle."""
        plan = {f"{WEBHOOK_ROUTE[0]} {WEBHOOK_ROUTE[1]}": self.intake}
        plan.update({f"{method} {path}": self.query for method, path in QUERY_ROUTES})
        plan.update({f"{method} {path}": self.app for method, path in APP_ROUTES.values()})
        return plan

    def total(self) -> Throttle:
        """What every route at its limit adds up to (against the account's quota)."""
        routes = self.routes().values()
        return Throttle(sum(t.rate_limit for t in routes), sum(t.burst_limit for t in routes))


# Intake has room for twice the design peak (1,000 webhooks/s, docs/capacity.md): a 429
# counts against BigCommerce's 90 % delivery rule for the whole destination domain.  The
# query API and the app's callbacks get what their callers need, no more.
DEFAULT_THROTTLES = ThrottlePlan(
    intake=Throttle(rate_limit=2000, burst_limit=3000),
    query=Throttle(rate_limit=50, burst_limit=100),
    app=Throttle(rate_limit=10, burst_limit=20),
)
# API Gateway's default account quota per region, shared by every API of the account.
API_GATEWAY_ACCOUNT_QUOTA = Throttle(rate_limit=10_000, burst_limit=5_000)
