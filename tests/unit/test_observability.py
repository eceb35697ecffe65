"""Subsegment tracing is opt-in: without it no X-Ray SDK is loaded; with it the handler is traced."""

from __future__ import annotations

import subprocess
import sys

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
