"""The merchant page as a merchant sees it: headless Chromium, inside the control panel's iframe.

`cartwatch local` runs as a process with the sandbox playing BigCommerce; the sandbox's
control panel page (another origin) frames cartwatch's page, as the real control panel
does.  Debian's ``chromium`` is driven by Playwright for Python through ``executable_path``
(Playwright downloads no browser); ``scripts/test`` installs it.  A screenshot of the
rendered page is kept in ``test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from tests.e2e.conftest import LocalRun, SandboxStore, start_local, stop_local

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CLIENT_ID = "browserapp"
APP_SECRET = "browser-app-secret-0123456789abcdef0123"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "Debian's chromium is not installed (scripts/test installs it: apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture
def local(tmp_path: Path, sandbox_store: SandboxStore) -> Iterator[LocalRun]:
    run = start_local(
        tmp_path,
        "--stages",
        "3s,6s",
        "--sandbox-store",
        sandbox_store.spec,
        "--sandbox-app",
        f"{CLIENT_ID}:{APP_SECRET}",
    )
    try:
        yield run
    finally:
        if run.process.poll() is None:
            stop_local(run)


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Root in CI: Chromium's sandbox needs an unprivileged user, so it is switched off.
        launched = playwright.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


class ForeignSite:
    """A page on another origin that tries to frame cartwatch's page."""

    def __init__(self) -> None:
        self.frame_src = ""
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = (
                    f'<!doctype html><title>elsewhere</title><iframe id=app src="{site.frame_src}"></iframe>'
                )
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"


def cli(run: LocalRun, *args: str) -> str:
    done = run.cli(*args, "--info-file", str(run.info_file))
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_merchant_page_in_the_control_panel(  # noqa: PLR0915 — one merchant's visit, in order
    local: LocalRun, sandbox_store: SandboxStore, browser: Any, tmp_path: Path
) -> None:
    store = sandbox_store.store_hash
    cli(local, "app", "configure", "--local", "--client-id", CLIENT_ID, "--client-secret", APP_SECRET)
    assert "cartwatch answered 200" in cli(local, "sandbox", "install-app", store, "--local")
    # Shoppers, so the page has figures to show.
    report_file = tmp_path / "report.json"
    cli(local, "simulate", store, "--carts", "6", "--seed", "4", "--report-file", str(report_file))
    report = json.loads(report_file.read_text())
    abandoned = sum(1 for c in report["carts"] if c["expected"].get("cartwatch.cart.abandoned"))
    recovered = sum(1 for c in report["carts"] if c["expected"].get("cartwatch.cart.recovered"))
    assert abandoned and recovered
    control_panel = cli(local, "sandbox", "open-app", store, "--local").strip()

    page = browser.new_page(viewport={"width": 1100, "height": 1000})
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))

    # 1. The control panel frames the page: status, hooks, figures, settings.
    page.goto(control_panel)
    app = page.frame_locator("#app")
    app.locator("#figure-abandoned").wait_for(timeout=15_000)
    assert app.locator("#status").inner_text() == "Connected"
    assert app.locator("#hooks-summary").inner_text() == "10 of 10 active"
    assert app.locator("#figure-abandoned .value").inner_text() == str(abandoned)
    assert app.locator("#figure-recovered .value").inner_text() == str(recovered)
    assert app.locator("#figure-revenue .value").inner_text().startswith("USD ")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "merchant-page.png"), full_page=True)

    # 2. A settings change is saved, and is what `cartwatch stores show` says.
    app.locator("#stages").fill("2h,1d")
    app.locator("#recovery_links").check()
    app.locator("button[type=submit]").click()
    app.locator(".notice").wait_for(timeout=15_000)
    assert app.locator(".notice").inner_text() == "Saved."
    assert app.locator("#stages").input_value() == "2h,1d"
    page.screenshot(path=str(ARTIFACTS / "merchant-page-saved.png"), full_page=True)
    shown = cli(local, "stores", "show", store, "--local")
    assert "stages             2h,1d" in shown and "recovery links     yes" in shown

    # A value the CLI would refuse is refused on the page, naming why; nothing changes.
    app.locator("#stages").fill("2h,1h")
    app.locator("button[type=submit]").click()
    app.locator("#error-stages").wait_for(timeout=15_000)
    assert "must increase" in app.locator("#error-stages").inner_text()
    assert "stages             2h,1d" in cli(local, "stores", "show", store, "--local")

    # 3. A forged or an expired payload gets an error page and changes nothing.
    legit_src = page.locator("#app").get_attribute("src") or ""
    claims = jwt.decode(legit_src.split("signed_payload_jwt=")[1], options={"verify_signature": False})
    load_url = legit_src.split("?")[0]
    now = int(time.time())
    forged = jwt.encode(
        {**claims, "jti": "forged", "user": {"id": 4242}}, "not-the-app-secret-0123456789abcdef"
    )
    expired = jwt.encode(
        {**claims, "jti": "expired", "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600}, APP_SECRET
    )
    for token in (forged, expired):
        page.evaluate(
            "src => { document.querySelector('#app').src = src }", f"{load_url}?signed_payload_jwt={token}"
        )
        # The old page stays until the new one arrives: wait for the refusal itself.
        app.get_by_text("This link is not valid").wait_for(timeout=15_000)
        assert app.locator("form").count() == 0
    page.screenshot(path=str(ARTIFACTS / "merchant-page-refused.png"), full_page=True)
    shown = cli(local, "stores", "show", store, "--local")
    assert "stages             2h,1d" in shown and "recovery links     yes" in shown

    # 4. Another origin cannot frame the page: the browser refuses to show it.
    foreign = ForeignSite()
    try:
        # A payload BigCommerce could have signed: cartwatch answers the page, the browser hides it.
        valid = jwt.encode({**claims, "jti": "framed-elsewhere", "iat": now, "nbf": now}, APP_SECRET)
        foreign.frame_src = f"{load_url}?signed_payload_jwt={valid}"
        other = browser.new_page()
        refusals: list[str] = []
        other.on("console", lambda message: refusals.append(message.text))
        other.goto(foreign.url)
        for _ in range(50):  # the browser reports the refusal once the frame's answer arrived
            if any("frame-ancestors" in text for text in refusals):
                break
            other.wait_for_timeout(200)
        framed = other.frame_locator("#app")
        assert framed.locator("#figure-abandoned").count() == 0
        assert any("frame-ancestors" in text for text in refusals), refusals
    finally:
        foreign.server.shutdown()
