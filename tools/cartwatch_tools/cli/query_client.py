"""A small client of the query API that signs every request with AWS SigV4 (`execute-api`).

The same client talks to a deployed stack (the caller's AWS credentials, the stack's
``ApiUrl``) and to `cartwatch local` (the local credentials, the info file's ``api_url``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

SERVICE = "execute-api"
QueryValue = str | int | bool | Sequence[str] | Sequence[int] | None


@dataclass(frozen=True)
class ApiCredentials:
    access_key: str
    secret_key: str
    token: str | None = None

    def __repr__(self) -> str:
        return f"ApiCredentials(access_key={self.access_key[:4]}…, secret=<hidden>)"


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: Any  # decoded JSON, or None for an empty body

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def sign(
    method: str, url: str, credentials: ApiCredentials, region: str, body: bytes = b""
) -> dict[str, str]:
    """The headers (``Authorization``, ``X-Amz-Date``, …) that sign this request."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=method, url=url, data=body)
    signer_credentials = Credentials(credentials.access_key, credentials.secret_key, credentials.token)
    SigV4Auth(signer_credentials, SERVICE, region).add_auth(request)
    return dict(request.headers.items())


def query_string(params: Mapping[str, QueryValue]) -> str:
    """Repeated keys for lists, ``true``/``false`` for booleans, ``%20`` for spaces (SigV4)."""
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            pairs.append((name, "true" if value else "false"))
        elif isinstance(value, str | int):
            pairs.append((name, str(value)))
        else:
            pairs.extend((name, str(item)) for item in value)
    return urlencode(pairs, quote_via=quote)


class SigV4RequestAuth:
    """A ``requests`` auth hook: signs the request exactly as it is about to be sent."""

    def __init__(self, credentials: ApiCredentials, region: str) -> None:
        self._credentials = credentials
        self._region = region

    def __call__(self, request: Any) -> Any:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        request.headers.update(sign(request.method, request.url, self._credentials, self._region, body))
        return request


class QueryApiClient:
    def __init__(
        self, base_url: str, credentials: ApiCredentials, region: str, *, timeout: float = 30
    ) -> None:
        import requests

        self._base = base_url.rstrip("/")
        self.auth = SigV4RequestAuth(credentials, region)
        self._timeout = timeout
        self._http = requests.Session()

    def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, QueryValue] | None = None,
        *,
        signed: bool = True,
        json_body: Any = None,
    ) -> ApiResponse:
        query = query_string(params or {})
        url = f"{self._base}{path}" + (f"?{query}" if query else "")
        data = None if json_body is None else json.dumps(json_body).encode()
        headers = {} if data is None else {"content-type": "application/json"}
        response = self._http.request(
            method,
            url,
            data=data,
            headers=headers,
            auth=self.auth if signed else None,
            timeout=self._timeout,
        )
        try:
            body = json.loads(response.content) if response.content else None
        except ValueError:
            body = response.text
        return ApiResponse(response.status_code, body)

    def list_carts(self, store_hash: str, **params: QueryValue) -> ApiResponse:
        return self.request("GET", f"/v1/stores/{store_hash}/carts", params)

    def cart(self, store_hash: str, cart_id: str) -> ApiResponse:
        return self.request("GET", f"/v1/stores/{store_hash}/carts/{quote(cart_id, safe='')}")

    def suppress(self, store_hash: str, cart_id: str) -> ApiResponse:
        return self.request("POST", f"/v1/stores/{store_hash}/carts/{quote(cart_id, safe='')}/suppress")

    def erase(self, store_hash: str, cart_id: str) -> ApiResponse:
        return self.request("DELETE", f"/v1/stores/{store_hash}/carts/{quote(cart_id, safe='')}")

    def erase_shopper(self, store_hash: str, email: str) -> ApiResponse:
        return self.request("POST", f"/v1/stores/{store_hash}/shoppers/erase", json_body={"email": email})

    def stats(self, store_hash: str, **params: QueryValue) -> ApiResponse:
        return self.request("GET", f"/v1/stores/{store_hash}/stats", params)
