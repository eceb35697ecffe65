"""A token rotation never fails a delivery: the replaced token has a grace period, and a
receiver whose cached secrets are stale re-reads them once before answering 401."""

from __future__ import annotations

import json

import pytest
from tests.support import cart_webhook, signed_headers

from cartwatch.domain.store import WebhookAuth
from cartwatch.service.intake import Delivery, Rejection, accept_delivery
from cartwatch.service.verification import Unauthenticated, verify_delivery

NOW = 1_800_000_000
BODY = json.dumps(cart_webhook("abc123", "store/cart/created", "cart-1", NOW)).encode()
ROTATED = WebhookAuth(
    client_secret="secret",
    token="new-token",
    previous_token="old-token",
    previous_token_until=NOW + 900,
)


def token(value: str) -> dict[str, str]:
    return {"x-cartwatch-token": value}


def test_the_current_token_is_accepted() -> None:
    assert verify_delivery(ROTATED, BODY, token("new-token"), NOW) == "token"


def test_the_replaced_token_is_accepted_until_its_grace_period_ends() -> None:
    assert verify_delivery(ROTATED, BODY, token("old-token"), NOW + 899) == "previous token"
    with pytest.raises(Unauthenticated):
        verify_delivery(ROTATED, BODY, token("old-token"), NOW + 900)


@pytest.mark.parametrize("presented", ["", "other", "old-token-and-more"])
def test_any_other_token_is_refused(presented: str) -> None:
    with pytest.raises(Unauthenticated):
        verify_delivery(ROTATED, BODY, token(presented), NOW)


def test_a_store_that_requires_signatures_accepts_no_token_at_all() -> None:
    strict = WebhookAuth(
        client_secret="secret",
        token="new-token",
        require_signature=True,
        previous_token="old-token",
        previous_token_until=NOW + 900,
    )
    for presented in ("new-token", "old-token"):
        with pytest.raises(Unauthenticated, match="requires a Standard Webhooks signature"):
            verify_delivery(strict, BODY, token(presented), NOW)


class Intake:
    """accept_delivery with a cache that still holds the secrets from before a change."""

    def __init__(self, cached: WebhookAuth, fresh: WebhookAuth | None) -> None:
        self.cached, self.fresh = cached, fresh
        self.refreshes: list[str] = []
        self.queue: list[str] = []

    def refresh(self, store_hash: str) -> WebhookAuth | None:
        self.refreshes.append(store_hash)
        return self.fresh

    def deliver(self, headers: dict[str, str]) -> str:
        accepted = accept_delivery(
            Delivery("abc123", BODY, headers),
            lookup_auth=lambda _: self.cached,
            refresh_auth=self.refresh,
            enqueue=self.queue.append,
            clock=lambda: NOW,
        )
        return accepted.authenticated_by


def test_a_new_token_is_accepted_by_a_receiver_that_cached_the_old_one() -> None:
    intake = Intake(cached=WebhookAuth(client_secret="secret", token="old-token"), fresh=ROTATED)

    assert intake.deliver(token("new-token")) == "token"
    assert intake.refreshes == ["abc123"]
    assert len(intake.queue) == 1


def test_a_new_client_secret_is_accepted_by_a_receiver_that_cached_the_old_one() -> None:
    intake = Intake(
        cached=WebhookAuth(client_secret="old-secret", token="t"),
        fresh=WebhookAuth(client_secret="new-secret", token="t"),
    )

    assert intake.deliver(signed_headers("new-secret", BODY)) == "signature"
    assert len(intake.queue) == 1


def test_deliveries_that_verify_against_the_cache_never_refresh() -> None:
    intake = Intake(cached=ROTATED, fresh=ROTATED)

    intake.deliver(token("new-token"))
    intake.deliver(token("old-token"))

    assert intake.refreshes == []
    assert len(intake.queue) == 2


@pytest.mark.parametrize("fresh", [ROTATED, None], ids=["secrets unchanged", "store gone"])
def test_bad_credentials_stay_unauthorized_after_the_refresh(fresh: WebhookAuth | None) -> None:
    intake = Intake(cached=ROTATED, fresh=fresh)

    with pytest.raises(Rejection) as rejected:
        intake.deliver(token("guess"))

    assert rejected.value.status == 401
    assert intake.refreshes == ["abc123"]
    assert intake.queue == []
