"""The import benchmark counts everything a handler's first request imports.

Each handler builds its services lazily, on its first request (``cartwatch.composition``).  Whatever
those builders import is cold-start cost too, so ``bench/imports.py`` lists it in
``FIRST_REQUEST``.  Here each builder really runs, in a fresh interpreter against moto
server, and any cartwatch, pydantic or Powertools module it imports beyond that list fails
the test — that is how hook-health was found importing the publisher's pydantic models.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from bench.imports import FIRST_REQUEST, HANDLERS

from cartwatch.resources import RUNTIME_ENVIRONMENT
from cartwatch.settings import ENV
from cartwatch_tools.local.moto_server import local_environment

pytestmark = pytest.mark.integration

# What each function does first on its first request: build what it needs.
_COMPOSE = "from cartwatch.composition import composition_for\n"
FIRST_REQUEST_CALLS = {
    "receiver": _COMPOSE + 'composition_for("receiver").webhook_intake',
    "processor": _COMPOSE + 'composition_for("processor").cart_processor',
    "sweeper": _COMPOSE + 'composition_for("sweeper").abandonment_sweep()',
    "publisher": _COMPOSE + 'composition_for("publisher").outbox_relay',
    "tally": _COMPOSE + 'composition_for("figure_tally").figure_tally',
    "query": _COMPOSE + 'composition_for("query_api").cart_queries',
    "hook_health": _COMPOSE + 'composition_for("hook_health").hook_health_check()',
    "app": _COMPOSE + 'composition_for("app_callbacks").app_callbacks\nimport jwt',
    "purge": _COMPOSE + 'composition_for("store_purge").store_lifecycle',
}
WATCHED = ("cartwatch", "pydantic", "aws_lambda_powertools", "requests", "jwt")

_CHILD = """
import importlib, json, sys
for name in {listed!r}:
    importlib.import_module(name)
before = set(sys.modules)
try:
{call}
except Exception as error:  # a builder that then talks to AWS may fail: imports came first
    print("builder raised", type(error).__name__, file=sys.stderr)
print(json.dumps(sorted(m for m in set(sys.modules) - before if m.split(".")[0] in {watched!r})))
"""


@pytest.mark.parametrize("handler", sorted(HANDLERS))
def test_the_benchmark_lists_every_module_a_first_request_imports(moto_endpoint: str, handler: str) -> None:
    environment = {
        **os.environ,
        **local_environment(moto_endpoint),
        **RUNTIME_ENVIRONMENT,
        ENV.TABLE_NAME: "cartwatch-imports",
        ENV.CREDENTIALS_TABLE_NAME: "cartwatch-imports-credentials",
        ENV.INTAKE_QUEUE_URL: f"{moto_endpoint}/123456789012/intake",
        ENV.TOPIC_ARN: "arn:aws:sns:us-east-1:123456789012:events",
        ENV.SSM_PREFIX: "/cartwatch-imports",
        ENV.BIGCOMMERCE_API_URL: "https://api.bigcommerce.com",
        ENV.WEBHOOK_BASE_URL: "https://example.com/webhooks/bigcommerce",
        ENV.PURGE_QUEUE_URL: f"{moto_endpoint}/123456789012/purge",
        ENV.APP_AUTH_CALLBACK_URL: "https://example.com/bigcommerce/app/auth",
    }
    call = "\n".join("    " + line for line in FIRST_REQUEST_CALLS[handler].splitlines())
    child = _CHILD.format(listed=[HANDLERS[handler], *FIRST_REQUEST[handler]], call=call, watched=WATCHED)
    result = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, env=environment, timeout=60, check=True
    )

    unlisted = json.loads(result.stdout.strip().splitlines()[-1])
    assert unlisted == [], f"{handler}'s first request imports what bench/imports.py omits: {unlisted}"
