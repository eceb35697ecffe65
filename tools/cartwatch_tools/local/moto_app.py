"""The AWS emulator's process: moto's server app behind cartwatch's fidelity layers.

``python -m cartwatch_tools.local.moto_app --port N`` prints its endpoint on one line and
serves until its stdin closes (``moto_server.MotoServer`` starts and stops it).  It serves
with waitress, which keeps a client's connection open between requests as AWS's endpoints
do; moto's own server (werkzeug's development server) closes every connection after one
answer, so each AWS call paid for a new connection and a new server thread.  A request
passes, in order, through:

0. ``RequestBatch`` — ``POST /_cartwatch/batch``: many requests in one (seeding a fleet's
   data); each of them then goes through the layers below as if it had come alone.
1. ``DynamoDBSerialized`` — DynamoDB requests one at a time: DynamoDB applies a conditional
   write atomically; moto's in-memory backend checks the condition and writes in two steps
   without a lock, so two threads could both "win".  cartwatch's guarantees (one event per
   stage under racing sweeps, one state change under racing processors) rest on that
   atomicity, so the tests must not pass because of the emulator.  SQS, SNS and SSM stay
   concurrent.
2. ``AwsLimits`` — AWS's message size limits, which moto does not enforce.
3. ``CallTally`` — counts every call by service and operation (``GET /_cartwatch/calls``), so a
   benchmark can tell the AWS calls a whole running `cartwatch local` made.
4. ``CachedDispatcher`` — moto's dispatcher, its per-request backend lookup done once per host.

``speed_up_dispatch`` remembers which actions each service answers.  ``speed_up_sqs``
removes moto's SQS costs that grow with a queue's depth (see there): a burst of deliveries
leaves thousands of messages in the intake queue, and every one of them made each receive
slower.  ``speed_up_dynamodb`` writes DynamoDB's items into its
answers as they are instead of walking botocore's shape model through every attribute, and
answers a query from the queried partition alone (``partition_query``).
``speed_up_update_expressions`` parses each UpdateExpression once and walks its tree without
moto's per-node abstract-class checks.
"""

from __future__ import annotations

import argparse
import bisect
import copy
import functools
import importlib
import json
import logging
import operator
import signal
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any, cast

from moto.dynamodb.models.dynamo_type import Item, LimitedSizeDict
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from waitress.server import create_server

from cartwatch_tools.local.aws_limits import AwsLimits
from cartwatch_tools.local.call_tally import CallTally
from cartwatch_tools.local.request_batch import RequestBatch


class DynamoDBSerialized:
    """WSGI middleware: one DynamoDB request at a time, each that may change a table counted."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._lock = threading.Lock()
        TABLE_CHANGES.counted = True

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith("DynamoDB_"):
            return self._app(environ, start_response)
        with self._lock:
            try:
                # Materialize the body inside the lock: the backend does its work while the
                # response is produced.
                return list(self._app(environ, start_response))
            finally:
                if target.partition(".")[2] not in _CHANGE_NOTHING:
                    TABLE_CHANGES.count += 1


class TableChanges:
    """How many DynamoDB requests that may have changed a table the emulator has served: what
    was read of the tables at one count still holds at the same count (``index_partition``).
    Counted only where every DynamoDB request passes ``DynamoDBSerialized``."""

    def __init__(self) -> None:
        self.counted = False
        self.count = 0


TABLE_CHANGES = TableChanges()

# DynamoDB operations that change no table; every other one (PartiQL included) counts.
_CHANGE_NOTHING = frozenset(
    {
        "BatchGetItem",
        "DescribeContinuousBackups",
        "DescribeTable",
        "DescribeTimeToLive",
        "GetItem",
        "ListTables",
        "ListTagsOfResource",
        "Query",
        "Scan",
        "TransactGetItems",
    }
)


class CachedDispatcher(DomainDispatcherApplication):
    """moto's dispatcher, remembering which backend serves which host.

    For every request moto resolves the backend by listing its own package directory and
    matching hundreds of URL patterns, all under one lock: the largest single cost of a
    small request.  The answer for a host never changes.
    """

    def __init__(self, create_app: Any) -> None:
        super().__init__(create_app)
        self._backends: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        if host not in self._backends:
            self._backends[host] = super().get_backend_for_host(host)
        return self._backends[host]


def forget_instances() -> None:
    """moto's models without its list of every instance ever made.

    moto keeps each model instance it creates in a class-wide list for its dashboard
    (``/moto-api/data.json``), for the life of the process: every DynamoDB item a query
    copied, every stream record, every SQS message.  Under the load run the emulator grew
    past 3 GB.  S3's objects stay listed (moto's S3 reset disposes of them through it).
    """
    from moto.core.common_models import BaseModel

    def new(cls: type, *args: Any, **kwargs: Any) -> Any:
        instance: Any = object.__new__(cls)
        if cls.__module__.startswith("moto.s3."):
            cls.instances_tracked.append(instance)  # type: ignore[attr-defined]
        return instance

    BaseModel.__new__ = staticmethod(new)  # type: ignore[method-assign]


def speed_up_dispatch() -> None:
    """moto's per-request lookup of whether a service answers an action, done once per class.

    For every request moto lists the methods of the service's response class
    (``inspect.getmembers``) to see whether the action is one of them — a fifth of a small
    request's cost.  A class's methods never change while the emulator runs.
    """
    from moto.core import responses, utils

    responses.method_names_from_class = functools.cache(utils.method_names_from_class)  # type: ignore[attr-defined]


def speed_up_sqs() -> None:
    """Same answers from moto's SQS, without the work that grows with a queue's depth.

    A burst leaves thousands of messages in the intake queue, and moto made every call
    slower with each of them:

    * ``Queue.attributes`` counts visible, delayed and in-flight messages (three passes over
      the queue) even for callers that want one setting: ``SendMessage`` reads
      ``ContentBasedDeduplication`` there, ``ReceiveMessage`` the retention period — for
      every message received.  Here the attributes are a mapping that computes only what is
      read.
    * ``visible`` / ``delayed``, asked of every message on every receive, built two
      datetimes to read the clock; here it is ``time.time()``, the same clock.
    * ``DeleteMessage`` made two passes over the whole queue and rebuilt it; here one pass
      stops at the message (received messages sit at the front).
    """
    from moto.core.utils import camelcase_to_underscores
    from moto.sqs import models
    from moto.sqs.exceptions import ReceiptHandleIsInvalid

    class QueueAttributes(Mapping[str, Any]):
        """What moto's ``Queue.attributes`` returns, each value computed when it is read."""

        def __init__(self, queue: Any) -> None:
            self._queue = queue
            names = list(queue.BASE_ATTRIBUTES)
            if queue.fifo_queue:
                names += queue.FIFO_ATTRIBUTES
            if queue.kms_master_key_id:
                names += queue.KMS_ATTRIBUTES
            self._names = names

        def __getitem__(self, name: str) -> Any:
            if name not in self._names:
                raise KeyError(name)
            if name == "RedrivePolicy" and self._queue.redrive_policy:
                return json.dumps(self._queue.redrive_policy)
            value = getattr(self._queue, camelcase_to_underscores(name))
            return str(value).lower() if isinstance(value, bool) else value

        def __iter__(self) -> Iterator[str]:
            return iter(self._names)

        def __len__(self) -> int:
            return len(self._names)

    def visible(message: Any) -> bool:
        return bool(time.time() * 1000 > message.visible_at)

    def delayed(message: Any) -> bool:
        return bool(time.time() * 1000 < message.delayed_until)

    def within_retention(backend: Any, queue_name: str, message: Any) -> bool:
        retention = int(backend.get_queue(queue_name).message_retention_period)
        return bool(retention + message.sent_timestamp / 1000 > time.time())

    def delete_message(queue: Any, receipt_handle: str) -> None:
        if receipt_handle in queue.deleted_messages:
            return  # deleting twice is fine, as in SQS
        for index, message in enumerate(queue._messages):
            if message.had_receipt_handle(receipt_handle):
                del queue._messages[index]
                queue.pending_messages.discard(message)
                queue.deleted_messages.update(message.all_receipt_handles)
                return
        raise ReceiptHandleIsInvalid()

    models.Queue.attributes = property(QueueAttributes)  # type: ignore[assignment,method-assign]
    models.Message.visible = property(visible)  # type: ignore[assignment,method-assign]
    models.Message.delayed = property(delayed)  # type: ignore[assignment,method-assign]
    models.SQSBackend.is_message_valid_based_on_retention_period = within_retention  # type: ignore[method-assign,assignment]
    models.Queue.delete_message = delete_message  # type: ignore[method-assign,assignment]


def speed_up_dynamodb() -> None:
    """Same answers from moto's DynamoDB, without the shape walk through every item.

    moto serializes a response by walking botocore's output shape, member by member, down to
    every attribute of every item it returns — for an UpdateItem that returns a cart item
    (snapshot and history included) that walk cost more than the update itself.  An item's
    attribute values are already in DynamoDB's wire format (``{"S": "…"}``, ``{"M": {…}}``),
    which is what the walk produces from them, so they are copied as they are.  Binary values
    (``B``, ``BS``), which the wire format carries in base64, still take the walk.
    """
    from moto.core.serialize import BaseJSONSerializer

    walk = BaseJSONSerializer._serialize_type_structure

    def serialize_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if key and shape.name == "AttributeValue" and _wire_format(value):
            serialized[key] = value
            return
        walk(self, serialized, value, shape, key)

    BaseJSONSerializer._serialize_type_structure = serialize_structure  # type: ignore[method-assign]

    from moto.dynamodb.models.table import Table

    Table.query = partition_query(Table.query)  # type: ignore[method-assign]


def speed_up_update_expressions() -> None:
    """moto's UpdateItem, with its expression parsed once and its tree walked without ABC checks.

    An UpdateItem cost the emulator ~4.5 ms, the largest share of a webhook's: moto parses the
    same UpdateExpression twice per request (the handler and the backend each do), then ten
    validators walk the parsed tree, each asking at every node ``isinstance`` against a tuple
    of abstract classes rebuilt for every node.  The parse is memoized (a parsed tree is only
    read: the validator deep-copies it before it resolves anything into it) and the walk looks
    up each (validator, node class) pair's handler once — the same handler moto's ``process``
    would pick, in the same order.
    """
    for owner, name, value in update_expression_patches():
        setattr(owner, name, value)


def update_expression_patches() -> list[tuple[Any, str, Any]]:
    """What ``speed_up_update_expressions`` sets: (class, attribute, new value) triples, so
    that a test can set them for a while and compare with moto's own answers."""
    # moto's parsing modules are untyped.
    ast_nodes: Any = importlib.import_module("moto.dynamodb.parsing.ast_nodes")
    parser: Any = importlib.import_module("moto.dynamodb.parsing.expressions").UpdateExpressionParser

    parse = parser.make.__func__
    parsed = functools.lru_cache(maxsize=512)(lambda expression: parse(parser, expression))
    make = classmethod(lambda cls, expression: parsed(expression))

    handlers: dict[tuple[type, type], Any] = {}
    not_a_node = object()

    def handler(traverser: Any, kind: type) -> Any:
        if not issubclass(kind, ast_nodes.Node):
            return not_a_node
        for node_class, method in traverser._processing_map().items():
            if issubclass(kind, node_class):
                if getattr(method, "__self__", None) is traverser:
                    return method.__func__
                return lambda self, node: self.process(node)
        return None

    def traverse_node_recursively(self: Any, node: Any, child_id: int = -1) -> Any:
        key = (type(self), type(node))
        found = handlers.get(key)
        if found is None and key not in handlers:
            found = handlers[key] = handler(self, key[1])
        if found is not_a_node:
            return node
        parent_node = node.parent
        if node.children is not None:
            for i, child_node in enumerate(node.children):
                self.pre_processing_of_child(node, i)
                self.traverse_node_recursively(child_node, i)
        if found is not None:
            node = found(self, node)
            node.parent = parent_node
            if parent_node:
                parent_node.children[child_id] = node
        return node

    # Each UpdateExpression node of the tree counts its clauses over its whole subtree (moto's
    # ActionCountValidator), asking ``isinstance`` of two abstract classes at every child.
    nested: dict[type, bool] = {}

    def find_clauses(self: Any, clause_types: Any) -> list[Any]:
        clauses: list[Any] = []
        for child in self.children or ():
            kind = type(child)
            if kind in clause_types:
                clauses.append(child)
                continue
            deeper = nested.get(kind)
            if deeper is None:
                deeper = issubclass(kind, (ast_nodes.Expression, ast_nodes.UpdateExpressionFunction))
                nested[kind] = deeper
            if deeper:
                clauses.extend(child.find_clauses(clause_types))
        return clauses

    # The validator deep-copies the parsed tree per request; a node is plain attributes, so
    # it is copied as ``copy.deepcopy`` would, without its generic ``__reduce_ex__`` route.
    def node_copy(self: Any, memo: dict[int, Any]) -> Any:
        copied = object.__new__(type(self))
        memo[id(self)] = copied
        copied.__dict__.update(
            (name, value if type(value) in _ATOMS else copy.deepcopy(value, memo))
            for name, value in self.__dict__.items()
        )
        return copied

    return [
        (parser, "make", make),
        (ast_nodes.DepthFirstTraverser, "traverse_node_recursively", traverse_node_recursively),
        (ast_nodes.Node, "find_clauses", find_clauses),
        (ast_nodes.Node, "__deepcopy__", node_copy),
    ]


_ATOMS = frozenset({str, int, float, bool, type(None)})


def partition_query(query: Callable[..., Any]) -> Callable[..., Any]:
    """moto's ``Table.query``, shown only the queried partition of the table.

    For a query of a table's partition moto sorts *every item of the table* by its key, keeps the
    partition's, sorts them again, and walks from the first to the exclusive start key —
    each step comparing moto's ``DynamoType`` wrappers.  Paging through the 5,000 store rows
    of a fleet (hook health's turns) cost ~50 ms a page, and more with every cart in the
    table.  Here moto's own query runs as before, over the partition's items only: sorted by
    the value moto compares them by, those up to the exclusive start key left
    out (moto would skip them), and — for a query with no sort-key condition and no legacy
    filter, where moto stops at the first item past ``Limit`` — no more than ``Limit + 1`` of
    them.  An index query runs over the index's partition (``index_partition``); tables
    without a sort key take moto's path unchanged.
    """

    def partition_only(
        table: Any,
        hash_key: Any,
        range_comparison: str | None,
        range_objs: list[Any],
        limit: int | None,
        exclusive_start_key: dict[str, Any] | None,
        scan_index_forward: bool,
        projection_expressions: Any,
        index_name: str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        arguments = (hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward)
        legacy_filter = any(k not in _QUERY_OPTIONS for k in kwargs)
        if index_name is not None:
            conditions = kwargs.get("hash_key_conditions")
            if not conditions or legacy_filter:
                return query(table, *arguments, projection_expressions, index_name, *args, **kwargs)
            # moto's own query over the index's partition, each item as the index holds it.
            partition = index_partition(table, table.get_index(index_name), conditions)
            return over(partition, table, *arguments, projection_expressions, index_name, *args, **kwargs)
        sort_key = table.range_key_attr
        start = (exclusive_start_key or {}).get(sort_key) if sort_key else None
        if hash_key is None or not sort_key or (exclusive_start_key and not start):
            return query(table, *arguments, projection_expressions, index_name, *args, **kwargs)
        from moto.dynamodb.models.dynamo_type import DynamoType

        ordered = sorted(
            ((_sort_value(item.range_key), item) for item in table.items.get(hash_key, {}).values()),
            key=operator.itemgetter(0),
        )
        partition = [_view(item) for _, item in ordered]
        if start is not None:
            keys = [value for value, _ in ordered]
            after = _sort_value(DynamoType(start))
            if scan_index_forward:
                partition = partition[bisect.bisect_right(keys, after) :]
            else:
                partition = partition[: bisect.bisect_left(keys, after)]
        stops_at_limit = not range_comparison and not kwargs.get("range_key_conditions")
        if limit and stops_at_limit and not legacy_filter:
            partition = partition[: limit + 1] if scan_index_forward else partition[-(limit + 1) :]
        return over(partition, table, *arguments, projection_expressions, index_name, *args, **kwargs)

    def over(items: list[Any], table: Any, *arguments: Any, **kwargs: Any) -> Any:
        """moto's query, reading ``items`` as the table's: it reads them through ``all_items``
        (DynamoDB requests run one at a time, DynamoDBSerialized)."""
        table.all_items = lambda: items
        try:
            return query(table, *arguments, **kwargs)
        finally:
            del table.all_items

    return partition_only


def index_partition(table: Any, index: Any, conditions: list[tuple[str, Any]]) -> list[Any]:
    """The items of one partition of ``index``, as the index holds them: those whose index
    partition key is the queried one and that carry every key attribute of the index (an
    index is sparse), each with its projected attributes only.

    moto's index query sorts every item of the table, deep-copies every item it returns and
    projects each one by turning the *whole* item into JSON once per projected attribute: a
    read of the ``known`` index (every store) or of the due index cost tens of milliseconds,
    more with every cart in the table.  Picking the partition first and projecting by name
    (an index projects top-level attributes only) gives moto's query the same items to
    order, page, filter and size — DynamoDB sizes an index read by the projected items too.

    Finding a partition reads the whole table, so every partition of the index is filed in
    that one pass and kept until a request may have changed a table (``TABLE_CHANGES``): a
    sweep reads its sixteen due shards one after another, and each read the table again —
    at a hundred thousand webhooks, most of the warm-memory benchmark's hour.
    """
    names = tuple(name for name, _ in conditions)
    wanted = tuple(value for _, value in conditions)
    if not TABLE_CHANGES.counted:
        return list(_partitions_of(table, index, names).get(wanted, ()))
    filed = _filed.setdefault(table, {})
    kept = filed.get((index.name, names))
    if kept is None or kept[0] != TABLE_CHANGES.count:
        kept = filed[(index.name, names)] = (TABLE_CHANGES.count, _partitions_of(table, index, names))
    return list(kept[1].get(wanted, ()))


# Each table's index partitions as last filed, with the count of changes they were filed at.
_filed: weakref.WeakKeyDictionary[
    Any, dict[tuple[str, tuple[str, ...]], tuple[int, dict[Any, list[Any]]]]
] = weakref.WeakKeyDictionary()


def _partitions_of(table: Any, index: Any, names: tuple[str, ...]) -> dict[tuple[Any, ...], list[Any]]:
    """Every partition of ``index`` by the values of ``names`` (its partition key attributes)."""
    key_names = [key["AttributeName"] for key in index.schema]
    projection = index.projection or {}
    kind = projection.get("ProjectionType", "ALL")
    projected = [*index.table_key_attrs, *key_names]
    if kind == "INCLUDE":
        projected += projection.get("NonKeyAttributes", [])
    partitions: dict[tuple[Any, ...], list[Any]] = {}
    for entry in table.items.values():
        for item in entry.values() if table.range_key_attr else (entry,):
            attrs = item.attrs
            values = tuple(attrs.get(name) for name in names)
            if any(value is None for value in values) or not all(attrs.get(name) for name in key_names):
                continue
            # DynamoType hashes and compares by type and value, as a key condition matches.
            partitions.setdefault(values, []).append(_view(item, None if kind == "ALL" else projected))
    return partitions


def _view(item: Any, names: list[str] | None = None) -> Any:
    """``item`` as a query answers from it — all its attributes, or only ``names`` — sharing
    its values, and not copied again by the query.

    moto deep-copies every item a query returns so that projecting it cannot change the
    stored one; but a projection builds new items, and nothing else on the way to the
    response writes to an item (DynamoDBSerialized keeps a write from running meanwhile).
    The copy was the largest cost of reading a partition of a thousand store rows.
    """
    view: Any = _Answered.__new__(_Answered)
    view.hash_key, view.range_key = item.hash_key, item.range_key
    if names is None:
        view.attrs = item.attrs
    else:
        # Not LimitedSizeDict's own inserts, which re-measure the item each time: these
        # attributes are part of an item that passed its size check when it was written.
        view.attrs = LimitedSizeDict.__new__(LimitedSizeDict)
        for name in names:
            if name in item.attrs:
                dict.__setitem__(view.attrs, name, item.attrs[name])
    return view


class _Answered(Item):
    # moto's model registry files a class under its module's second dotted part, and this
    # module may be running as ``__main__``.
    __module__ = "cartwatch_tools.local.moto_app"

    def __deepcopy__(self, memo: dict[int, Any]) -> _Answered:
        return self

    def project(self, projection_expressions: list[list[str]]) -> Item:
        # An index's projection asks for top-level names, and ``index_partition`` already kept
        # only those: moto would rebuild the same item through JSON, once per item answered.
        if all(len(path) == 1 for path in projection_expressions) and self.attrs.keys() <= {
            path[0] for path in projection_expressions
        }:
            return self
        return super().project(projection_expressions)


def _sort_value(key: Any) -> Any:
    """What moto compares two keys by (``DynamoType.cast_value``); for a string or binary key
    that is its value, read without the type tests ``cast_value`` makes first."""
    return key.value if key.type in ("S", "B") else key.cast_value


# Keyword arguments of moto's Table.query that are not its legacy per-attribute filters
# (``QueryFilter``), which skip items without counting them against ``Limit``.
_QUERY_OPTIONS = frozenset(
    {"consistent_read", "filter_expression", "hash_key_conditions", "range_key_conditions"}
)


_SCALAR_TYPES = frozenset({"S", "N", "SS", "NS", "NULL", "BOOL"})


def _wire_format(value: Any) -> bool:
    """An attribute value with no binary in it, as a plain ``{type: value}`` mapping."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    ((kind, inner),) = value.items()
    if kind in _SCALAR_TYPES:
        return True
    if kind == "M":
        return isinstance(inner, dict) and all(_wire_format(v) for v in inner.values())
    if kind == "L":
        return isinstance(inner, list) and all(_wire_format(v) for v in inner)
    return False


# Requests served at once (a long-polling receive holds one while it waits), and open
# connections kept: every client of `cartwatch local`'s functions keeps a pool of its own.
_THREADS = 32
_CONNECTIONS = 2000


def serve(port: int) -> None:
    """Serve until our stdin closes: the parent stopped us, or is gone."""
    # Ctrl-C in a terminal signals the whole process group: the parent shuts down in order
    # and then closes our stdin; a KeyboardInterrupt here would only print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The emulator should be quiet: waitress warns of every queued request.
    logging.getLogger("waitress").setLevel(logging.ERROR)
    forget_instances()
    speed_up_dispatch()
    speed_up_sqs()
    speed_up_dynamodb()
    speed_up_update_expressions()
    app = RequestBatch(DynamoDBSerialized(AwsLimits(CallTally(CachedDispatcher(create_backend_app)))))
    try:
        server = create_server(
            app,
            host="127.0.0.1",
            port=port,
            threads=_THREADS,
            connection_limit=_CONNECTIONS,
            asyncore_use_poll=True,
            ident=None,
        )
    except OSError as error:
        print(f"error: {error.strerror}", flush=True)
        raise SystemExit(1) from None
    thread = threading.Thread(target=server.run, name="moto-server", daemon=True)
    thread.start()
    bound = cast(Any, server).effective_port  # one listening socket: a TcpWSGIServer
    print(f"http://127.0.0.1:{bound}", flush=True)
    sys.stdin.read()
    server.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cartwatch_tools.local.moto_app")
    parser.add_argument("--port", type=int, default=0)
    serve(parser.parse_args(argv).port)


if __name__ == "__main__":
    main()
