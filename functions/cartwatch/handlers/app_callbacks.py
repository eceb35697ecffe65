"""BigCommerce's app callbacks (API Gateway HTTP API, payload v2) — not the webhook ack path.

    GET  /bigcommerce/app/auth         install: exchange the code, connect the store
    GET  /bigcommerce/app/load         the merchant page (signed_payload_jwt)
    POST /bigcommerce/app/settings     the page's settings form (form token)
    GET  /bigcommerce/app/uninstall    the app was removed: purge the store (signed_payload_jwt)
    GET  /bigcommerce/app/remove-user  a user lost access to the app (signed_payload_jwt)

Every answer is an HTML page — BigCommerce shows the auth and load answers in the control
panel's iframe — and this module is the one place that maps outcomes to status codes.  The
query string (it carries the code or the signed payload) is never logged.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from aws_lambda_powertools.metrics import MetricUnit

from cartwatch.adapters.store_registry import AppNotConfigured
from cartwatch.handlers.app_pages import html_response, merchant_page, message_page
from cartwatch.handlers.emf import log_metrics
from cartwatch.handlers.observability import logger, metrics
from cartwatch.resources import APP_ROUTES
from cartwatch.service.app_install import AppInstaller, InstallFailed, InstallFailure
from cartwatch.service.form_tokens import InvalidFormToken
from cartwatch.service.merchant_page import MerchantPage, NotAllowed, StoreNotConnected
from cartwatch.service.signed_payload import InvalidSignedPayload

# A settings form is a few hundred bytes; anything near this is not one.
MAX_FORM_BYTES = 16 * 1024

Response = dict[str, Any]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class App:
    installer: AppInstaller
    page: MerchantPage
    frame_ancestors: Sequence[str]


class Rejected(Exception):
    def __init__(self, status: HTTPStatus, title: str, text: str, *, hint: str = "") -> None:
        super().__init__(text)
        self.status, self.title, self.text, self.hint = status, title, text, hint


# What the merchant reads for each install failure: (status, title, text).
_INSTALL_PAGES: dict[InstallFailure, tuple[HTTPStatus, str, str]] = {
    InstallFailure.BAD_REQUEST: (
        HTTPStatus.BAD_REQUEST,
        "This install link is incomplete",
        "Start the installation again from the BigCommerce control panel.",
    ),
    InstallFailure.NOT_CONFIGURED: (
        HTTPStatus.SERVICE_UNAVAILABLE,
        "cartwatch is not set up yet",
        "The app's operator has not configured its credentials. Please contact them.",
    ),
    InstallFailure.CODE_REFUSED: (
        HTTPStatus.BAD_REQUEST,
        "BigCommerce did not accept this installation",
        "The install link has expired or was already used. Start the installation again.",
    ),
    InstallFailure.CODE_REUSED: (
        HTTPStatus.CONFLICT,
        "This install link was already used",
        "Start the installation again from the BigCommerce control panel.",
    ),
    InstallFailure.IN_PROGRESS: (
        HTTPStatus.CONFLICT,
        "Still connecting your store",
        "Reload this page in a few seconds.",
    ),
    InstallFailure.LOGIN_UNAVAILABLE: (
        HTTPStatus.BAD_GATEWAY,
        "BigCommerce did not answer",
        "Nothing was installed. Please start the installation again in a minute.",
    ),
    InstallFailure.SCOPES_MISSING: (
        HTTPStatus.FORBIDDEN,
        "cartwatch needs more access",
        "cartwatch needs read access to carts, checkouts, customers and orders. "
        "Nothing was installed; the app's operator must request these scopes.",
    ),
    InstallFailure.STILL_PURGING: (
        HTTPStatus.CONFLICT,
        "Your previous installation is still being removed",
        "cartwatch is deleting the data of the last installation. Try again in a few minutes.",
    ),
    InstallFailure.HOOKS_REFUSED: (
        HTTPStatus.BAD_GATEWAY,
        "BigCommerce refused cartwatch's webhooks",
        "Nothing was installed. Please start the installation again; "
        "if it keeps failing, contact the app's operator.",
    ),
}


@logger.inject_lambda_context(clear_state=True)
@log_metrics(metrics)
def handler(event: dict[str, Any], context: Any, *, app: App | None = None) -> Response:
    if app is None:
        app = _default_app()
    metrics.add_metric(name="AppCallbacks", unit=MetricUnit.Count, value=1)
    try:
        request = _request(event)
        return _ROUTES.get((request.method, request.path), _no_such_page)(app, request)
    except Rejected as rejected:
        return _page(app, rejected.status, message_page(rejected.title, rejected.text, hint=rejected.hint))


def _default_app() -> App:
    from cartwatch.composition import composition_for

    function = composition_for("app_callbacks")
    installer, page = function.app_callbacks
    return App(installer, page, function.settings.app_frame_ancestors)


def _page(app: App, status: HTTPStatus, body: str) -> Response:
    return html_response(status.value, body, app.frame_ancestors)


# --- routes -----------------------------------------------------------------------------------


def _auth(app: App, request: Request) -> Response:
    try:
        installed = app.installer.install(request.query)
    except AppNotConfigured:
        logger.warning("install refused: the app's client id and secret are not configured")
        metrics.add_metric(name="AppInstallsFailed", unit=MetricUnit.Count, value=1)
        status, title, text = _INSTALL_PAGES[InstallFailure.NOT_CONFIGURED]
        raise Rejected(status, title, text) from None
    except InstallFailed as failed:
        logger.warning(
            "install failed",
            extra={"store_hash": failed.store_hash, "failure": failed.failure.value, "detail": str(failed)},
        )
        metrics.add_metric(name="AppInstallsFailed", unit=MetricUnit.Count, value=1)
        status, title, text = _INSTALL_PAGES[failed.failure]
        raise Rejected(status, title, text) from None
    logger.info(
        "app installed",
        extra={"store_hash": installed.store_hash, "hooks": installed.hooks, "repeated": installed.repeated},
    )
    if not installed.repeated:
        metrics.add_metric(name="AppInstalls", unit=MetricUnit.Count, value=1)
    return _page(
        app,
        HTTPStatus.OK,
        message_page(
            "cartwatch is connected to your store",
            f"Your store's cart events now flow to cartwatch ({installed.hooks} webhooks registered).",
            hint="Open cartwatch from the Apps menu to see your figures and change its settings.",
            good=True,
        ),
    )


def _load(app: App, request: Request) -> Response:
    view = _verified(lambda: app.page.load(request.query.get("signed_payload_jwt")))
    logger.append_keys(store_hash=view.store_hash)
    return _page(app, HTTPStatus.OK, merchant_page(view))


def _save(app: App, request: Request) -> Response:
    _same_origin(request)
    if len(request.body) > MAX_FORM_BYTES:
        raise Rejected(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "Too large", "This is not a settings form.")
    try:
        form = dict(parse_qsl(request.body.decode("utf-8"), keep_blank_values=True, max_num_fields=50))
    except (UnicodeDecodeError, ValueError):
        raise Rejected(HTTPStatus.BAD_REQUEST, "Not a form", "This is not a settings form.") from None
    try:
        view = app.page.save(form)
    except InvalidFormToken as invalid:
        logger.info("settings form refused", extra={"reason": str(invalid)})
        raise Rejected(
            HTTPStatus.FORBIDDEN,
            "This page has expired",
            "Nothing was changed. Open cartwatch again from the Apps menu and repeat the change.",
        ) from None
    except NotAllowed as denied:
        raise Rejected(HTTPStatus.FORBIDDEN, "Not allowed", f"Nothing was changed: {denied}.") from None
    except StoreNotConnected:
        raise _not_connected() from None
    logger.append_keys(store_hash=view.store_hash)
    return _page(app, HTTPStatus.BAD_REQUEST if view.invalid else HTTPStatus.OK, merchant_page(view))


def _uninstall(app: App, request: Request) -> Response:
    purging = _verified(lambda: app.page.uninstall(request.query.get("signed_payload_jwt")))
    metrics.add_metric(name="AppUninstalls", unit=MetricUnit.Count, value=1)
    logger.info("app uninstalled", extra={"purge": purging})
    return _page(app, HTTPStatus.OK, message_page("Uninstalled", "cartwatch is removing this store's data."))


def _remove_user(app: App, request: Request) -> Response:
    payload = _verified(lambda: app.page.remove_user(request.query.get("signed_payload_jwt")))
    logger.info("app user removed", extra={"store_hash": payload.store_hash, "user_id": payload.user_id})
    return _page(
        app, HTTPStatus.OK, message_page("User removed", "The user's access to cartwatch was removed.")
    )


def _no_such_page(app: App, request: Request) -> Response:
    raise Rejected(HTTPStatus.NOT_FOUND, "Not found", "There is no such page.")


_ROUTES: dict[tuple[str, str], Callable[[App, Request], Response]] = {
    APP_ROUTES["auth"]: _auth,
    APP_ROUTES["load"]: _load,
    APP_ROUTES["settings"]: _save,
    APP_ROUTES["uninstall"]: _uninstall,
    APP_ROUTES["remove_user"]: _remove_user,
}


# --- helpers ----------------------------------------------------------------------------------


def _verified[T](call: Callable[[], T]) -> T:
    """Run a signed-payload callback; an untrusted payload is a 401 page and changes nothing."""
    try:
        return call()
    except InvalidSignedPayload as invalid:
        metrics.add_metric(name="AppCallbacksRejected", unit=MetricUnit.Count, value=1)
        logger.warning("signed payload refused", extra={"reason": str(invalid)})
        raise Rejected(
            HTTPStatus.UNAUTHORIZED,
            "This link is not valid",
            "It has expired, was already used, or was not issued by BigCommerce for cartwatch. "
            "Open cartwatch again from the Apps menu of your control panel.",
        ) from None
    except AppNotConfigured:
        logger.warning("callback refused: the app's client id and secret are not configured")
        status, title, text = _INSTALL_PAGES[InstallFailure.NOT_CONFIGURED]
        raise Rejected(status, title, text) from None
    except StoreNotConnected:
        raise _not_connected() from None


def _not_connected() -> Rejected:
    return Rejected(
        HTTPStatus.NOT_FOUND,
        "Your store is not connected",
        "cartwatch has no connection to this store (it was uninstalled). Install the app again to reconnect.",
    )


def _same_origin(request: Request) -> None:
    """Defence in depth beside the form token: the browser says where the POST came from.

    ``Sec-Fetch-Site`` first: browsers set it and no page can.  ``Origin`` otherwise — which
    is ``null`` for our own form under ``Referrer-Policy: no-referrer``, so only a foreign
    origin counts against a request.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        foreign = site not in ("same-origin", "none")
    else:
        origin = request.headers.get("origin")
        foreign = origin not in (None, "null") and urlsplit(origin).netloc != request.headers.get("host")
    if foreign:
        raise Rejected(
            HTTPStatus.FORBIDDEN, "Not allowed", "Nothing was changed: the form came from elsewhere."
        )


def _request(event: dict[str, Any]) -> Request:
    http = (event.get("requestContext") or {}).get("http") or {}
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise Rejected(HTTPStatus.BAD_REQUEST, "Not a form", "This is not a settings form.") from None
    else:
        raw = body.encode("utf-8", errors="replace")
    # API Gateway joins a repeated parameter's values with commas; a callback sends each once.
    query = {k: v for k, v in (event.get("queryStringParameters") or {}).items() if isinstance(v, str)}
    return Request(
        method=str(http.get("method", "GET")).upper(),
        path=str(event.get("rawPath") or http.get("path") or "").rstrip("/"),
        query=query,
        headers={k.lower(): v for k, v in (event.get("headers") or {}).items()},
        body=raw,
    )
