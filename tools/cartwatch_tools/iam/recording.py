"""Which function made which AWS call.

A function's own clients name it: the composition root builds each function's boto3
clients in one factory (``cartwatch.composition.AwsClients``), and ``attributed_to(function,
deployment)`` is the event handler that factory registers on them, wherever `cartwatch
local` and the tests build a function.  ``acting_as(function, deployment)`` names the caller
for everything the current thread does inside it, for code a test runs as a function with
clients of its own.  A botocore handler, installed once per process, reads either on every
call (the client's name first) and records the IAM requests the call needs, attributed to
that function.

Other calls are not a function's (the operator's CLI — its clients say so with
``no_function()`` —, test set-up and assertions) and are not recorded — except when function
code makes them: a call with a
handler or a function-only module on its stack and no caller named is recorded as a
problem, so a test that forgets to say who is calling fails instead of going unchecked.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cartwatch_tools.iam.calls import IamRequest, UnmappedCall, Where, describe, iam_requests

# Set by tests on `cartwatch local`: the file every recorded call is appended to (JSON lines).
CALL_LOG_ENV = "CARTWATCH_AWS_CALL_LOG"

# Modules only Lambda functions run.  Shared code (the store registry, the cart repository,
# the hook reconciler the CLI also uses) is left out: the CLI calls it as the operator.
FUNCTION_CODE = (
    "cartwatch.handlers.",
    "cartwatch.composition",
    "cartwatch.service.intake",
    "cartwatch.service.processing",
    "cartwatch.service.sweeping",
    "cartwatch.service.publishing",
    "cartwatch.service.enrichment",
    "cartwatch.service.cart_queries",
    "cartwatch.service.app_install",
    "cartwatch.service.merchant_page",
    "cartwatch.service.uninstall",
    "cartwatch.service.purge_job",
    "cartwatch.service.hook_health",
    "cartwatch.adapters.intake_queue",
    "cartwatch.adapters.cart_table.listing",
    "cartwatch.adapters.cursor_key",
    "cartwatch.adapters.event_publisher",
    "cartwatch.adapters.callback_ledger",
    "cartwatch.adapters.merchant_rows",
    "cartwatch.adapters.purge_queue",
    "cartwatch.adapters.purge_records",
)


@dataclass(frozen=True)
class Deployment:
    """The names one environment (moto) gave the stack's resources, and its SSM prefix."""

    region: str
    account: str
    ssm_prefix: str
    table_name: str
    stream_arn: str
    intake_queue_url: str
    intake_dlq_url: str
    topic_arn: str
    purge_queue_url: str
    purge_dlq_url: str
    publisher_dlq_url: str
    archive_bucket: str
    archive_queue_url: str
    archive_dlq_url: str
    credentials_table_name: str

    @classmethod
    def of(cls, resources: Any, ssm_prefix: str) -> Deployment:
        """From ``local.provision.ProvisionedResources`` and the prefix store secrets live under."""
        return cls(
            region=resources.region,
            account=resources.topic_arn.split(":")[4],
            ssm_prefix=ssm_prefix,
            table_name=resources.table_name,
            stream_arn=resources.stream_arn,
            intake_queue_url=resources.intake_queue_url,
            intake_dlq_url=resources.intake_dlq_url,
            topic_arn=resources.topic_arn,
            purge_queue_url=resources.purge_queue_url,
            purge_dlq_url=resources.purge_dlq_url,
            publisher_dlq_url=resources.publisher_dlq_url,
            archive_bucket=resources.archive_bucket,
            archive_queue_url=resources.archive_queue_url,
            archive_dlq_url=resources.archive_dlq_url,
            credentials_table_name=resources.credentials_table_name,
        )


@dataclass(frozen=True)
class Caller:
    function: str  # the handler's module name: receiver, processor, sweeper, publisher, ...
    deployment: Deployment


@dataclass(frozen=True)
class RecordedCall:
    function: str | None  # None: function code ran outside acting_as
    deployment: Deployment | None
    call: str  # the operation and its identifying parameters, for messages
    requests: tuple[IamRequest, ...] = ()
    problem: str = ""  # why the call could not be checked (an unmapped operation, no caller)

    def to_json(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "deployment": asdict(self.deployment) if self.deployment else None,
            "call": self.call,
            "requests": [r.to_json() for r in self.requests],
            "problem": self.problem,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RecordedCall:
        deployment = data.get("deployment")
        return cls(
            function=data.get("function"),
            deployment=Deployment(**deployment) if deployment else None,
            call=data["call"],
            requests=tuple(IamRequest.from_json(r) for r in data.get("requests", [])),
            problem=data.get("problem", ""),
        )


_caller: ContextVar[Caller | None] = ContextVar("cartwatch_iam_caller", default=None)


class acting_as:  # lower case: it reads as what it does, `with acting_as("processor", deployment):`
    """Attribute every AWS call this thread makes inside the block to ``function``.

    A class, not ``contextlib.contextmanager``: that one sets ``__traceback__`` on an exception
    passing through, which a frozen dataclass exception (``intake.Rejection``) refuses.
    """

    def __init__(self, function: str, deployment: Deployment) -> None:
        self._caller = Caller(function, deployment)
        self._tokens: list[Token[Caller | None]] = []

    def __enter__(self) -> None:
        self._tokens.append(_caller.set(self._caller))

    def __exit__(self, *_: object) -> None:
        _caller.reset(self._tokens.pop())


# Where a function's client puts its caller in each request's context.
_CONTEXT_KEY = "cartwatch_iam_caller"


def attributed_to(function: str, deployment: Deployment) -> tuple[str, Callable[..., None]]:
    """The botocore event handler that makes every call of a client ``function``'s: for
    ``AwsClients(event_handlers=...)``.  ``provide-client-params`` comes before
    ``before-parameter-build`` in each call, with the same request context."""
    caller = Caller(function, deployment)

    def name_the_caller(context: dict[str, Any], **_: Any) -> None:
        context[_CONTEXT_KEY] = caller

    return ("provide-client-params", name_the_caller)


# A client whose calls are no function's, whatever is on the stack: the operator's CLI (it
# runs some of the publisher's code), or a test's own client running inside a function's
# calls (a counting hook reading the item before each write).
_NOBODY = object()


def no_function() -> tuple[str, Callable[..., None]]:
    """The botocore event handler for such a client (``client.meta.events.register(*no_function())``)."""

    def name_nobody(context: dict[str, Any], **_: Any) -> None:
        context[_CONTEXT_KEY] = _NOBODY

    return ("provide-client-params", name_nobody)


Sink = Callable[[RecordedCall], None]


@dataclass
class CallRecorder:
    """Turns each botocore call of a function (its own client, or inside ``acting_as``) into a
    ``RecordedCall`` for ``sink`` (installed process-wide by :func:`install`)."""

    sink: Sink
    # Shard iterators -> their stream: GetRecords names only the iterator.
    _streams: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def before_parameter_build(
        self, params: Mapping[str, Any], model: Any, context: dict[str, Any], event_name: str, **_: Any
    ) -> None:
        service, operation = event_name.split(".")[1], model.name
        if service == "dynamodb-streams":
            self._remember_stream(operation, params, context)
        named = context.get(_CONTEXT_KEY)
        if named is _NOBODY:
            return
        caller: Caller | None = named or _caller.get()
        if caller is None:
            module = _function_module()
            if module is not None:
                self.sink(
                    RecordedCall(
                        None,
                        None,
                        describe(service, operation, params),
                        problem=f"made by function code ({module}) outside any function: name the "
                        "caller with cartwatch_tools.iam.recording.acting_as(...) where it is invoked",
                    )
                )
            return
        where = Where(context.get("client_region") or caller.deployment.region, caller.deployment.account)
        summary = describe(service, operation, params)
        try:
            requests = iam_requests(
                service, operation, params, where, stream_of=lambda _: context.get("cartwatch_stream")
            )
        except UnmappedCall as error:
            self.sink(RecordedCall(caller.function, caller.deployment, summary, problem=str(error)))
            return
        self.sink(RecordedCall(caller.function, caller.deployment, summary, tuple(requests)))

    def after_call(self, parsed: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        stream = context.get("cartwatch_stream")
        iterator = parsed.get("ShardIterator") or parsed.get("NextShardIterator")
        with self._lock:
            # An iterator that was read from is done with once the read succeeded (after an
            # error or a timeout the poller tries the same iterator again); its successor
            # comes back in the answer.
            if "Error" not in parsed:
                self._streams.pop(context.get("cartwatch_iterator", ""), None)
            if stream and iterator:
                self._streams[iterator] = stream

    def _remember_stream(self, operation: str, params: Mapping[str, Any], context: dict[str, Any]) -> None:
        if operation == "GetShardIterator":
            context["cartwatch_stream"] = params["StreamArn"]
        elif operation == "GetRecords":
            context["cartwatch_iterator"] = params["ShardIterator"]
            with self._lock:
                context["cartwatch_stream"] = self._streams.get(params["ShardIterator"])


def _function_module() -> str | None:
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if name.startswith(FUNCTION_CODE):
            return str(name)
        frame = frame.f_back  # type: ignore[assignment]
    return None


_installed: CallRecorder | None = None


def _before_parameter_build(**kwargs: Any) -> None:
    if _installed is not None:
        _installed.before_parameter_build(**kwargs)


def _after_streams_call(**kwargs: Any) -> None:
    if _installed is not None:
        _installed.after_call(**kwargs)


def install(sink: Sink) -> None:
    """Record from now on, in every botocore session created afterwards (moto's own
    stubber is installed the same way), into ``sink``."""
    global _installed  # noqa: PLW0603 - one recorder per process, like botocore's handlers
    from botocore import handlers

    _installed = CallRecorder(sink)
    for spec in (
        ("before-parameter-build", _before_parameter_build),
        ("after-call.dynamodb-streams", _after_streams_call),
    ):
        if spec not in handlers.BUILTIN_HANDLERS:
            handlers.BUILTIN_HANDLERS.append(spec)


def record_to_file(path: Path) -> None:
    """``cartwatch local`` under test: append every recorded call to ``path``, one JSON line each."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()
    # Open for the life of the process, one flushed line per call: whatever the process
    # recorded is in the file even if it is killed.
    log = path.open("a", encoding="utf-8", buffering=1)

    def write(call: RecordedCall) -> None:
        line = json.dumps(call.to_json(), separators=(",", ":"))
        with lock:
            log.write(line + "\n")

    install(write)


def read_call_log(path: Path, start: int = 0) -> tuple[list[RecordedCall], int]:
    """The calls appended to ``path`` after byte ``start``, and where the next read starts.

    A process still running may be half-way through a line: it is left for the next read.
    """
    if not path.exists():
        return [], start
    with path.open("rb") as log:
        log.seek(start)
        text = log.read()
    complete = text[: text.rfind(b"\n") + 1]
    lines = complete.decode("utf-8").splitlines()
    calls = [RecordedCall.from_json(json.loads(line)) for line in lines if line.strip()]
    return calls, start + len(complete)
