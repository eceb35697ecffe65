"""AWS Signature Version 4 checks for `cartwatch local`'s query API routes.

In AWS, API Gateway's IAM authorization verifies the signature (and the caller's policy)
before the query function runs.  Locally the gateway does the signature part: it rebuilds
the request from exactly the headers the client signed, recomputes the signature with
botocore's own signer under the local credentials, and compares in constant time.  There
are no IAM policies locally: a request signed with the local credentials may call every
route.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
_TIMESTAMP = "%Y%m%dT%H%M%SZ"
SERVICE = "execute-api"
# API Gateway refuses a signature more than five minutes away from its own clock.
MAX_SKEW_SECONDS = 300


class SignatureRejected(PermissionError):
    """The request is unsigned, or its signature does not verify (API Gateway answers 403)."""


@dataclass(frozen=True)
class SignedRequest:
    method: str
    url: str  # as the client addressed it: http://host:port/path?query
    headers: Mapping[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True)
class Caller:
    access_key: str
    user_arn: str


class SigV4Verifier:
    def __init__(
        self,
        access_key: str,
        secret_key: str,
        region: str,
        *,
        account_id: str = "000000000000",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._access_key = access_key
        self._secret_key = secret_key
        self._region = region
        self._account_id = account_id
        self._clock = clock

    def verify(self, request: SignedRequest) -> Caller:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        match = _AUTHORIZATION.match(request.headers.get("authorization", "").strip())
        if match is None:
            raise SignatureRejected("missing or malformed SigV4 Authorization header")
        access_key, _, scope = match.group("credential").partition("/")
        date, region, service, terminator = [*scope.split("/"), "", "", "", ""][:4]
        if not hmac.compare_digest(access_key, self._access_key):
            raise SignatureRejected("unknown access key")
        if (region, service, terminator) != (self._region, SERVICE, "aws4_request"):
            raise SignatureRejected(f"credential scope must be <date>/{self._region}/{SERVICE}/aws4_request")
        timestamp = request.headers.get("x-amz-date", "")
        self._check_time(timestamp, date)
        signed_names = match.group("signed").split(";")
        if "host" not in signed_names or any(name not in request.headers for name in signed_names):
            raise SignatureRejected("SignedHeaders must include host and name only headers that were sent")
        declared = request.headers.get("x-amz-content-sha256")
        if declared is not None and declared != hashlib.sha256(request.body).hexdigest():
            raise SignatureRejected("x-amz-content-sha256 does not match the body")
        rebuilt = AWSRequest(
            method=request.method,
            url=request.url,
            data=request.body,
            headers={name: request.headers[name] for name in signed_names},
        )
        rebuilt.context["timestamp"] = timestamp
        signer = SigV4Auth(Credentials(self._access_key, self._secret_key), SERVICE, self._region)
        canonical = signer.canonical_request(rebuilt)
        expected = signer.signature(signer.string_to_sign(rebuilt, canonical), rebuilt)
        if not hmac.compare_digest(expected, match.group("signature")):
            raise SignatureRejected("signature does not match")
        return Caller(access_key, f"arn:aws:iam::{self._account_id}:user/cartwatch-local")

    def _check_time(self, timestamp: str, scope_date: str) -> None:
        try:
            signed_at = datetime.strptime(timestamp, _TIMESTAMP).replace(tzinfo=UTC).timestamp()
        except ValueError:
            raise SignatureRejected("missing or malformed X-Amz-Date") from None
        if timestamp[:8] != scope_date:
            raise SignatureRejected("credential scope date does not match X-Amz-Date")
        if abs(self._clock() - signed_at) > MAX_SKEW_SECONDS:
            raise SignatureRejected("signature expired (or signed in the future)")
