"""BigCommerce over HTTP: one polite request at a time, and its typed failures.

The store's API quota (150 requests per 30 s on Standard plans) is shared with every other
app installed on it, so every request goes through :class:`PoliteTransport`:

* every request carries a timeout;
* when an answer says ``X-Rate-Limit-Requests-Left: 0`` it waits for the window to reset
  *before* its next request instead of spending a 429 to learn the same thing;
* a 429 waits ``X-Rate-Limit-Time-Reset-Ms`` (or ``X-Retry-After`` seconds), then retries;
* 5xx answers and network failures are retried with full-jitter exponential backoff —
  for requests that create something (POST) only where BigCommerce cannot have acted;
* the time one call may spend waiting is bounded (``max_wait_seconds``): a Lambda would
  rather give the cart back to its queue than sleep through its own timeout.

Failures are typed (:class:`BigCommerceUnauthorized`, :class:`BigCommerceRejected`,
:class:`BigCommerceUnavailable`).  The access token is sent as a header and appears in no
log line, repr or exception message; query strings (which may hold a shopper's email) are
kept out of messages too.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import certifi
import urllib3
from urllib3.exceptions import ConnectTimeoutError, HTTPError

_log = logging.getLogger("cartwatch.adapters.bigcommerce")

Response = urllib3.BaseHTTPResponse

_BACKOFF_BASE_SECONDS = 0.5
_BACKOFF_CAP_SECONDS = 8.0
# Methods BigCommerce treats as idempotent: repeating one after an unclear failure is safe.
_IDEMPOTENT = frozenset({"GET", "PUT", "DELETE"})


class BigCommerceError(Exception):
    """A BigCommerce call failed."""

    def __init__(self, message: str, *, status: int | None = None, title: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.title = title


class BigCommerceUnauthorized(BigCommerceError):
    """401/403: the token is wrong, revoked, or lacks the scope for this call."""


class BigCommerceRejected(BigCommerceError):
    """Another 4xx: BigCommerce understood the request and refused it (``title`` says why)."""


class BigCommerceUnavailable(BigCommerceError):
    """BigCommerce could not be reached or kept failing; ``retry_after`` hints when to retry."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


def connection_pool(connections: int = 1) -> urllib3.PoolManager:
    """Connections to BigCommerce, kept alive and reused; ``connections`` per host at once.

    Certificates are always verified, against certifi's roots (what requests and botocore
    trust) so the answer does not depend on where OpenSSL looks on a machine.
    """
    return urllib3.PoolManager(ca_certs=certifi.where(), maxsize=connections)


class PoliteTransport:
    """Requests to one store's API base, paced by its quota; ``calls`` counts what was sent."""

    def __init__(
        self,
        base_url: str,
        access_token: str,
        *,
        pool: urllib3.PoolManager | None,
        timeout: tuple[float, float],
        max_attempts: int,
        sleep: Callable[[float], None],
        max_wait_seconds: float,
        rng: random.Random | None,
        clock: Callable[[], float],
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._base = base_url
        self._token = _Secret(access_token)
        self._pool = pool if pool is not None else connection_pool()
        self._timeout = urllib3.Timeout(connect=timeout[0], read=timeout[1])
        self._max_attempts = max_attempts
        self._sleep = sleep
        self._max_wait = max_wait_seconds
        # Jitter only spreads retries apart; it needs no cryptographic randomness.
        self._rng = rng if rng is not None else random.Random()  # noqa: S311
        self._clock = clock
        self._quota_resets_at: float | None = None
        self.calls = 0

    def call(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        body: Mapping[str, Any] | None = None,
        missing_is_none: bool = False,
    ) -> Any:
        """Send one logical request, retrying as the module docstring describes.

        Returns the decoded JSON (None for an empty body, or for a 404 when
        ``missing_is_none``).
        """
        url = self._base + path
        if params:
            # Keep ``:`` and ``,`` literal: BigCommerce documents filters as ``id:in=4,5,6``.
            url += "?" + urlencode(params, safe=":,")
        headers = {
            "X-Auth-Token": self._token.get_secret_value(),
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            waited += self._wait_for_quota(method, path, waited)
            self.calls += 1
            try:
                response = self._pool.request(
                    method,
                    url,
                    headers=headers,
                    json=body,
                    timeout=self._timeout,
                    retries=False,  # retries are ours: they honour the quota and the bound
                    redirect=False,
                )
            except HTTPError as error:
                # A connection that was never made (refused, unresolvable, connect timeout —
                # urllib3 files them all under ConnectTimeoutError) never reached BigCommerce,
                # so even a POST may be repeated; a failure after sending only when idempotent.
                retryable = isinstance(error, ConnectTimeoutError) or method in _IDEMPOTENT
                if not retryable or attempt >= self._max_attempts:
                    # The exception text would repeat the URL with its query; say only what failed.
                    raise BigCommerceUnavailable(
                        f"{method} {path}: BigCommerce unreachable after {attempt} attempt(s) "
                        f"({type(error).__name__})"
                    ) from None
                waited += self._backoff(method, path, attempt, waited, type(error).__name__)
                continue
            self._note_quota(response)
            status = response.status
            if status == 429:
                if attempt >= self._max_attempts:
                    raise BigCommerceUnavailable(
                        f"{method} {path}: still rate limited after {attempt} attempts",
                        status=429,
                        retry_after=_reset_seconds(response),
                    )
                reset = _reset_seconds(response)
                if reset is None:
                    # A 429 without rate-limit headers is platform overload, not our quota.
                    waited += self._backoff(method, path, attempt, waited, "429")
                else:
                    waited += self._wait(reset, method, path, waited, "rate limited (429)", status=429)
                    self._quota_resets_at = None
                continue
            if status >= 500:
                if method not in _IDEMPOTENT and status != 503:
                    # A POST that failed with 500/502/504 may have been applied: not repeated.
                    raise BigCommerceUnavailable(
                        f"{method} {path}: BigCommerce answered {status}", status=status
                    )
                if attempt >= self._max_attempts:
                    raise BigCommerceUnavailable(
                        f"{method} {path}: BigCommerce answered {status} {attempt} times", status=status
                    )
                waited += self._backoff(method, path, attempt, waited, str(status))
                continue
            return self._decode(method, path, response, missing_is_none)

    def _decode(self, method: str, path: str, response: Response, missing_is_none: bool) -> Any:
        status = response.status
        if status == 404 and missing_is_none:
            return None
        if status in (401, 403):
            title = _error_title(response)
            raise BigCommerceUnauthorized(
                f"{method} {path}: BigCommerce refused the credentials ({status}: {title})",
                status=status,
                title=title,
            )
        if 300 <= status < 500:
            title = _error_title(response)
            raise BigCommerceRejected(f"{method} {path}: {status} {title}", status=status, title=title)
        if status == 204 or not response.data:
            return None
        try:
            return response.json()
        except ValueError:
            raise BigCommerceError(f"{method} {path}: the answer is not JSON", status=status) from None

    def _note_quota(self, response: Response) -> None:
        left = _number(response.headers.get("X-Rate-Limit-Requests-Left"))
        reset_ms = _number(response.headers.get("X-Rate-Limit-Time-Reset-Ms"))
        if left is not None and left <= 0 and reset_ms is not None:
            self._quota_resets_at = self._clock() + reset_ms / 1000
        elif left is not None and left > 0:
            self._quota_resets_at = None

    def _wait_for_quota(self, method: str, path: str, waited: float) -> float:
        """Proactive pacing: the last answer said the quota is spent, so wait for its reset."""
        if self._quota_resets_at is None:
            return 0.0
        remaining = self._quota_resets_at - self._clock()
        # Raises (and keeps the pause for the next call) when the wait would break the bound.
        slept = self._wait(remaining, method, path, waited, "quota spent") if remaining > 0 else 0.0
        self._quota_resets_at = None
        return slept

    def _wait(
        self, seconds: float, method: str, path: str, waited: float, why: str, status: int | None = None
    ) -> float:
        if waited + seconds > self._max_wait:
            raise BigCommerceUnavailable(
                f"{method} {path}: {why}; waiting {seconds:.1f}s more would exceed {self._max_wait:.0f}s",
                status=status,
                retry_after=seconds,
            )
        _log.warning("BigCommerce %s %s: %s, waiting %.2fs", method, path, why, seconds)
        self._sleep(seconds)
        return seconds

    def _backoff(self, method: str, path: str, attempt: int, waited: float, why: str) -> float:
        ceiling = min(_BACKOFF_CAP_SECONDS, _BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
        seconds = min(self._rng.uniform(0, ceiling), max(self._max_wait - waited, 0.0))
        _log.warning("BigCommerce %s %s: %s, retry %d in %.2fs", method, path, why, attempt, seconds)
        self._sleep(seconds)
        return seconds


def _reset_seconds(response: Response) -> float | None:
    reset_ms = _number(response.headers.get("X-Rate-Limit-Time-Reset-Ms"))
    if reset_ms is not None:
        return max(reset_ms, 0.0) / 1000
    retry_after = _number(response.headers.get("X-Retry-After"))
    return max(retry_after, 0.0) if retry_after is not None else None


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _error_title(response: Response) -> str:
    """BigCommerce's error ``title`` (v3: an object; v2: a list of ``{status, message}``)."""
    try:
        body = response.json()
    except ValueError:
        return response.reason or "error"
    if isinstance(body, list) and body and isinstance(body[0], dict):
        body = body[0]
    if isinstance(body, dict):
        title = body.get("title") or body.get("message")
        if isinstance(title, str) and title:
            return title
    return response.reason or "error"


class _Secret:
    """Holds the access token so that no repr, log line or traceback can show it.

    (pydantic's ``SecretStr`` does the same, but importing pydantic here would add it to
    the cold start of functions that call BigCommerce without ever validating a model.)
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "**********"

    __str__ = __repr__
