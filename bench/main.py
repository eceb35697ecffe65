"""`bench/run`: every benchmark, one JSON line per figure."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

# Quiet handlers before they are imported: the bench's stdout is JSON lines only.
from bench.archive import STORES, run_archive
from bench.burst import run_burst
from bench.capacity_model import Knobs, Measured
from bench.capacity_model import lines as capacity_lines
from bench.capacity_model import render as render_capacity
from bench.events import run_events
from bench.footprint import lines as footprint_lines
from bench.handler_cpu import PROCESSOR_BUDGET_MS, RECEIVER_BUDGET_MS, handler_cpu
from bench.imports import import_ratios
from bench.intake import IntakeFigures, metric, run_intake
from bench.load import run_load
from bench.memory import warm_memory_growth
from bench.query import read_per_listed_cart
from bench.sweep import read_amplification
from cartwatch_tools.local.moto_server import MotoServer, local_environment

BURST_RATE = 200.0


def emit(line: dict[str, Any]) -> None:
    print(json.dumps(line), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run")
    parser.add_argument("--shoppers", type=int, default=300, help="shoppers in the storefront replay")
    parser.add_argument("--quick", action="store_true", help="smaller figures, for CI smoke runs")
    parser.add_argument(
        "--capacity-doc", metavar="PATH", help="write the capacity model (docs/capacity.md) from this run"
    )
    parser.add_argument("--load-stores", type=int, default=1000, help="stores in the load run")
    parser.add_argument("--load-seconds", type=float, default=60.0, help="length of the load run")
    args = parser.parse_args(argv)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Cartwatch")
    server = MotoServer().start()
    os.environ.update(local_environment(server.endpoint_url))
    failures = 0
    try:
        shoppers = 60 if args.quick else args.shoppers
        intake = run_intake(server.endpoint_url, shoppers=shoppers)
        for line in intake.lines():
            emit(line)
        # The same mix with the store listing its active carts (`stores add --list-active`).
        for line in run_intake(server.endpoint_url, shoppers=shoppers, list_active=True).lines():
            emit(line)
        # Our code's CPU per webhook, warm, with AWS answered in memory (bench/handler_cpu.py).
        cpu = handler_cpu(1500 if args.quick else 6000)
        emit(
            metric("handler_cpu_ms_per_webhook_receiver", cpu["receiver"], "ms", f"<= {RECEIVER_BUDGET_MS:g}")
        )
        emit(
            metric(
                "handler_cpu_ms_per_webhook_processor", cpu["processor"], "ms", f"<= {PROCESSOR_BUDGET_MS:g}"
            )
        )
        for line in intake.cost_lines(cpu["receiver"], cpu["processor"]):
            emit(line)
        sizes = (10_000,) if args.quick else (10_000, 100_000)
        amplifications = {}
        for tracked in sizes:
            figures = read_amplification(server.endpoint_url, tracked=tracked, due=1000)
            amplifications[tracked] = figures["amplification"]
            emit(
                metric(
                    f"sweep_read_amplification_{tracked // 1000}k",
                    figures["amplification"],
                    "items read / due cart",
                    f"<= {figures['budget']:.3f}",
                )
            )
            if tracked == 10_000:
                # Every shard's lag comes with its first page: no query of its own.
                emit(
                    metric(
                        "sweep_due_queries_per_shard",
                        figures["queries_per_shard"],
                        "queries / shard / sweep (the lag of every shard included)",
                        "== 1.0",
                    )
                )
                emit(
                    metric(
                        "sweep_shard_queries_usd_per_month",
                        figures["shard_queries_usd_per_month"],
                        "USD / month, one sweep a minute, at any number of stores",
                        None,
                    )
                )
        if len(amplifications) == 2:
            emit(
                metric(
                    "sweep_read_amplification_growth_10x",
                    amplifications[100_000] / amplifications[10_000],
                    "ratio 100k / 10k tracked carts",
                    "~ 1.0 (flat)",
                )
            )
        events = run_events(server.endpoint_url, shoppers=20 if args.quick else 60)
        for line in _event_lines(events) + _capacity(intake, cpu, events, args.capacity_doc):
            emit(line)
        archive = run_archive(server.endpoint_url, events=5_000 if args.quick else 20_000)
        emit(
            metric(
                "archive_cost_usd_per_million_events",
                archive["cost_per_million"],
                f"USD ({STORES} stores, full batches, {archive['bytes_per_event']:.0f} B/event gzipped)",
                None,
            )
        )
        for part, value in archive["parts"].items():
            emit(metric(f"archive_cost_usd_per_million_events_{part}", value, "USD", None))
        emit(metric("archive_objects_per_event", archive["objects_per_event"], "S3 objects / event", None))
        emit(
            metric("replay_reads_per_event", archive["replay_reads_per_event"], "LIST+GET / event", "<= 1.2")
        )
        reads = read_per_listed_cart(server.endpoint_url, hours=12 if args.quick else 24, carts_per_hour=20)
        emit(
            metric(
                "query_items_read_per_listed_cart", reads["consumer"]["ratio"], "items read / cart", "<= 1.2"
            )
        )
        emit(
            metric(
                "query_items_read_per_listed_cart_evaluated_filters",
                reads["evaluated"]["ratio"],
                "items read / cart",
                None,
            )
        )
        for line in _memory_and_imports(args):
            emit(line)
        # A burst against `cartwatch local` as its own process (200 deliveries/s, one store):
        # 30 s in the full run, 5 s in the CI smoke run.
        for line in run_burst(BURST_RATE, 5.0 if args.quick else 30.0).lines(metric):
            emit(line)
        for line in _load(args):
            emit(line)
    finally:
        server.stop()
    return 1 if failures else 0


def _memory_and_imports(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Each function's peak memory against its configured size (bench/footprint.py), the
    warm handlers' memory growth, and the cold import ratios."""
    lines = footprint_lines(metric)
    # The replay runs under tracemalloc, which traces every allocation: 20,000 webhooks take
    # ~15 minutes on two cores and measure 8,000 of them after the warm-up and halfway mark;
    # `python -m bench.memory --webhooks 100000` is the hour-long run.
    memory = warm_memory_growth(webhooks=3_000 if args.quick else 20_000)
    lines.append(
        metric(
            "warm_memory_growth_mb_per_100k_webhooks",
            memory["growth_mb_per_100k"],
            "MB",
            "<= 5",
        )
    )
    ratios, baseline = import_ratios(runs=9 if args.quick else 15)
    lines.append(metric("cold_import_boto3_seconds", baseline, "s", None))
    for name, ratio in ratios.items():
        lines.append(metric(f"cold_import_ratio_{name}", ratio.ratio, "x import boto3", None))
        lines.append(
            metric(
                f"cold_import_ratio_{name}_median_pair",
                ratio.median_pair_ratio,
                "x import boto3",
                None,
            )
        )
    lines.append(metric("cold_import_ratio_ack", ratios["receiver"].ratio, "x import boto3", "<= 1.3"))
    lines.append(
        metric("cold_import_ratio_max", max(r.ratio for r in ratios.values()), "x import boto3", "<= 2.0")
    )
    return lines


def _load(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The load run (bench/load.py): many stores, the storefront mix, at the highest rate
    `cartwatch local` sustains on this machine; in the CI smoke run, a short one at a fixed
    rate that proves the machinery (nothing lost, nothing duplicated)."""
    if args.quick:
        load = run_load(stores=20, seconds=5.0, rate=30.0, settle=False)
    else:
        load = run_load(stores=args.load_stores, seconds=args.load_seconds, rate=100.0, find_rate=True)
    return load.lines(metric)


def _event_lines(events: dict[str, Any]) -> list[dict[str, Any]]:
    """BigCommerce calls per abandoned cart (stage 1) and per later stage, SNS publishes per event."""
    if events["later_stage_events"] == 0:
        raise RuntimeError("the events benchmark published no stage 2 or 3: the sweeps did not run")
    return [
        metric(
            "bigcommerce_calls_per_abandoned_cart",
            events["stage1_calls"] / max(events["abandoned_carts"], 1),
            "calls (stage 1)",
            "<= 3",
        ),
        metric(
            "bigcommerce_calls_later_stages",
            events["later_stage_calls"] / events["later_stage_events"],
            "calls per stage-2/3 event (is the cart still open?)",
            "<= 1",
        ),
        metric("sns_publishes_per_event", events["sns_calls"] / max(events["events"], 1), "calls", "<= 1.0"),
    ]


def _capacity(
    intake: IntakeFigures, cpu: dict[str, float], events: dict[str, Any], document: str | None
) -> list[dict[str, Any]]:
    """The capacity model's figures from this run's measurements (and docs/capacity.md)."""
    per = max(intake.webhooks, 1)
    measured = Measured(
        receiver_cpu_ms=round(cpu["receiver"], 4),
        processor_cpu_ms=round(cpu["processor"], 4),
        write_units_per_webhook=round(intake.write_units_per_webhook, 4),
        index_write_units_per_webhook=round(intake.index_write_units / per, 4),
        writes_per_webhook=round(intake.carts_written / per, 4),
        carts_per_webhook=round(intake.carts / per, 4),
        bigcommerce_calls_per_abandoned_cart=round(
            events["stage1_calls"] / max(events["abandoned_carts"], 1), 4
        ),
        bigcommerce_calls_per_later_stage=round(
            events["later_stage_calls"] / max(events["later_stage_events"], 1), 4
        ),
        sns_publishes_per_event=round(events["sns_calls"] / max(events["events"], 1), 4),
    )
    if document:
        with open(document, "w", encoding="utf-8") as out:
            out.write(render_capacity(measured, Knobs.deployed()))
    return capacity_lines(measured, Knobs.deployed(), metric)


if __name__ == "__main__":
    sys.exit(main())
