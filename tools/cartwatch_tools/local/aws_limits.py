"""AWS's message size limits, enforced in front of moto where moto is more forgiving.

moto checks an SQS message's length in characters (AWS counts bytes, message attributes
included), an SNS message's length in characters with no attributes, and not the total
size of an SNS ``PublishBatch`` at all.  This WSGI layer sits between the loopback HTTP
server and moto and refuses, with the error AWS answers, what AWS would refuse:

* SQS ``SendMessage``/``SendMessageBatch``: each message (UTF-8 body + attribute names,
  types and values) at most the queue's ``MaximumMessageSize``;
* SNS ``Publish``: the message with its attributes at most 256 KiB;
* SNS ``PublishBatch``: at most 10 entries, and all entries together (bodies and
  attributes) at most 256 KiB.

The numbers are AWS's documented defaults, kept here independently of what cartwatch
designs against (``cartwatch.resources``), so that a change on cartwatch's side that
crosses one fails a test.  DynamoDB's 400 KB item limit needs the stored item to check an
``UpdateItem``; moto enforces that one itself (``ItemSizeTooLarge``).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

# SNS: "the maximum allowed individual message size and the maximum total payload size (the
# sum of the individual lengths of all of the batched messages) are both 256 KiB (262,144
# bytes)", body and attributes counted (a topic's MaximumMessageSize can raise it; cartwatch
# leaves it at the default).
SNS_MAX_BYTES = 262_144
SNS_MAX_BATCH_ENTRIES = 10

_CREDENTIAL_REGION = re.compile(r"Credential=[^/]+/\d{8}/(?P<region>[^/]+)/")
_BATCH_FIELD = re.compile(r"^PublishBatchRequestEntries\.member\.(\d+)\.(.+)$")
_ATTRIBUTE_FIELD = re.compile(
    r"^MessageAttributes\.entry\.(\d+)\.(Name|Value\.DataType|Value\.StringValue|Value\.BinaryValue)$"
)

StartResponse = Callable[..., Any]
QueueLimit = Callable[[str, str], int | None]  # (queue url, region) -> MaximumMessageSize


@dataclass(frozen=True)
class Refusal:
    """The error AWS answers (a client fault, HTTP 400)."""

    code: str
    message: str


class AwsLimits:
    """WSGI middleware: checks request sizes, then hands the request to ``app`` unchanged."""

    def __init__(self, app: Any, queue_limit: QueueLimit | None = None) -> None:
        self._app = app
        self._queue_limit = queue_limit or moto_queue_limit

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target in ("AmazonSQS.SendMessage", "AmazonSQS.SendMessageBatch"):
            refusal = self._check_sqs(target, read_body(environ), _region(environ))
            if refusal is not None:
                return _json_error(start_response, refusal)
        elif environ.get("REQUEST_METHOD") == "POST" and "urlencoded" in environ.get("CONTENT_TYPE", ""):
            form = parse_qsl(read_body(environ).decode("utf-8", errors="replace"), keep_blank_values=True)
            refusal = _check_sns(form)
            if refusal is not None:
                return _query_error(start_response, refusal)
        response: Iterable[bytes] = self._app(environ, start_response)
        return response

    def _check_sqs(self, target: str, body: bytes, region: str) -> Refusal | None:
        try:
            request = json.loads(body)
        except ValueError:
            return None
        if not isinstance(request, dict):
            return None
        limit = self._queue_limit(str(request.get("QueueUrl", "")), region)
        if limit is None:
            return None  # moto answers for queues it does not know
        entries = request.get("Entries", []) if target.endswith("Batch") else [request]
        for entry in entries if isinstance(entries, list) else []:
            size = len(str(entry.get("MessageBody", "")).encode()) + _sqs_attributes_size(
                entry.get("MessageAttributes") or {}
            )
            if size > limit:
                reason = f"Reason: Message must be shorter than {limit} bytes."
                return Refusal("InvalidParameterValue", f"One or more parameters are invalid. {reason}")
        return None


def _check_sns(form: list[tuple[str, str]]) -> Refusal | None:
    fields = dict(form)
    action = fields.get("Action")
    if action == "Publish":
        size = len(fields.get("Message", "").encode()) + _sns_attributes_size(fields)
        if size > SNS_MAX_BYTES:
            return Refusal("InvalidParameter", "Invalid parameter: Message too long")
    elif action == "PublishBatch":
        entries: dict[str, dict[str, str]] = {}
        for name, value in form:
            match = _BATCH_FIELD.match(name)
            if match:
                entries.setdefault(match.group(1), {})[match.group(2)] = value
        if len(entries) > SNS_MAX_BATCH_ENTRIES:
            return Refusal(
                "TooManyEntriesInBatchRequest", "The batch request contains more entries than permissible."
            )
        total = sum(len(e.get("Message", "").encode()) + _sns_attributes_size(e) for e in entries.values())
        if total > SNS_MAX_BYTES:
            return Refusal(
                "BatchRequestTooLong",
                "The length of all the batch messages put together is more than the limit.",
            )
    return None


def _sns_attributes_size(fields: Mapping[str, str]) -> int:
    """Name, data type and value of every attribute, as SNS counts them toward the limit."""
    size = 0
    for name, value in fields.items():
        match = _ATTRIBUTE_FIELD.match(name)
        if match is None:
            continue
        size += _binary_length(value) if match.group(2) == "Value.BinaryValue" else len(value.encode())
    return size


def _sqs_attributes_size(attributes: Mapping[str, Any]) -> int:
    size = 0
    for name, value in attributes.items():
        if not isinstance(value, Mapping):
            continue
        size += len(name.encode()) + len(str(value.get("DataType", "")).encode())
        if "StringValue" in value:
            size += len(str(value["StringValue"]).encode())
        if "BinaryValue" in value:
            size += _binary_length(str(value["BinaryValue"]))
    return size


def _binary_length(encoded: str) -> int:
    try:
        return len(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError):
        return len(encoded.encode())


def moto_queue_limit(queue_url: str, region: str) -> int | None:
    """The queue's MaximumMessageSize from moto's own backend (same process as the server)."""
    from moto.sqs.models import sqs_backends

    parts = queue_url.rstrip("/").split("/")
    if len(parts) < 2:
        return None
    account, name = parts[-2], parts[-1]
    try:
        queue = sqs_backends[account][region].get_queue(name)
    except Exception:  # noqa: BLE001 — unknown account, region or queue: moto answers itself
        return None
    return int(queue.maximum_message_size)  # type: ignore[attr-defined]


def read_body(environ: dict[str, Any]) -> bytes:
    """The request body (read once, then put back for the app below)."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body: bytes = environ["wsgi.input"].read(length) if length else b""
    # Put it back for moto, which reads the body again.
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _region(environ: Mapping[str, Any]) -> str:
    match = _CREDENTIAL_REGION.search(environ.get("HTTP_AUTHORIZATION", ""))
    return match.group("region") if match else "us-east-1"


def _json_error(start_response: StartResponse, refusal: Refusal) -> list[bytes]:
    body = json.dumps({"__type": f"com.amazonaws.sqs#{refusal.code}", "message": refusal.message}).encode()
    start_response(
        "400 Bad Request",
        [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("x-amzn-query-error", f"{refusal.code};Sender"),
            ("Content-Length", str(len(body))),
        ],
    )
    return [body]


def _query_error(start_response: StartResponse, refusal: Refusal) -> list[bytes]:
    body = (
        '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
        f"<Error><Type>Sender</Type><Code>{refusal.code}</Code><Message>{refusal.message}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    ).encode()
    start_response("400 Bad Request", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
    return [body]
