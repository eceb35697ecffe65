"""The app function's one place that maps outcomes to pages and status codes, and its headers."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any, cast

import pytest
from tests.support import FakeLambdaContext

from cartwatch.handlers import app_callbacks
from cartwatch.handlers.app_pages import merchant_page
from cartwatch.service.app_install import Installed, InstallFailed, InstallFailure
from cartwatch.service.form_tokens import InvalidFormToken
from cartwatch.service.merchant_page import (
    FieldView,
    Figures,
    HookHealth,
    HookState,
    NotAllowed,
    PageView,
    StoreNotConnected,
)
from cartwatch.service.signed_payload import InvalidSignedPayload

ANCESTORS = ("https://*.mybigcommerce.com",)
SETTINGS = "/bigcommerce/app/settings"


def view(**changes: Any) -> PageView:
    fields = (
        FieldView("stages", "Reminder stages", "hint", "text", "2h,1d"),
        FieldView("recovery_links", "Recovery links", "hint", "checkbox", True),
    )
    base = PageView(
        store_hash="s1",
        connected_by="app",
        hooks=HookHealth(
            (HookState("store/cart/created", "active"), HookState("store/cart/updated", "missing"))
        ),
        figures=Figures(30, 4, 1, 0.25, (("EUR", Decimal("12.5")), ("USD", Decimal("1234.5")))),
        fields=fields,
        default_stages="1h,24h,48h",
        form_token="sealed-token",
        editable=True,
    )
    return PageView(**{**base.__dict__, **changes})


class FakeInstaller:
    def __init__(self, outcome: Installed | Exception) -> None:
        self.outcome = outcome
        self.queries: list[dict[str, str]] = []

    def install(self, query: dict[str, str]) -> Installed:
        self.queries.append(query)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


class FakePage:
    def __init__(self, outcome: Any = None) -> None:
        self.outcome = outcome
        self.forms: list[dict[str, str]] = []

    def _answer(self) -> Any:
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome

    def load(self, token: str | None) -> PageView:
        return cast(PageView, self._answer())

    def save(self, form: dict[str, str]) -> PageView:
        self.forms.append(form)
        return cast(PageView, self._answer())

    def uninstall(self, token: str | None) -> bool:
        return cast(bool, self._answer())


def call(
    method: str,
    path: str,
    *,
    query: dict[str, str] | None = None,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    installer: FakeInstaller | None = None,
    page: FakePage | None = None,
) -> dict[str, Any]:
    event = {
        "rawPath": path,
        "queryStringParameters": query,
        "headers": {"host": "api.example.com", **(headers or {})},
        "requestContext": {"http": {"method": method, "path": path}},
        "body": base64.b64encode(body).decode() if body else None,
        "isBase64Encoded": bool(body),
    }
    app = app_callbacks.App(
        cast(Any, installer or FakeInstaller(Installed("s1", 10))), cast(Any, page or FakePage()), ANCESTORS
    )
    response: dict[str, Any] = app_callbacks.handler(event, FakeLambdaContext(), app=app)
    return response


def test_install_success_is_a_page_for_the_control_panel_iframe() -> None:
    installer = FakeInstaller(Installed("s1", 10))
    query = {"code": "c", "scope": "store_cart_read_only", "context": "stores/s1"}
    response = call("GET", "/bigcommerce/app/auth", query=query, installer=installer)
    assert response["statusCode"] == 200
    assert "connected to your store" in response["body"] and "10 webhooks" in response["body"]
    assert installer.queries == [query]


@pytest.mark.parametrize(
    ("failure", "status"),
    [
        (InstallFailure.BAD_REQUEST, 400),
        (InstallFailure.CODE_REFUSED, 400),
        (InstallFailure.CODE_REUSED, 409),
        (InstallFailure.LOGIN_UNAVAILABLE, 502),
        (InstallFailure.SCOPES_MISSING, 403),
        (InstallFailure.STILL_PURGING, 409),
        (InstallFailure.HOOKS_REFUSED, 502),
    ],
)
def test_every_install_failure_has_its_page(failure: InstallFailure, status: int) -> None:
    installer = FakeInstaller(InstallFailed(failure, "operator detail <b>", "s1"))
    response = call("GET", "/bigcommerce/app/auth", query={"code": "c"}, installer=installer)
    assert response["statusCode"] == status
    assert response["headers"]["content-type"] == "text/html; charset=utf-8"
    assert "operator detail" not in response["body"]  # the log's words, not the merchant's


def test_an_untrusted_signed_payload_is_a_401_page() -> None:
    page = FakePage(InvalidSignedPayload("signed payload expired"))
    response = call("GET", "/bigcommerce/app/load", query={"signed_payload_jwt": "x.y.z"}, page=page)
    assert response["statusCode"] == 401
    assert "This link is not valid" in response["body"]


def test_a_store_no_longer_connected_is_a_404_page() -> None:
    response = call("GET", "/bigcommerce/app/load", page=FakePage(StoreNotConnected("gone")))
    assert response["statusCode"] == 404
    assert "Install the app again" in response["body"]


def test_a_saved_form_shows_the_page_and_an_invalid_one_is_a_400() -> None:
    page = FakePage(view(notice="Saved."))
    response = call(
        "POST",
        "/bigcommerce/app/settings",
        body=b"form_token=t&stages=2h%2C1d&recovery_links=on",
        headers={"origin": "https://api.example.com", "sec-fetch-site": "same-origin"},
        page=page,
    )
    assert response["statusCode"] == 200 and "Saved." in response["body"]
    assert page.forms == [{"form_token": "t", "stages": "2h,1d", "recovery_links": "on"}]
    invalid = view(
        fields=(FieldView("stages", "Reminder stages", "", "text", "soon", error="not a duration"),)
    )
    response = call(
        "POST", "/bigcommerce/app/settings", body=b"form_token=t&stages=soon", page=FakePage(invalid)
    )
    assert response["statusCode"] == 400 and "not a duration" in response["body"]


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"sec-fetch-site": "cross-site", "origin": "https://api.example.com"},
        {"sec-fetch-site": "same-site"},
    ],
)
def test_a_form_posted_from_elsewhere_changes_nothing(headers: dict[str, str]) -> None:
    page = FakePage(view())
    response = call(
        "POST", "/bigcommerce/app/settings", body=b"form_token=t&stages=1h", headers=headers, page=page
    )
    assert response["statusCode"] == 403
    assert page.forms == []


@pytest.mark.parametrize(
    ("error", "status"), [(InvalidFormToken("form token expired"), 403), (NotAllowed("removed"), 403)]
)
def test_an_expired_or_foreign_form_changes_nothing(error: Exception, status: int) -> None:
    response = call("POST", "/bigcommerce/app/settings", body=b"form_token=t", page=FakePage(error))
    assert response["statusCode"] == status
    assert "Nothing was changed" in response["body"]


def test_our_own_form_under_no_referrer_posts_with_a_null_origin() -> None:
    # What Chromium sends for the page's form: the browser vouches for the site, not the origin.
    page = FakePage(view(notice="Saved."))
    headers = {"origin": "null", "sec-fetch-site": "same-origin"}
    assert call("POST", SETTINGS, body=b"form_token=t", headers=headers, page=page)["statusCode"] == 200
    assert (
        call("POST", SETTINGS, body=b"form_token=t", headers={"origin": "null"}, page=page)["statusCode"]
        == 200
    )


def test_oversized_forms_and_unknown_routes() -> None:
    big = call("POST", "/bigcommerce/app/settings", body=b"a=" + b"x" * 20_000)
    assert big["statusCode"] == 413
    assert call("GET", "/bigcommerce/app/settings")["statusCode"] == 404
    assert call("DELETE", "/bigcommerce/app/load")["statusCode"] == 404


def test_pages_may_be_framed_by_the_control_panel_only() -> None:
    response = call("GET", "/bigcommerce/app/load", page=FakePage(view()))
    headers = response["headers"]
    policy = dict(part.strip().split(" ", 1) for part in headers["content-security-policy"].split(";"))
    assert policy["frame-ancestors"] == "https://*.mybigcommerce.com"
    assert policy["default-src"] == "'none'" and policy["form-action"] == "'self'"
    assert "x-frame-options" not in {name.lower() for name in headers}
    assert headers["referrer-policy"] == "no-referrer"  # the URL carries the signed payload
    assert headers["cache-control"] == "no-store"


def test_the_page_shows_figures_hooks_and_settings_escaped() -> None:
    html = merchant_page(view(store_hash="<script>x</script>"))
    assert "<script>x" not in html and "&lt;script&gt;" in html
    assert "25%" in html and "USD 1,234.50" in html and "EUR 12.50" in html
    assert "1 of 2 active" in html and "store/cart/updated — missing" in html
    assert 'name=form_token value="sealed-token"' in html
    assert 'value="2h,1d"' in html and "checked" in html


def test_a_user_who_may_not_edit_sees_the_settings_read_only() -> None:
    html = merchant_page(view(editable=False))
    assert "<fieldset disabled>" in html and "form_token" not in html and "<form" not in html
