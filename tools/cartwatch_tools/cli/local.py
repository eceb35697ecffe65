"""`cartwatch local`: the whole pipeline on this machine, no AWS account needed.

An embedded moto server plays AWS, the BigCommerce sandbox plays the store (unless
``--bigcommerce-api-url`` points at a real one), and the Lambda handlers run in this
process behind a loopback API Gateway.  One line is printed per delivery, transition
and published event.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from cartwatch.domain.app_install import CLIENT_ID
from cartwatch.domain.cloud_events import CloudEvent
from cartwatch.domain.lifecycle import SweepAction, SweepDecision, WebhookResult
from cartwatch.domain.stages import StageSchedule, parse_duration
from cartwatch_tools.cli.info_file import DEFAULT_INFO_FILE, LocalInfo
from cartwatch_tools.iam.recording import CALL_LOG_ENV

DEFAULT_LOCAL_STAGES = "20s,40s"
DEFAULT_PORT = 8787
DEFAULT_FRAME_ANCESTOR = "https://*.mybigcommerce.com"


class LiveLog:
    """One readable line per thing that happens."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def line(self, kind: str, text: str) -> None:
        with self._lock:
            print(f"{time.strftime('%H:%M:%S')}  {kind:<10} {text}", file=self._stream, flush=True)

    def delivery(self, store_hash: str, scope: str, status: int) -> None:
        self.line("webhook", f"{store_hash}  {scope:<28} HTTP {status}")

    def transition(self, result: WebhookResult) -> None:
        before = result.before.status.value if result.before else "new"
        after = result.after
        change = "activity" if before == after.status.value else f"{before} -> {after.status.value}"
        self.line("cart", f"{after.store_hash}/{_short(after.cart_id)}  {change}")

    def sweep(self, decision: SweepDecision) -> None:
        state = decision.after
        if decision.action is SweepAction.ABANDON:
            self.line(
                "sweep", f"{state.store_hash}/{_short(state.cart_id)}  abandoned, stage {decision.stage}"
            )
        elif decision.action is SweepAction.EXPIRE:
            self.line("sweep", f"{state.store_hash}/{_short(state.cart_id)}  expired")

    def published(self, event: CloudEvent) -> None:
        self.line("event", f"{event.type:<26} {_short(event.subject)}  id={event.id}")


def _short(cart_id: str) -> str:
    return cart_id[:8]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "local",
        help="run the whole pipeline on this machine (moto server + BigCommerce sandbox)",
        description=__doc__,
    )
    parser.add_argument(
        "--port",
        type=int,
        help=f"receiver and API port on 127.0.0.1 (0: any; default {DEFAULT_PORT}, any with --demo)",
    )
    parser.add_argument(
        "--stages",
        default=DEFAULT_LOCAL_STAGES,
        help=f"default stage delays (default {DEFAULT_LOCAL_STAGES})",
    )
    parser.add_argument("--sweep-every", default="1s", help="sweep interval (default 1s)")
    parser.add_argument(
        "--rescue-every",
        default="60s",
        help="how often the publisher's scheduled run retries deferred, stuck and redriven events "
        "(default 60s, as deployed)",
    )
    parser.add_argument(
        "--cache-seconds",
        type=int,
        default=1,
        help="how long the functions keep store settings and access tokens (default 1, so "
        "`stores add|update --local` applies at once; deployed: 300 and 3600)",
    )
    parser.add_argument(
        "--info-file", type=Path, default=DEFAULT_INFO_FILE, help="where to write the info file"
    )
    parser.add_argument("--bigcommerce-api-url", help="use this BigCommerce API instead of the sandbox")
    parser.add_argument("--aws-port", type=int, default=0, help="moto server port (default: any free port)")
    parser.add_argument(
        "--sandbox-store",
        action="append",
        default=[],
        metavar="HASH:TOKEN:SECRET",
        help="create a store in the built-in sandbox (repeatable), to onboard with `stores add --local`",
    )
    parser.add_argument(
        "--sandbox-app",
        action="append",
        default=[],
        metavar="CLIENT_ID:SECRET",
        help="register cartwatch as a single-click app in the built-in sandbox (its developer portal), "
        "with this client id and secret; then `cartwatch app configure` and `cartwatch sandbox install-app`",
    )
    parser.add_argument("--demo", action="store_true", help="add a demo store and run a shopper simulation")
    parser.add_argument("--demo-carts", type=int, default=12, help="shoppers in the demo simulation")
    parser.add_argument(
        "--duplicate-rate", type=float, default=0.0, help="sandbox: share of deliveries sent twice"
    )
    parser.add_argument("--reorder", action="store_true", help="sandbox: deliver webhooks out of order")
    parser.add_argument(
        "--exit-after-demo", action="store_true", help="stop once the demo simulation finished"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from cartwatch_tools.cli.errors import CliError

    try:
        stages = StageSchedule.parse(args.stages)
        sweep_every = parse_duration(args.sweep_every)
        args.rescue_every = parse_duration(args.rescue_every)
    except ValueError as error:
        raise CliError(str(error)) from None
    if args.bigcommerce_api_url and args.demo:
        raise CliError("--demo needs the built-in sandbox; drop --bigcommerce-api-url")
    if not 0.0 <= args.duplicate_rate <= 1.0:
        raise CliError("--duplicate-rate must be between 0 and 1")
    if args.cache_seconds < 0:
        raise CliError(f"--cache-seconds must be 0 or more, not {args.cache_seconds}")
    if args.sandbox_store and args.bigcommerce_api_url:
        raise CliError("--sandbox-store needs the built-in sandbox; drop --bigcommerce-api-url")
    for spec in args.sandbox_store:
        parts = spec.split(":")
        if len(parts) != 3 or not all(parts):
            # Never echo the value: it holds a token and a secret.
            raise CliError("--sandbox-store takes HASH:TOKEN:SECRET")
    if args.sandbox_app and args.bigcommerce_api_url:
        raise CliError("--sandbox-app needs the built-in sandbox; drop --bigcommerce-api-url")
    for spec in args.sandbox_app:
        client_id, _, secret = spec.partition(":")
        if not CLIENT_ID.match(client_id) or not secret:
            raise CliError("--sandbox-app takes CLIENT_ID:SECRET")
    call_log = os.environ.get(CALL_LOG_ENV)
    if call_log:
        # Tests check every AWS call each function makes against its role in the stack
        # (docs/architecture.md, "IAM conformance").
        from cartwatch_tools.iam.recording import record_to_file

        record_to_file(Path(call_log))
    if args.port is None:
        # A tunnel or a BigCommerce app points at a stable port; the demo points at nothing, so
        # it takes any free one and a second demo (or a test run) never collides with the first.
        args.port = 0 if args.demo else DEFAULT_PORT
    return LocalRun(args, stages, sweep_every).serve()


class LocalRun:
    def __init__(self, args: argparse.Namespace, stages: StageSchedule, sweep_every: int) -> None:
        self.args = args
        self.stages = stages
        self.sweep_every = sweep_every
        self.log = LiveLog(sys.stdout)
        self.stopping = threading.Event()

    def serve(self) -> int:
        from cartwatch_tools.cli.errors import CliError
        from cartwatch_tools.local.moto_server import MotoServer, local_environment
        from cartwatch_tools.local.pipeline import LocalPipeline, PipelineObserver

        # The live lines below are the readable output; the handlers' JSON logs and EMF
        # metrics (what CloudWatch would get) stay quiet unless asked for.
        quiet = "POWERTOOLS_LOG_LEVEL" not in os.environ
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        if quiet:
            import logging

            # The handlers' one Powertools logger (cartwatch.handlers.observability) may exist
            # already: command modules import some handlers' code.
            logging.getLogger("cartwatch").setLevel(logging.WARNING)
        try:
            moto = MotoServer(self.args.aws_port).start()
        except OSError as error:
            raise CliError(
                f"cannot start the AWS emulator on port {self.args.aws_port}: {error.strerror}"
            ) from None
        os.environ.update(local_environment(moto.endpoint_url))
        sandbox = None
        pipeline = None
        try:
            if self.args.bigcommerce_api_url:
                api_url = self.args.bigcommerce_api_url.rstrip("/")
            else:
                from cartwatch_tools.sandbox import BigCommerceSandbox

                sandbox = BigCommerceSandbox(
                    allow_http_destinations=True,
                    duplicate_rate=self.args.duplicate_rate,
                    reorder=self.args.reorder,
                    # The sandbox's own "abandoned" hint follows the first local stage.
                    abandon_after=float(self.stages.delays[0]),
                ).start()
                api_url = sandbox.url
                for spec in self.args.sandbox_store:
                    store_hash, token, secret = spec.split(":")
                    sandbox.add_store(store_hash, access_token=token, client_secret=secret)
            try:
                pipeline = LocalPipeline(
                    moto.endpoint_url,
                    bigcommerce_api_url=api_url,
                    default_stages=self.stages,
                    gateway_port=self.args.port,
                    cache_seconds=self.args.cache_seconds,
                    # The sandbox's control panel frames the app's page, as *.mybigcommerce.com does.
                    frame_ancestors=(DEFAULT_FRAME_ANCESTOR, *((sandbox.url,) if sandbox else ())),
                    observer=PipelineObserver(
                        delivery=self.log.delivery,
                        transition=self.log.transition,
                        sweep=self.log.sweep,
                        published=self.log.published,
                    ),
                )
            except OSError as error:
                raise CliError(f"cannot listen on 127.0.0.1:{self.args.port}: {error.strerror}") from None
            if sandbox is not None:
                self._register_apps(sandbox, pipeline)
            pipeline.start(sweep_every=float(self.sweep_every), rescue_every=float(self.args.rescue_every))
            info = LocalInfo(
                webhook_base_url=f"{pipeline.gateway.url}/webhooks/bigcommerce",
                api_url=pipeline.gateway.url,
                aws_endpoint_url=moto.endpoint_url,
                region=pipeline.resources.region,
                topic_arn=pipeline.resources.topic_arn,
                bigcommerce_api_url=api_url,
                table_name=pipeline.resources.table_name,
                credentials_table_name=pipeline.resources.credentials_table_name,
                ssm_prefix=pipeline.ssm_prefix,
                intake_queue_url=pipeline.resources.intake_queue_url,
                intake_dlq_url=pipeline.resources.intake_dlq_url,
                publisher_dlq_url=pipeline.resources.publisher_dlq_url,
                archive_bucket=pipeline.resources.archive_bucket,
                pid=os.getpid(),
                sandbox=sandbox is not None,
                default_stages=str(self.stages),
            )
            info.write(self.args.info_file)
            self._banner(info)
            self._install_signal_handlers()
            if self.args.demo and sandbox is not None:
                self._start_demo(info, sandbox)
            while not self.stopping.wait(0.5):
                pass
            self.log.line("local", "stopping…")
            return 0
        finally:
            if pipeline is not None:
                pipeline.stop()
            if sandbox is not None:
                sandbox.stop()
            moto.stop()
            self.args.info_file.unlink(missing_ok=True)

    def _banner(self, info: LocalInfo) -> None:
        lines = [
            "cartwatch local is running — Ctrl-C stops it",
            f"  webhooks     {info.webhook_base_url}/{{store_hash}}",
            f"  AWS (moto)   {info.aws_endpoint_url}  region {info.region}",
            f"  events       {info.topic_arn}",
            f"  BigCommerce  {info.bigcommerce_api_url}" + ("  (built-in sandbox)" if info.sandbox else ""),
            f"  stages       {self.stages}   sweep every {self.sweep_every}s",
            *(
                [f"  app          {info.api_url}/bigcommerce/app/…  (sandbox apps: {self._apps()})"]
                if self.args.sandbox_app
                else []
            ),
            f"  info file    {self.args.info_file}",
        ]
        print("\n".join(lines), flush=True)

    def _start_demo(self, info: LocalInfo, sandbox: Any) -> None:
        from cartwatch_tools.cli.demo import run_demo

        demo = threading.Thread(
            target=run_demo,
            args=(
                info,
                self.args.info_file,
                sandbox,
                self.args.demo_carts,
                self.log,
                self.stopping,
                self.args.exit_after_demo,
            ),
            name="cartwatch-demo",
            daemon=True,
        )
        demo.start()

    def _register_apps(self, sandbox: Any, pipeline: Any) -> None:
        """The sandbox's developer portal learns the app, with the local callback URLs."""
        from cartwatch_tools.sandbox.apps import RegisteredApp

        for spec in self.args.sandbox_app:
            client_id, _, secret = spec.partition(":")
            sandbox.apps.register(RegisteredApp.calling(client_id, secret, pipeline.app_callback_url))

    def _apps(self) -> str:
        return ", ".join(spec.partition(":")[0] for spec in self.args.sandbox_app)

    def _install_signal_handlers(self) -> None:
        def stop(signum: int, frame: Any) -> None:
            self.stopping.set()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
