"""`bench/run`: every benchmark, one JSON line per figure."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

from bench.imports import import_ratios
from bench.intake import metric, run_intake
from cartwatch.local.moto_server import MotoServer, local_environment


def emit(line: dict[str, Any]) -> None:
    print(json.dumps(line), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run")
    parser.add_argument("--shoppers", type=int, default=300, help="shoppers in the storefront replay")
    parser.add_argument("--quick", action="store_true", help="smaller figures, for CI smoke runs")
    args = parser.parse_args(argv)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Cartwatch")
    server = MotoServer().start()
    os.environ.update(local_environment(server.endpoint_url))
    failures = 0
    try:
        intake = run_intake(server.endpoint_url, shoppers=60 if args.quick else args.shoppers)
        for line in intake.lines():
            emit(line)
        ratios = import_ratios(runs=3 if args.quick else 7)
        emit(metric("cold_import_boto3_seconds", ratios.pop("baseline_boto3_seconds"), "s", None))
        for name, ratio in ratios.items():
            emit(metric(f"cold_import_ratio_{name}", ratio, "x import boto3", None))
        emit(metric("cold_import_ratio_ack", ratios["receiver"], "x import boto3", "<= 1.3"))
        emit(metric("cold_import_ratio_max", max(ratios.values()), "x import boto3", "<= 2.0"))
    finally:
        server.stop()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
