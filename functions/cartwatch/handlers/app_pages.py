"""The app's HTML: the merchant page, the install result and the error pages.

Server-rendered with the standard library — every value goes through ``html.escape`` — and
one small stylesheet inlined, so a page is one response with nothing else to fetch.  The
headers let BigCommerce's control panel frame the page and nobody else
(``Content-Security-Policy: frame-ancestors``; never ``X-Frame-Options: DENY``, which would
stop the control panel too), allow only that stylesheet (by its hash) and forms posting back
here, keep the URL — it carries the ``signed_payload_jwt`` — out of any ``Referer``, and
forbid caching.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from decimal import Decimal
from html import escape
from typing import Any

from cartwatch.resources import APP_ROUTES
from cartwatch.service.merchant_page import FieldView, Figures, HookHealth, PageView

SETTINGS_PATH = APP_ROUTES["settings"][1]

_CSS = """
:root{--ink:#1f2937;--muted:#6b7280;--line:#e5e7eb;--accent:#3c64f4;--good:#047857;--bad:#b91c1c;
--paper:#fff;--wash:#f9fafb}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);
background:var(--wash)}
main{max-width:880px;margin:0 auto;padding:24px}
header{display:flex;align-items:baseline;gap:12px;margin-bottom:20px}
h1{font-size:22px;margin:0}h2{font-size:16px;margin:0 0 12px}
.store{color:var(--muted)}
.badge{margin-left:auto;padding:2px 10px;border-radius:999px;font-size:13px;font-weight:600}
.ok{background:#d1fae5;color:var(--good)}.warn{background:#fee2e2;color:var(--bad)}
section{background:var(--paper);border:1px solid var(--line);border-radius:8px;padding:18px 20px;
margin-bottom:16px}
.figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px}
.figure{border:1px solid var(--line);border-radius:6px;padding:12px}
.figure .value{font-size:22px;font-weight:650;white-space:nowrap}
.figure .value.long{font-size:17px;line-height:1.9}.figure .label{color:var(--muted);font-size:13px}
ul.hooks{list-style:none;margin:8px 0 0;padding:0;columns:2;font-size:13px}
ul.hooks li{padding:2px 0}.state-missing,.state-inactive{color:var(--bad)}
label{display:block;font-weight:600;margin-top:12px}
.hint{color:var(--muted);font-size:13px;margin:2px 0 6px}
input[type=text]{width:100%;max-width:360px;padding:7px 9px;border:1px solid #cbd5e1;border-radius:6px;
font:inherit}
.check{display:flex;gap:8px;align-items:center;font-weight:600;margin-top:12px}
.error{color:var(--bad);font-size:13px}
button{margin-top:16px;background:var(--accent);color:#fff;border:0;border-radius:6px;
padding:8px 18px;font:inherit;font-weight:600;cursor:pointer}
.notice{background:#d1fae5;color:var(--good);border-radius:6px;padding:8px 12px;margin-bottom:16px}
.muted{color:var(--muted)}
""".strip()

_STYLE_HASH = base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()

Response = dict[str, Any]
_NONE = "&ndash;"  # a figure with nothing to show


def page_headers(frame_ancestors: Sequence[str]) -> dict[str, str]:
    ancestors = " ".join(frame_ancestors) or "'none'"
    policy = "; ".join(
        (
            "default-src 'none'",
            f"style-src 'sha256-{_STYLE_HASH}'",
            "form-action 'self'",
            "base-uri 'none'",
            f"frame-ancestors {ancestors}",
        )
    )
    return {
        "content-type": "text/html; charset=utf-8",
        "content-security-policy": policy,
        "cache-control": "no-store",
        "referrer-policy": "no-referrer",
        "x-content-type-options": "nosniff",
        "strict-transport-security": "max-age=31536000",
    }


def html_response(status: int, body: str, frame_ancestors: Sequence[str]) -> Response:
    return {"statusCode": status, "headers": page_headers(frame_ancestors), "body": body}


def _document(title: str, content: str) -> str:
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>"
        f"<body><main>{content}</main></body></html>\n"
    )


def message_page(title: str, text: str, *, hint: str = "", good: bool = False) -> str:
    badge = '<span class="badge ok">Connected</span>' if good else ""
    hint_html = f'<p class="muted">{escape(hint)}</p>' if hint else ""
    return _document(
        title,
        f"<header><h1>cartwatch</h1>{badge}</header>"
        f"<section><h2>{escape(title)}</h2><p>{escape(text)}</p>{hint_html}</section>",
    )


def merchant_page(view: PageView) -> str:
    notice = f'<p class="notice" role="status">{escape(view.notice)}</p>' if view.notice else ""
    content = (
        f"<header><h1>cartwatch</h1><span class=store>store {escape(view.store_hash)}</span>"
        f"{_status_badge(view.hooks)}</header>{notice}"
        f"{_figures(view.figures)}{_hooks(view.hooks)}{_settings(view)}"
    )
    return _document("cartwatch", content)


def _status_badge(hooks: HookHealth) -> str:
    if hooks.healthy:
        return '<span class="badge ok" id=status>Connected</span>'
    return '<span class="badge warn" id=status>Connected, webhooks need attention</span>'


def _figures(figures: Figures) -> str:
    rate = _NONE if figures.recovery_rate is None else f"{figures.recovery_rate:.0%}"
    revenue = (
        "<br>".join(f"{escape(currency)} {_money(amount)}" for currency, amount in figures.recovered_revenue)
        or _NONE
    )
    cards = (
        ("abandoned", "Carts abandoned", str(figures.abandoned)),
        ("recovered", "Carts recovered", str(figures.recovered)),
        ("rate", "Recovery rate", rate),
        ("revenue", "Recovered revenue", revenue),
    )
    cells = "".join(
        f'<div class=figure id="figure-{name}"><div class="value{" long" if len(value) > 10 else ""}">'
        f"{value}</div><div class=label>{escape(label)}</div></div>"
        for name, label, value in cards
    )
    return f"<section><h2>Last {figures.days} days</h2><div class=figures>{cells}</div></section>"


def _money(amount: Decimal) -> str:
    return escape(f"{amount:,.2f}")


def _hooks(hooks: HookHealth) -> str:
    if hooks.hooks is None:
        return f"<section><h2>Webhooks</h2><p class=error>Not checked: {escape(hooks.problem)}</p></section>"
    active = sum(1 for h in hooks.hooks if h.state == "active")
    items = "".join(
        f'<li class="state-{escape(h.state)}">{escape(h.scope)} — {escape(h.state)}</li>' for h in hooks.hooks
    )
    return (
        f"<section><h2>Webhooks</h2><p id=hooks-summary>{active} of {len(hooks.hooks)} active</p>"
        f"<ul class=hooks>{items}</ul></section>"
    )


def _settings(view: PageView) -> str:
    fields = "".join(_field(field, view) for field in view.fields)
    if not view.editable:
        return (
            f"<section><h2>Settings</h2><fieldset disabled>{fields}</fieldset>"
            "<p class=muted>Only the store owner or the user who installed cartwatch can change these."
            "</p></section>"
        )
    return (
        f'<section><h2>Settings</h2><form method=post action="{SETTINGS_PATH}">'
        f'<input type=hidden name=form_token value="{escape(view.form_token)}">{fields}'
        "<button type=submit>Save settings</button></form>"
        '<p class="muted">Changes apply to new reminders within five minutes.</p></section>'
    )


def _field(field: FieldView, view: PageView) -> str:
    error = (
        f'<div class=error id="error-{escape(field.name)}">{escape(field.error)}</div>' if field.error else ""
    )
    name = escape(field.name)
    if field.kind == "checkbox":
        checked = " checked" if field.value is True else ""
        return (
            f'<label class=check><input type=checkbox name="{name}" id="{name}"{checked}>'
            f"{escape(field.label)}</label><p class=hint>{escape(field.hint)}</p>{error}"
        )
    placeholder = f"default: {view.default_stages}" if field.name == "stages" else ""
    return (
        f'<label for="{name}">{escape(field.label)}</label><p class=hint>{escape(field.hint)}</p>'
        f'<input type=text name="{name}" id="{name}" value="{escape(str(field.value))}" '
        f'placeholder="{escape(placeholder)}" maxlength=200>{error}'
    )
