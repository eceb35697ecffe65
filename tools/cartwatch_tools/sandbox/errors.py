"""The one exception the sandbox's API raises, and the bodies BigCommerce answers errors with."""

from __future__ import annotations

from typing import Any

# Every v3 error body links here (error_Full.type in the OpenAPI files).
STATUS_CODES_URL = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"


class ApiError(Exception):
    """A request BigCommerce would refuse: raised by the domain, turned into HTTP in one place (server.py)."""

    def __init__(self, status: int, title: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {title}")
        self.status = status
        self.title = title
        self.errors = errors

    def v3_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status, "title": self.title, "type": STATUS_CODES_URL}
        if self.errors is not None:
            body["errors"] = self.errors
        return body

    def v2_body(self) -> list[dict[str, Any]]:
        # v2 answers errors with a bare list of {status, message}.
        return [{"status": self.status, "message": self.title}]


def unprocessable(title: str, **errors: str) -> ApiError:
    return ApiError(422, title, errors or {})


def not_found(title: str) -> ApiError:
    return ApiError(404, title)
