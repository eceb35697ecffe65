"""CPU per webhook of the receiver and the processor: our code alone, warm, in-process.

Lambda bills duration, and for these two functions duration is mostly CPU — so this is the
figure that decides what a webhook costs, independent of the machine's other load and of
the local runner.  Each handler runs in a fresh interpreter (``python -m bench.handler_cpu``)
on the storefront mix:

* the **receiver** gets API Gateway events of signed deliveries; its store lookup and its
  queue are in-memory stand-ins (a dict and a list), so everything measured is cartwatch's
  (the handler, Powertools' logger and metrics, the signature check, the intake message);
* the **processor** gets SQS events of 100 intake messages, the stack's batch size, and
  works against DynamoDB answered in-memory by moto (``mock_aws``).  The CPU spent inside
  each DynamoDB call — botocore's serialization, the stand-in, the parsing of its answer —
  is measured and subtracted, so the figure is cartwatch's code: parsing, folding the
  lifecycle, planning and rendering writes, Powertools' batch processing, logs and metrics.

Warm: the first batches (and deliveries) are run and not counted, as a warm Lambda
instance has already imported and built everything.  ``time.process_time`` counts CPU
of this process only, so another process's load cannot inflate the figure.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# The bench store's client secret: made up per run, never a real one.
CLIENT_SECRET = secrets.token_hex(16)
RECEIVER_BUDGET_MS = 2.0
PROCESSOR_BUDGET_MS = 3.0
_ROOT = Path(__file__).resolve().parents[1]


def handler_cpu(webhooks: int = 6000) -> dict[str, float]:
    """Both figures, each measured in a fresh interpreter: {"receiver": ms, "processor": ms}."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_ENDPOINT", "POWERTOOLS_TRACE", "POWERTOOLS_METRICS_DISABLED"))
    }
    # The functions' settings: metrics on (flushing EMF is part of a handler's cost), logs at
    # the stack's INFO level but written to a null sink (see _quiet).
    env.update(POWERTOOLS_TRACE_DISABLED="true", POWERTOOLS_LOG_LEVEL="INFO")
    result = subprocess.run(
        [sys.executable, "-m", "bench.handler_cpu", str(webhooks)],
        capture_output=True,
        text=True,
        cwd=_ROOT,
        env=env,
        check=True,
    )
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


# --- in the fresh interpreter ------------------------------------------------------------------


def _quiet() -> None:
    """Handlers log one JSON line per webhook (receiver) or batch (processor) at INFO; the
    formatting is their cost, the terminal's speed is not — write to /dev/null."""
    devnull = open(os.devnull, "w")  # noqa: SIM115 — for the life of the process
    sys.stdout = devnull


class CallMeter:
    """The CPU time of a function's DynamoDB calls, added up (to be subtracted from the total).

    botocore event handlers on the function's clients (``AwsClients.event_handlers``): a call
    starts at ``provide-client-params``, before its request is serialized, and ends at
    ``after-call``, once its answer is parsed — the stand-in's work lies in between.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0
        self._started = 0.0

    @property
    def handlers(self) -> list[tuple[str, Any]]:
        return [("provide-client-params.dynamodb", self._start), ("after-call.dynamodb", self._stop)]

    def _start(self, **_: Any) -> None:
        self._started = time.process_time()

    def _stop(self, **_: Any) -> None:
        self.seconds += time.process_time() - self._started
        self.calls += 1


def _deliveries(count: int) -> list[tuple[str, bytes, dict[str, str]]]:
    from tests.support import signed_headers

    from bench.storefront import storefront_mix
    from cartwatch.domain.stages import StageSchedule  # noqa: F401 — warm the domain import

    mix = storefront_mix(count // 7 + 1, start=1_800_000_000)[:count]
    out = []
    for delivery in mix:
        body = json.dumps(
            {
                "scope": delivery.scope,
                "store_id": "1",
                "producer": "stores/benchstore",
                "created_at": delivery.created_at,
                "hash": secrets.token_hex(20),
                "data": _data(delivery),
            }
        ).encode()
        out.append(("benchstore", body, signed_headers(CLIENT_SECRET, body, msg_id=delivery.webhook_id)))
    return out


def _data(delivery: Any) -> dict[str, Any]:
    if delivery.scope.startswith("store/cart/lineItem/"):
        return {"type": "cart_line_item", "id": delivery.data["item_id"], "cartId": delivery.cart_id}
    return {"type": "cart", "id": delivery.cart_id, **delivery.data}


def _receiver(deliveries: list[tuple[str, bytes, dict[str, str]]]) -> tuple[float, list[str]]:
    """CPU ms per delivery, and the intake messages it produced (the processor's input)."""
    from tests.support import FakeLambdaContext, http_api_event

    from cartwatch.domain.store import WebhookAuth
    from cartwatch.handlers import receiver
    from cartwatch.service.intake import WebhookIntake

    auth = {"benchstore": WebhookAuth(client_secret=CLIENT_SECRET, token=None)}
    queue: list[str] = []
    intake = WebhookIntake(auth.get, None, queue.append)
    events = [http_api_event(store, body, headers) for store, body, headers in deliveries]
    context = FakeLambdaContext()

    def run(batch: list[dict[str, Any]]) -> None:
        for event in batch:
            response = receiver.handler(event, context, intake=intake)
            if response["statusCode"] != 200:
                raise RuntimeError(f"the receiver refused a bench delivery: {response}")

    warm = min(200, len(events) // 10)
    run(events[:warm])
    started = time.process_time()
    run(events[warm:])
    elapsed = time.process_time() - started
    return 1000 * elapsed / (len(events) - warm), queue


def _processor(messages: list[str]) -> float:
    """CPU ms per webhook of the processor, the DynamoDB calls' own CPU subtracted."""
    from moto import mock_aws

    with mock_aws():
        import boto3
        from tests.support import FakeLambdaContext

        from cartwatch.composition import AwsClients, Composition
        from cartwatch.handlers import processor as processor_handler
        from cartwatch.settings import Settings
        from cartwatch_tools.local.provision import table_request

        boto3.client("dynamodb", region_name="us-east-1").create_table(**table_request("bench-cpu"))
        dynamodb = CallMeter()
        # The processor as its composition root builds it (the storefront mix uninstalls no
        # store, so its purge queue is never sent to).
        settings = Settings(
            table_name="bench-cpu",
            purge_queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/bench-purge",
        )
        function = Composition(
            "processor", settings, AwsClients(region="us-east-1", event_handlers=dynamodb.handlers)
        )
        processor = function.cart_processor
        batches = [_sqs_event(messages[i : i + 100], i) for i in range(0, len(messages), 100)]
        context = FakeLambdaContext()

        def run(events: list[dict[str, Any]]) -> None:
            for event in events:
                response = processor_handler.handler(event, context, processor=processor)
                if response.get("batchItemFailures"):
                    raise RuntimeError(f"the processor failed bench messages: {response}")

        warm = max(1, len(batches) // 10)
        run(batches[:warm])
        counted = sum(len(event["Records"]) for event in batches[warm:])
        dynamodb.seconds = 0.0
        started = time.process_time()
        run(batches[warm:])
        elapsed = time.process_time() - started - dynamodb.seconds
        return 1000 * elapsed / counted


def _sqs_event(bodies: list[str], offset: int) -> dict[str, Any]:
    now = str(int(time.time() * 1000))
    return {
        "Records": [
            {
                "messageId": f"m{offset + i}",
                "receiptHandle": f"r{offset + i}",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": now,
                    "SenderId": "bench",
                    "ApproximateFirstReceiveTimestamp": now,
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bench-intake",
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


def main(argv: list[str]) -> None:
    count = int(argv[0]) if argv else 6000
    report = sys.stdout.write
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Cartwatch")
    deliveries = _deliveries(count)
    _quiet()
    receiver_ms, messages = _receiver(deliveries)
    processor_ms = _processor(messages)
    report(json.dumps({"receiver": receiver_ms, "processor": processor_ms}) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
