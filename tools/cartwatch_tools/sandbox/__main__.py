"""``python -m cartwatch_tools.sandbox``: run the sandbox until Ctrl-C.

Tokens and secrets are taken from the command line and never printed back.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from cartwatch_tools.sandbox.sandbox import BigCommerceSandbox


def _store_spec(text: str) -> tuple[str, str, str, str | None]:
    parts = text.split(":")
    if len(parts) not in (3, 4) or not all(parts):
        raise argparse.ArgumentTypeError("expected STORE_HASH:ACCESS_TOKEN:CLIENT_SECRET[:CLIENT_ID]")
    return parts[0], parts[1], parts[2], parts[3] if len(parts) == 4 else None


def _rate_limit(text: str) -> tuple[int, int]:
    try:
        quota, window = text.split("/")
        return int(quota), int(window)
    except ValueError as exc:
        raise argparse.ArgumentTypeError("expected REQUESTS/WINDOW_MS, e.g. 150/30000") from exc


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cartwatch_tools.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--store", type=_store_spec, action="append", default=[], metavar="HASH:TOKEN:SECRET")
    parser.add_argument("--rate-limit", type=_rate_limit, default=(150, 30_000), metavar="REQUESTS/WINDOW_MS")
    parser.add_argument("--time-scale", type=float, default=1.0, help="speed of retries and abandonment")
    parser.add_argument("--allow-http", action="store_true", help="accept http:// hook destinations")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(message)s"
    )

    sandbox = BigCommerceSandbox(
        host=args.host,
        port=args.port,
        rate_limit=args.rate_limit,
        time_scale=args.time_scale,
        allow_http_destinations=args.allow_http,
        seed=args.seed,
    )
    for store_hash, token, secret, client_id in args.store:
        sandbox.add_store(store_hash, token, secret, client_id=client_id)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with sandbox:
        print(f"BigCommerce sandbox listening on {sandbox.url}", flush=True)
        for store in sandbox.stores:
            print(
                f"  store {store.hash} (client {store.account.client_id}): {sandbox.api_url(store.hash)}",
                flush=True,
            )
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
