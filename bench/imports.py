"""Cold import times of each handler module, in fresh interpreters, against `import boto3`.

Each handler is measured together with boto3 (every handler calls AWS on its first
request, so boto3 is part of its cold start whether the module imports it eagerly or
lazily), and the ratio is taken against `import boto3` alone, measured the same way in
the same run.

* **Bytecode is warm**, as it is in the Lambda bundle (compiled at build time) and in the
  runtime's own boto3.  The probes write it to a private cache directory
  (``PYTHONPYCACHEPREFIX``) with ``PYTHONDONTWRITEBYTECODE`` removed from their
  environment: where that variable is set (as on CI machines) a probe would otherwise
  recompile every module from source on every run and time the compiler, not the import.
* **The functions' interpreter settings apply** (``RUNTIME_ENVIRONMENT``, which the stack
  sets on every function).
* **Only what the bundle ships can be imported.**  The development environment holds more
  than the Lambda bundle (moto, the CDK, test tools) — and some runtime dependencies import
  optional packages when they find them: PyJWT loads ``cryptography`` (about one
  ``import boto3`` on its own) although HS256 needs none, and the bundle has none.  The probes
  hide every installed package outside the runtime dependencies' closure, as the bundle does.
* **The estimate is the fastest of several runs**, interleaved with the baseline's runs.
  On a shared 2-core VM one and the same ``import boto3`` takes anywhere between 150 and
  240 ms from one process to the next; interference only ever adds time, so the minimum
  of each side is the least disturbed reading of it (``timeit``'s advice).  The median of
  the per-pair ratios is printed beside it so a reader can see the spread.
"""

from __future__ import annotations

import atexit
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import cache

from cartwatch.resources import RUNTIME_ENVIRONMENT

HANDLERS = {
    "receiver": "cartwatch.handlers.receiver",
    "processor": "cartwatch.handlers.processor",
    "sweeper": "cartwatch.handlers.sweeper",
    "publisher": "cartwatch.handlers.publisher",
    "tally": "cartwatch.handlers.figure_tally",
    "query": "cartwatch.handlers.query_api",
    "hook_health": "cartwatch.handlers.hook_health",
    "app": "cartwatch.handlers.app_callbacks",
    "purge": "cartwatch.handlers.store_purge",
}
# What each handler's first request imports lazily, on top of the module itself (what the
# composition root's builders import; `tests/integration/test_first_request_imports.py` keeps this
# list complete).
FIRST_REQUEST = {
    "receiver": [
        "boto3",
        "cartwatch.composition",
        "cartwatch.settings",
        "cartwatch.adapters.intake_queue",
        "cartwatch.adapters.webhook_credentials",
    ],
    "processor": [
        "boto3",
        "cartwatch.composition",
        "cartwatch.settings",
        "cartwatch.resources",
        "cartwatch.adapters.cart_table.store",
        "cartwatch.adapters.purge_queue",
        "cartwatch.service.purge_job",
    ],
    "sweeper": ["boto3", "cartwatch.composition", "cartwatch.adapters.cart_table.store"],
    "publisher": [
        "boto3",
        "cartwatch.composition",
        "cartwatch.adapters.cart_table.store",
        "aws_lambda_powertools.utilities.parameters",
    ],
    "tally": ["boto3", "cartwatch.composition", "cartwatch.settings", "cartwatch.adapters.daily_counters"],
    "query": [
        "boto3",
        "cartwatch.composition",
        "cartwatch.settings",
        "cartwatch.service.cart_queries",
        "cartwatch.adapters.daily_counters",
        "cartwatch.adapters.cart_table.store",
        "cartwatch.adapters.cart_table.listing",
        "cartwatch.adapters.cursor_key",
    ],
    "hook_health": [
        "boto3",
        "cartwatch.composition",
        "cartwatch.adapters.store_clients",
        "cartwatch.adapters.store_rows",
        "aws_lambda_powertools.utilities.parameters",
    ],
    "app": [
        "boto3",
        "cartwatch.composition",
        "cartwatch.composition.store_lifecycle",
        "cartwatch.settings",
        "cartwatch.resources",
        "cartwatch.adapters.bigcommerce_login",
        "cartwatch.adapters.callback_ledger",
        "cartwatch.adapters.cart_table.listing",
        "cartwatch.adapters.merchant_rows",
        "cartwatch.adapters.store_rows",
        "cartwatch.adapters.store_clients",
        "cartwatch.adapters.cart_table.purge",
        "cartwatch.adapters.purge_queue",
        "cartwatch.adapters.purge_records",
        "cartwatch.service.app_install",
        "cartwatch.service.form_tokens",
        "cartwatch.service.merchant_page",
        "cartwatch.service.signed_payload",
        "aws_lambda_powertools.utilities.parameters",
        # Verifying the first signed payload.
        "jwt",
    ],
    "purge": [
        "boto3",
        "cartwatch.composition",
        "cartwatch.composition.store_lifecycle",
        "cartwatch.settings",
        "cartwatch.resources",
        "cartwatch.adapters.cart_table.purge",
        "cartwatch.adapters.purge_queue",
        "cartwatch.adapters.purge_records",
        "cartwatch.adapters.store_clients",
        "aws_lambda_powertools.utilities.parameters",
    ],
}
BASELINE = ["boto3"]

_PROBE = (
    "import sys, time, importlib\n"
    "hidden = frozenset({hidden!r})\n"
    "class NotShipped:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.partition('.')[0] in hidden: raise ModuleNotFoundError(name)\n"
    "sys.meta_path.insert(0, NotShipped())\n"
    "t = time.perf_counter()\n"
    "for name in {modules!r}: importlib.import_module(name)\n"
    "print(time.perf_counter() - t)\n"
)


@dataclass(frozen=True)
class ImportRatio:
    ratio: float  # fastest handler run / fastest baseline run
    median_pair_ratio: float  # median of (handler run / the baseline run right after it)


@cache
def _probe_environment() -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cache_dir = tempfile.mkdtemp(prefix="cartwatch-bench-pycache-")
    atexit.register(shutil.rmtree, cache_dir, ignore_errors=True)
    return {**environment, **RUNTIME_ENVIRONMENT, "PYTHONPYCACHEPREFIX": cache_dir}


@cache
def not_shipped() -> frozenset[str]:
    """Top-level modules installed here that no runtime dependency of cartwatch brings along."""
    from importlib.metadata import packages_distributions, requires

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    closure: set[str] = set()
    todo: list[tuple[str, frozenset[str]]] = [("cartwatch", frozenset())]
    while todo:
        name, extras = todo.pop()
        key = f"{canonicalize_name(name)}[{','.join(sorted(extras))}]"
        if key in closure:
            continue
        closure.add(key)
        for spec in requires(name) or []:
            requirement = Requirement(spec)
            wanted = requirement.marker is None or any(
                requirement.marker.evaluate({"extra": extra}) for extra in (extras or {""})
            )
            if wanted:
                todo.append((requirement.name, frozenset(requirement.extras)))
    shipped = {key.partition("[")[0] for key in closure}
    return frozenset(
        module
        for module, distributions in packages_distributions().items()
        if not any(canonicalize_name(d) in shipped for d in distributions)
    )


def _time(modules: list[str]) -> float:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE.format(modules=modules, hidden=sorted(not_shipped()))],
        capture_output=True,
        text=True,
        check=True,
        env=_probe_environment(),
    )
    return float(result.stdout.strip())


def import_ratio(modules: list[str], runs: int) -> tuple[ImportRatio, float]:
    """The ratio of ``modules`` against the baseline, and the fastest baseline run."""
    _time(modules)  # warm the bytecode cache
    _time(BASELINE)
    pairs = [(_time(modules), _time(BASELINE)) for _ in range(runs)]
    fastest = min(b for _, b in pairs)
    ratio = ImportRatio(
        ratio=min(h for h, _ in pairs) / fastest,
        median_pair_ratio=statistics.median(h / b for h, b in pairs),
    )
    return ratio, fastest


def import_ratios(runs: int = 15) -> tuple[dict[str, ImportRatio], float]:
    """Each handler's ratio, and the fastest ``import boto3`` seen in the whole run."""
    ratios: dict[str, ImportRatio] = {}
    baseline = float("inf")
    for name, module in HANDLERS.items():
        ratios[name], fastest = import_ratio([module, *FIRST_REQUEST[name]], runs)
        baseline = min(baseline, fastest)
    return ratios, baseline
