"""The Powertools objects the handlers share: one logger and one metrics object per process, and
subsegment tracing opt-in (without it no X-Ray SDK is loaded; with it the handler is traced)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

PROBE = """
import sys
from cartwatch.handlers.observability import capture_lambda_handler
def handler(event, context):
    return "ok"
wrapped = capture_lambda_handler(handler)
print(wrapped is handler, "aws_xray_sdk" in sys.modules)
"""


def _probe(env_value: str | None) -> str:
    import os

    env = {k: v for k, v in os.environ.items() if k != "CARTWATCH_TRACE_SUBSEGMENTS"}
    env["POWERTOOLS_TRACE_DISABLED"] = "true"
    if env_value is not None:
        env["CARTWATCH_TRACE_SUBSEGMENTS"] = env_value
    # A fresh interpreter: what a cold start imports is the point of the test.
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True)
    return done.stdout.strip()


def test_without_opt_in_the_xray_sdk_is_never_imported() -> None:
    assert _probe(None) == "True False"


def test_with_opt_in_the_handler_is_wrapped_by_powertools_tracer() -> None:
    assert _probe("true") == "False True"


# Every cartwatch module in one interpreter, as in `cartwatch local`, where the CLI has given the
# package's logger a handler of its own before any handler module is imported.  Prints what
# Powertools objects exist and whether each handler still works.
ONE_PROCESS = """
import gc, importlib, json, logging, pkgutil
import cartwatch
from aws_lambda_powertools import Logger, Metrics

logging.getLogger("cartwatch").addHandler(logging.NullHandler())
for found in pkgutil.walk_packages(cartwatch.__path__, "cartwatch."):
    importlib.import_module(found.name)

from cartwatch.handlers import query_api, receiver
from cartwatch.service.cart_queries import StoreNotFound
from cartwatch.service.intake import WebhookIntake

class Context:
    function_name = "probe"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:probe"
    aws_request_id = "probe"

class NoStores:
    def list_carts(self, store_hash, *args, **kwargs):
        raise StoreNotFound(f"store {store_hash} not found")

def outcome(call):
    try:
        return call()
    except Exception as error:
        return f"{type(error).__name__}: {error}"

objects = gc.get_objects()
loggers = [o for o in objects if isinstance(o, Logger)]
names = {}
for found in loggers:
    names[found.name] = names.get(found.name, 0) + 1

def through_powertools(logger):
    return logger.inject_lambda_context(clear_state=True)(lambda event, context: "ok")({}, Context())

decorated = {f"{one.name}#{n}": outcome(lambda: through_powertools(one)) for n, one in enumerate(loggers)}
path = "/v1/stores/nostore/carts"
caller = {"accessKey": "probe", "userArn": "arn:aws:iam::000000000000:user/probe"}
query = {
    "version": "2.0", "routeKey": "GET /v1/stores/{store_hash}/carts", "rawPath": path,
    "rawQueryString": "", "headers": {"host": "127.0.0.1"}, "pathParameters": {"store_hash": "nostore"},
    "requestContext": {
        "http": {"method": "GET", "path": path}, "stage": "$default", "authorizer": {"iam": caller}
    },
    "isBase64Encoded": False,
}
webhook = {"pathParameters": {"store_hash": "nostore"}, "headers": {}, "body": "{}", "isBase64Encoded": False}
print(json.dumps({
    "logger_instances": names,
    "metrics_instances": sum(isinstance(o, Metrics) for o in objects),
    "decorated": decorated,
    "query_api": outcome(lambda: query_api.handler(query, Context(), queries=NoStores())["statusCode"]),
    "receiver": outcome(lambda: receiver.handler(
        webhook, Context(), intake=WebhookIntake(lambda h: None, lambda h: None, lambda m: None)
    )["statusCode"]),
}))
"""


@pytest.fixture(scope="module")
def one_process() -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POWERTOOLS_")}
    env |= {"POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_TRACE_DISABLED": "true"}
    done = subprocess.run(
        [sys.executable, "-c", ONE_PROCESS], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_one_powertools_logger_per_process(one_process: dict[str, Any]) -> None:
    # A second Logger of a configured name adopts whatever handler that logging.Logger has first,
    # formatter or not; one of another name would cut the service modules' records (children of
    # `cartwatch`) off from the formatter.  Handlers import cartwatch.handlers.observability's.
    assert one_process["logger_instances"] == {"cartwatch": 1}


def test_one_metrics_object_per_process(one_process: dict[str, Any]) -> None:
    # Powertools keeps metrics, dimensions and metadata in class attributes: a second Metrics
    # object would flush and clear the same values under its own namespace and service.
    assert one_process["metrics_instances"] == 1


def test_every_handler_works_with_all_handler_modules_loaded(one_process: dict[str, Any]) -> None:
    assert set(one_process["decorated"].values()) == {"ok"}, one_process["decorated"]
    assert one_process["query_api"] == 404  # unknown store, as documented
    assert one_process["receiver"] == 404
