"""Plain-text views of stores and their hooks.  Secrets appear only masked."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime

from cartwatch.domain.store import StoreConnection, StoreRow, StoreSettings, StoreStatus
from cartwatch.service.store_hooks import HookOutcome, HookReport, StoreHealth, hook_token
from cartwatch_tools.cli.secret_input import mask
from cartwatch_tools.cli.store_admin import StoreDetails


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    return [
        "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=False)).rstrip()
        for row in (header, *rows)
    ]


def stages_text(row: StoreRow) -> str:
    return str(row.settings.stages) if row.own_stages else "default"


def channel_stages_text(settings: StoreSettings) -> str:
    """``2:30m,6h 3:15m``, or ``-``: every channel follows the store's stages."""
    return " ".join(str(schedule) for schedule in settings.channel_stages) or "-"


_CONNECTIONS = {StoreConnection.APP: "BigCommerce app", StoreConnection.API_ACCOUNT: "API account"}


def status_text(row: StoreRow) -> str:
    if row.settings.status is StoreStatus.UNINSTALLED:
        return "uninstalled (data being purged)" if row.purging else "uninstalled (data purged)"
    return row.settings.status.value


def store_table(rows: Sequence[StoreRow]) -> list[str]:
    if not rows:
        return ["no stores yet: add one with `cartwatch stores add`"]
    return table(
        ("STORE", "STAGES", "CHANNEL STAGES", "STATUS", "HOOKS"),
        [
            (
                r.settings.store_hash,
                stages_text(r),
                channel_stages_text(r.settings),
                r.settings.status.value,
                f"{len(r.hook_ids)}/{len(r.settings.hook_scopes)}",
            )
            for r in sorted(rows, key=lambda r: r.settings.store_hash)
        ],
    )


def hook_lines(report: HookReport) -> list[str]:
    rows = [
        (
            r.scope,
            str(r.hook_id) if r.hook_id is not None else "-",
            f"{r.outcome}: {r.reason}" if r.reason else str(r.outcome),
        )
        for r in report.results
    ]
    return [*table(("SCOPE", "HOOK", "STATE"), rows), hook_summary(report)]


def hook_summary(report: HookReport) -> str:
    parts = [f"{report.count(o)} {o}" for o in HookOutcome if report.count(o)]
    if report.duplicates_deleted:
        parts.append(f"{report.duplicates_deleted} duplicate(s) deleted")
    return f"{len(report.results)} hooks: {', '.join(parts)}"


def health_lines(health: StoreHealth) -> list[str]:
    lines = hook_lines(health.hooks)
    if health.blocked is None:
        lines.append("blocked domains: unknown (GET /v3/hooks/admin failed)")
    elif not health.blocked:
        lines.append("blocked domains: none")
    else:
        lines += [f"blocked domain: {b.destination} for {b.seconds_left}s more" for b in health.blocked]
    scopes = ", ".join(f"{name} {access}" for name, access in health.scopes.items())
    lines.append(f"API scopes: {scopes or 'not checked'}")
    return lines


def details_lines(details: StoreDetails, now: float | None = None) -> list[str]:
    settings = details.row.settings
    auth = details.auth
    now = time.time() if now is None else now
    replaced = auth.replaced_token_at(now) if auth else None
    previous = replaced[0] if replaced else None
    created = datetime.fromtimestamp(details.row.created_at, UTC).isoformat(timespec="seconds")
    grace = (
        [("previous token", f"{mask(replaced[0])} accepted until {_utc(replaced[1])}")] if replaced else []
    )
    lines = table(
        ("store", settings.store_hash),
        [
            ("status", status_text(details.row)),
            (
                "connected by",
                "BigCommerce app" if settings.connection is StoreConnection.APP else "API account",
            ),
            ("stages", stages_text(details.row)),
            *(
                (f"channel {schedule.channel_id} stages", str(schedule.stages))
                for schedule in settings.channel_stages
            ),
            ("require signature", _yes_no(settings.require_signature)),
            ("recovery links", _yes_no(settings.recovery_links)),
            ("eligibility", settings.eligibility.describe()),
            ("reminders", settings.reminders.value),
            ("list active carts", _yes_no(settings.list_active)),
            ("added", created),
            ("webhook url", details.destination),
            ("access token", mask(details.credentials.access_token if details.credentials else None)),
            ("client secret", mask(auth.client_secret if auth else None)),
            ("webhook token", mask(auth.token if auth else None)),
            *grace,
        ],
    )
    if settings.status is StoreStatus.UNINSTALLED:
        return [*lines, "hooks: none (BigCommerce deletes an app's hooks when it is uninstalled)"]
    if details.live_hooks is None:
        return [*lines, f"hooks: not listed ({details.hooks_error})"]
    by_scope = {h.get("scope"): h for h in details.live_hooks}
    token = auth.token if auth else None
    rows = []
    for scope in settings.hook_scopes:
        hook = by_scope.get(scope)
        if hook is None:
            rows.append((scope, "-", "missing"))
            continue
        state = "active" if hook.get("is_active") else "inactive"
        # Compared, never shown: whether the hook carries the token the receiver expects.
        carried = hook_token(hook)
        if token is not None and carried == token:
            verdict = "token ok"
        elif previous is not None and carried == previous:
            verdict = "previous token, still accepted"
        else:
            verdict = "token stale"
        rows.append((scope, str(hook.get("id")), f"{state}, {verdict}"))
    return [*lines, "", *table(("SCOPE", "HOOK", "STATE"), rows)]


def _utc(epoch_seconds: int) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat(timespec="seconds")


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"
