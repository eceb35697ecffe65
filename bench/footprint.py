"""Each function's memory: what it holds once started, and with its largest event.

Lambda bills the configured memory, and a function that outgrows it is killed.  Measured in
a fresh interpreter per function, as the Lambda bundle has it (only the runtime's packages
importable, the stack's interpreter settings: ``bench/imports.py``'s probe environment):

* **started** — peak RSS after importing what the handler's first request imports and
  building the boto3 clients it uses;
* **largest event** — peak RSS after, in addition, holding the largest input its source can
  hand it, parsed as the runtime and the handler parse it: for the receiver, processor and
  publisher Lambda's 6 MB invocation payload (a request body; a batch of intake messages,
  each body parsed again; a batch of stream records, each image turned into Python values),
  for the functions that read pages a DynamoDB page of 1 MB, and for the query API that
  page with its largest answer (6 MB).

The Lambda runtime's own client runs in the same process; ``RUNTIME_CLIENT_MB`` states what
it adds (not measurable here).  ``python -m bench.footprint`` prints one JSON line per figure.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from bench.imports import FIRST_REQUEST, HANDLERS, _probe_environment, not_shipped
from cartwatch.resources import FUNCTION_MEMORY_MB

RUNTIME_CLIENT_MB = 15.0  # awslambdaric and the bootstrap, in the function's own process
# The functions' names in the composition root (FUNCTION_MEMORY_MB), by bench/imports.py's.
FUNCTION = {
    "receiver": "receiver",
    "processor": "processor",
    "sweeper": "sweeper",
    "publisher": "publisher",
    "query": "query_api",
    "hook_health": "hook_health",
    "app": "app_callbacks",
    "purge": "store_purge",
    "archiver": "archiver",
    "tally": "figure_tally",
}
MEMORY_SHARE_BUDGET = 0.5  # what the largest input may take of the configured memory
LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024
DYNAMODB_PAGE_BYTES = 1024 * 1024

# What each function imports by the end of its first request (bench/imports.py's lists; the
# archiver, which that benchmark does not time, by its composition's builder).
MODULES = {name: [module, *FIRST_REQUEST[name]] for name, module in HANDLERS.items()} | {
    "archiver": [
        "cartwatch.handlers.archiver",
        "boto3",
        "cartwatch.composition",
        "cartwatch.adapters.event_archive",
    ],
}
# The AWS services each function's composition builds clients for.
CLIENTS = {
    "receiver": ["dynamodb", "sqs"],
    "processor": ["dynamodb", "sqs"],
    "sweeper": ["dynamodb"],
    "publisher": ["dynamodb", "sns", "ssm"],
    "query": ["dynamodb", "ssm"],
    "hook_health": ["dynamodb", "ssm"],
    "app": ["dynamodb", "ssm", "sqs"],
    "purge": ["dynamodb", "ssm", "sqs"],
    "archiver": ["s3"],
    "tally": ["dynamodb"],
}
# The largest input of each function (see the module docstring).
LARGEST = {
    "receiver": "request",
    "processor": "intake_batch",
    "publisher": "stream_batch",
    "sweeper": "page",
    "hook_health": "page",
    "app": "page",
    "purge": "page",
    "query": "page_and_answer",
    "archiver": "intake_batch",  # a batch of events from its queue, each body parsed
    "tally": "stream_batch",  # a window's batch of stream records, old and new images
}

_PROBE = """
import gc, json, resource, sys, importlib
hidden = frozenset({hidden!r})
class NotShipped:
    def find_spec(self, name, path=None, target=None):
        if name.partition('.')[0] in hidden: raise ModuleNotFoundError(name)
sys.meta_path.insert(0, NotShipped())
def peak_mb():
    gc.collect()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
for name in {modules!r}: importlib.import_module(name)
import boto3
clients = [boto3.client(service, region_name="us-east-1") for service in {services!r}]
started = peak_mb()
payload, page = {payload!r}, {page!r}
kind = {kind!r}
held = []
def item(size):
    # A cart item as DynamoDB's wire format has it: a map of attributes, its history a list of maps.
    entry = {{"M": {{"at": {{"N": "1800000000"}}, "cause": {{"S": "webhook:store/cart/updated"}}}}}}
    history = [entry] * max(1, size // 90)
    return {{"pk": {{"S": "CART#store#" + "c" * 36}}, "sk": {{"S": "STATE"}}, "history": {{"L": history}}}}
if kind == "request":
    held.append(json.loads(json.dumps({{"body": "x" * (payload - 2048), "headers": {{}}}})))
elif kind == "intake_batch":
    pad = "y" * (payload // 100 - 512)
    body = json.dumps({{"scope": "store/cart/updated", "data": {{"id": "c", "pad": pad}}}})
    event = json.loads(json.dumps({{"Records": [{{"body": body, "messageId": str(n)}} for n in range(100)]}}))
    held += [event, [json.loads(r["body"]) for r in event["Records"]]]
elif kind == "stream_batch":
    from boto3.dynamodb.types import TypeDeserializer
    records = [{{"dynamodb": {{"NewImage": item(payload // 100)}}}} for _ in range(100)]
    event = json.loads(json.dumps({{"Records": records}}))
    to_python = TypeDeserializer().deserialize
    images = [r["dynamodb"]["NewImage"] for r in event["Records"]]
    held += [event, [{{k: to_python(v) for k, v in image.items()}} for image in images]]
else:
    held.append(json.loads(json.dumps({{"Items": [item(4096) for _ in range(page // 4096)]}})))
    if kind == "page_and_answer":
        held.append(("z" * payload).encode())
print(json.dumps({{"started": started, "largest": peak_mb()}}))
"""


def footprint(function: str) -> dict[str, float]:
    """{"started": MB, "largest": MB} of one function, each a peak RSS."""
    probe = _PROBE.format(
        hidden=sorted(not_shipped()),
        modules=MODULES[function],
        services=CLIENTS[function],
        payload=LAMBDA_PAYLOAD_BYTES,
        page=DYNAMODB_PAGE_BYTES,
        kind=LARGEST[function],
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=_probe_environment()
    )
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def footprints() -> dict[str, dict[str, float]]:
    return {function: footprint(function) for function in MODULES}


def lines(metric: Any) -> list[dict[str, Any]]:
    """Per function: its peak started and with its largest input, and the share of its
    configured memory that peak (with the runtime's client) takes."""
    found: list[dict[str, Any]] = []
    for function, figures in footprints().items():
        configured = FUNCTION_MEMORY_MB[FUNCTION[function]]
        found += [
            metric(f"memory_peak_mb_{function}_started", figures["started"], "MB", None),
            metric(f"memory_peak_mb_{function}_largest_input", figures["largest"], "MB", None),
            metric(
                f"memory_share_{function}_of_{configured}_mb",
                (figures["largest"] + RUNTIME_CLIENT_MB) / configured,
                "of configured",
                f"<= {MEMORY_SHARE_BUDGET:g}",
            ),
        ]
    return found


def main() -> None:
    from bench.intake import metric

    for line in lines(metric):
        print(json.dumps(line))


if __name__ == "__main__":
    main()
