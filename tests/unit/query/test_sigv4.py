"""`cartwatch local`'s SigV4 check: botocore signs, the verifier recomputes and compares."""

from __future__ import annotations

import pytest

from cartwatch_tools.cli.query_client import ApiCredentials, sign
from cartwatch_tools.local.sigv4 import SignatureRejected, SignedRequest, SigV4Verifier

KEY, SECRET, REGION = "cartwatch-local", "cartwatch-local-secret", "us-east-1"
URL = "http://127.0.0.1:8787/v1/stores/abc123/carts?limit=5&status=abandoned"


def signed(
    method: str = "GET", url: str = URL, body: bytes = b"", credentials: ApiCredentials | None = None
) -> dict[str, str]:
    headers = sign(method, url, credentials or ApiCredentials(KEY, SECRET), REGION, body)
    return {k.lower(): v for k, v in headers.items()} | {"host": "127.0.0.1:8787"}


def verifier(clock: float | None = None) -> SigV4Verifier:
    if clock is None:
        return SigV4Verifier(KEY, SECRET, REGION)
    return SigV4Verifier(KEY, SECRET, REGION, clock=lambda: clock)


def test_a_request_signed_with_the_local_credentials_verifies() -> None:
    caller = verifier().verify(SignedRequest("GET", URL, signed(), b""))
    assert caller.access_key == KEY and caller.user_arn.endswith(":user/cartwatch-local")
    body = b'{"x": 1}'
    verifier().verify(SignedRequest("POST", URL, signed("POST", body=body), body))


@pytest.mark.parametrize(
    ("method", "url", "headers", "body"),
    [
        ("GET", URL, {"host": "127.0.0.1:8787"}, b""),  # unsigned
        ("DELETE", URL, None, b""),  # another method
        ("GET", URL.replace("limit=5", "limit=6"), None, b""),  # another query
        ("GET", URL.replace("abc123", "abc124"), None, b""),  # another path
        ("GET", URL, None, b"smuggled"),  # another body
    ],
)
def test_a_signature_over_anything_else_is_rejected(method, url, headers, body) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SignatureRejected):
        verifier().verify(SignedRequest(method, url, headers or signed(), body))


def test_a_wrong_secret_an_unknown_key_or_another_region_is_rejected() -> None:
    for credentials in (ApiCredentials(KEY, "wrong"), ApiCredentials("AKIAOTHER", SECRET)):
        with pytest.raises(SignatureRejected):
            verifier().verify(SignedRequest("GET", URL, signed(credentials=credentials), b""))
    other_region = {
        k.lower(): v for k, v in sign("GET", URL, ApiCredentials(KEY, SECRET), "eu-west-1").items()
    }
    with pytest.raises(SignatureRejected, match="scope"):
        verifier().verify(SignedRequest("GET", URL, other_region | {"host": "127.0.0.1:8787"}, b""))


def test_an_old_signature_is_rejected() -> None:
    headers = signed()
    with pytest.raises(SignatureRejected, match="expired"):
        verifier(clock=10**10).verify(SignedRequest("GET", URL, headers, b""))


def test_a_header_dropped_after_signing_is_rejected() -> None:
    headers = signed()
    del headers["x-amz-date"]
    with pytest.raises(SignatureRejected):
        verifier().verify(SignedRequest("GET", URL, headers, b""))
