"""The query API's errors: the one place that maps outcomes to status codes.

``query_api`` registers ``error_response`` for ``ERRORS`` with its resolver; every answer that
is not a success is an ``ErrorBody`` naming what went wrong.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from cartwatch.domain.cart_views import ErrorBody, ErrorField
from cartwatch.service.cart_queries import CartBusy, CartNotFound, StoreNotFound
from cartwatch.service.cursors import InvalidCursor


class Forbidden(PermissionError):
    """The request reached the function without an IAM identity (a misconfigured route)."""


class InvalidParameter(ValueError):
    """A parameter is well-formed but unusable (e.g. a range that ends before it starts)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _error(status: HTTPStatus, message: str, fields: list[ErrorField] | None = None) -> Response[str]:
    body = ErrorBody(error=message, fields=fields or [])
    return Response(
        status_code=status.value,
        content_type=content_types.APPLICATION_JSON,
        body=body.model_dump_json(),
    )


ERRORS: tuple[type[Exception], ...] = (
    RequestValidationError,
    InvalidCursor,
    InvalidParameter,
    StoreNotFound,
    CartNotFound,
    Forbidden,
    CartBusy,
)


def error_response(error: Exception) -> Response[str]:
    """Every expected failure, as its status code and an ``ErrorBody`` naming what went wrong."""
    match error:
        case RequestValidationError():
            fields = [
                ErrorField(field=".".join(str(p) for p in e["loc"]), message=str(e.get("msg", e["type"])))
                for e in error.errors()
            ]
            return _error(HTTPStatus.BAD_REQUEST, "invalid request", fields)
        case InvalidCursor():
            return _error(
                HTTPStatus.BAD_REQUEST,
                "invalid cursor",
                [ErrorField(field="query.cursor", message=str(error))],
            )
        case InvalidParameter():
            fields = [ErrorField(field=error.field, message=str(error))]
            return _error(HTTPStatus.BAD_REQUEST, "invalid request", fields)
        case StoreNotFound() | CartNotFound():
            return _error(HTTPStatus.NOT_FOUND, str(error))
        case Forbidden():
            return _error(HTTPStatus.FORBIDDEN, str(error))
        case CartBusy():
            return _error(HTTPStatus.CONFLICT, str(error))
    raise error  # pragma: no cover — registered for ERRORS only


def refuse_form_body(event: dict[str, Any]) -> dict[str, Any] | None:
    """A 400 for a multipart body, before the resolver sees it; None for anything else.

    Every body this API takes is JSON.  Powertools parses a body by its Content-Type, and its
    multipart parser fails outside the error mapping (a 500) when the boundary is missing.
    """
    headers = event.get("headers") or {}
    content_type = next((str(v) for k, v in headers.items() if k.lower() == "content-type"), "")
    if not content_type.strip().lower().startswith("multipart/"):
        return None
    body = ErrorBody(
        error="invalid request",
        fields=[
            ErrorField(field="header.content-type", message="request bodies are JSON (application/json)")
        ],
    )
    return {
        "statusCode": HTTPStatus.BAD_REQUEST.value,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": body.model_dump_json(),
        "isBase64Encoded": False,
    }
