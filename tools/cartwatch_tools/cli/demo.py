"""`cartwatch local --demo`: a demo store in the sandbox, onboarded and shopped at."""

from __future__ import annotations

import secrets
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from cartwatch_tools.cli.info_file import LocalInfo

if TYPE_CHECKING:
    from cartwatch_tools.cli.local import LiveLog
    from cartwatch_tools.sandbox import BigCommerceSandbox

DEMO_STORE = "demostore"


def run_demo(
    info: LocalInfo,
    info_file: Path,
    sandbox: BigCommerceSandbox,
    carts: int,
    log: LiveLog,
    stopping: threading.Event,
    exit_after: bool,
) -> None:
    from cartwatch_tools.cli.simulate import LocalStore, run_simulation
    from cartwatch_tools.cli.store_admin import NewStore, StoreAdmin
    from cartwatch_tools.cli.target import local_target

    try:
        access_token, client_secret = secrets.token_hex(24), secrets.token_hex(24)
        sandbox.add_store(DEMO_STORE, access_token=access_token, client_secret=client_secret)
        # Onboard it exactly as `cartwatch stores add DEMO_STORE --local` does.
        added = StoreAdmin(local_target(info_file)).add(
            NewStore(DEMO_STORE, access_token=access_token, client_secret=client_secret)
        )
        if added.hooks.failures:
            log.line("demo", f"could not register the demo store's hooks: {added.hooks.failures[0].reason}")
            return
        log.line("demo", f"store {DEMO_STORE} added; webhooks → {added.destination}")
        log.line("demo", f"{carts} shoppers are heading to {DEMO_STORE}…")
        result = run_simulation(
            info, LocalStore.find(info, DEMO_STORE), carts=carts, seed=7, timeout=None, show_progress=False
        )
        log.line(
            "demo", "every cart got exactly its events" if result.ok else "some carts got unexpected events"
        )
        if not exit_after:
            log.line("demo", "still running: send your own webhooks, or Ctrl-C to stop")
    except Exception as error:  # noqa: BLE001 — the demo thread reports its failure in one line
        log.line("demo", f"the demo failed: {type(error).__name__}: {error}")
    finally:
        if exit_after:
            stopping.set()
