"""Cold import times of each handler module, in fresh interpreters, against `import boto3`.

Each handler is measured together with boto3 (every handler calls AWS on its first
request, so boto3 is part of its cold start whether the module imports it eagerly or
lazily), and the ratio is taken against `import boto3` alone, measured the same way in
the same run.  Medians of several fresh processes; bytecode is warmed first, as it is in
a bundle compiled at build time.
"""

from __future__ import annotations

import statistics
import subprocess
import sys

HANDLERS = {
    "receiver": "cartwatch.handlers.receiver",
    "processor": "cartwatch.handlers.processor",
    "sweeper": "cartwatch.handlers.sweeper",
    "publisher": "cartwatch.handlers.publisher",
    "query": "cartwatch.handlers.query_api",
}
# What each handler's first request imports lazily, on top of the module itself.
FIRST_REQUEST = {
    "receiver": ["boto3", "cartwatch.composition", "aws_lambda_powertools.utilities.parameters"],
    "processor": ["boto3", "cartwatch.composition"],
    "sweeper": ["boto3", "cartwatch.composition"],
    "publisher": ["boto3", "cartwatch.composition"],
    "query": ["boto3", "cartwatch.composition", "cartwatch.service.cart_queries"],
}

_PROBE = (
    "import time, importlib\n"
    "t = time.perf_counter()\n"
    "for name in {modules!r}: importlib.import_module(name)\n"
    "print(time.perf_counter() - t)\n"
)


def _time(modules: list[str]) -> float:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE.format(modules=modules)], capture_output=True, text=True, check=True
    )
    return float(result.stdout.strip())


def median_import_seconds(modules: list[str], runs: int = 7) -> float:
    _time(modules)  # warm the bytecode cache
    return statistics.median(_time(modules) for _ in range(runs))


def import_ratios(runs: int = 7) -> dict[str, float]:
    """Median over runs of (handler import / ``import boto3``), each pair measured back to back.

    Pairing keeps the ratio honest on a busy machine: both halves see the same load.
    """
    baseline = median_import_seconds(["boto3"], runs)
    ratios = {"baseline_boto3_seconds": baseline}
    for name, module in HANDLERS.items():
        modules = [module, *FIRST_REQUEST[name]]
        _time(modules)  # warm the bytecode cache
        pairs = [_time(modules) / _time(["boto3"]) for _ in range(runs)]
        ratios[name] = statistics.median(pairs)
    return ratios
