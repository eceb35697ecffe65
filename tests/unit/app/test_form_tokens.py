"""Form tokens: only our own pages can save, for their own store and user, for an hour."""

from __future__ import annotations

import pytest

from cartwatch.service.form_tokens import FORM_TOKEN_SECONDS, FormTokens, InvalidFormToken, form_token_key

KEY = form_token_key("app-client-secret-0123456789abcdef0123")


def tokens(now: float = 1_000.0, key: bytes = KEY) -> FormTokens:
    return FormTokens(lambda: key, clock=lambda: now)


def test_a_token_names_its_store_and_user_until_it_expires() -> None:
    token = tokens().issue("s1", 501)
    session = tokens(now=1_000 + FORM_TOKEN_SECONDS - 1).read(token)
    assert (session.store_hash, session.user_id) == ("s1", 501)
    with pytest.raises(InvalidFormToken, match="expired"):
        tokens(now=1_000 + FORM_TOKEN_SECONDS).read(token)


def test_every_page_gets_its_own_token() -> None:
    assert tokens().issue("s1", 501) != tokens().issue("s1", 501)


@pytest.mark.parametrize("mangle", [lambda t: t[:-2] + "AA", lambda t: "x" + t, lambda t: t.replace(".", "")])
def test_an_altered_token_is_refused(mangle: object) -> None:
    token = tokens().issue("s1", 501)
    with pytest.raises(InvalidFormToken):
        tokens().read(mangle(token))  # type: ignore[operator]


def test_a_token_from_another_app_secret_is_refused() -> None:
    other = tokens(key=form_token_key("another-secret-0123456789abcdef0123")).issue("s1", 501)
    with pytest.raises(InvalidFormToken, match="not issued by this app"):
        tokens().read(other)


@pytest.mark.parametrize("token", [None, "", "a" * 2000])
def test_no_token_is_refused(token: str | None) -> None:
    with pytest.raises(InvalidFormToken):
        tokens().read(token)


def test_the_form_key_is_not_the_client_secret() -> None:
    # A form token must never help forge a signed payload (signed with the secret itself).
    assert KEY != b"app-client-secret-0123456789abcdef0123"
    assert len(KEY) == 32
