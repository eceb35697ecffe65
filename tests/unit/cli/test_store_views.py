"""`cartwatch stores show` tells a finished rotation from one whose hooks still lag behind."""

from __future__ import annotations

from cartwatch.domain.cart_webhooks import HOOK_SCOPES
from cartwatch.domain.stages import StageSchedule
from cartwatch.domain.store import TOKEN_HEADER, ApiCredentials, StoreRow, StoreSettings, WebhookAuth
from cartwatch_tools.cli.store_admin import StoreDetails
from cartwatch_tools.cli.store_views import details_lines

NOW = 1_800_000_000
OLD, NEW = "old-token-0123456789", "new-token-9876543210"


def details(auth: WebhookAuth, carried: list[str]) -> StoreDetails:
    hooks = [
        {"id": i, "scope": scope, "is_active": True, "headers": {TOKEN_HEADER: token}}
        for i, (scope, token) in enumerate(zip(HOOK_SCOPES, carried, strict=False), start=1)
    ]
    return StoreDetails(
        row=StoreRow(StoreSettings("abc123", StageSchedule.parse("1h")), {}, created_at=NOW, own_stages=True),
        auth=auth,
        credentials=ApiCredentials("access-token-abcdefgh"),
        destination="https://example.com/webhooks/bigcommerce/abc123",
        live_hooks=hooks,
    )


def test_hooks_still_sending_the_replaced_token_are_shown_as_accepted_during_the_grace() -> None:
    auth = WebhookAuth("secret", NEW, previous_token=OLD, previous_token_until=NOW + 600)
    carried = [NEW] * (len(HOOK_SCOPES) - 1) + [OLD]

    text = "\n".join(details_lines(details(auth, carried), now=NOW))

    assert "previous token     ****6789 accepted until 2027-01-15T08:10:00+00:00" in text
    assert text.count("active, token ok") == len(HOOK_SCOPES) - 1
    assert text.count("active, previous token, still accepted") == 1
    assert OLD not in text and NEW not in text


def test_after_the_grace_the_replaced_token_is_stale_and_no_longer_listed() -> None:
    auth = WebhookAuth("secret", NEW, previous_token=OLD, previous_token_until=NOW + 600)
    carried = [NEW] * (len(HOOK_SCOPES) - 1) + [OLD]

    text = "\n".join(details_lines(details(auth, carried), now=NOW + 600))

    assert "previous token" not in text
    assert text.count("active, token stale") == 1
