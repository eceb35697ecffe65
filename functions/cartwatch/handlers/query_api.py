"""The query API (API Gateway HTTP API, payload v2, IAM-authorized routes under ``/v1``).

Powertools' resolver validates every parameter against the pydantic annotations below and
serializes every answer through its model; the committed OpenAPI document
(``docs/openapi/query-api.json``) is generated from this module.  Errors map to status codes
in ``query_errors`` and nowhere else.  This function is not on the webhook ack path, so pydantic and the
event-handler framework are fine at cold start.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import (
    OpenAPIResponse,
    OpenAPIResponseContentModel,
    OpenAPIResponseContentSchema,
)

from cartwatch.domain.cart_views import (
    CART_FIELDS,
    CartDetail,
    CartField,
    CartPage,
    ErrorBody,
    GatewayMessage,
    SelectedCartPage,
    ShopperErasure,
    ShopperErasureRequest,
    StatusName,
    StoreStats,
    select_fields,
)
from cartwatch.domain.daily_figures import RETENTION_DAYS
from cartwatch.domain.lifecycle import CartStatus
from cartwatch.domain.listing import MAX_PAGE_SIZE, CartFilter
from cartwatch.domain.store import STORE_HASH
from cartwatch.handlers.observability import logger
from cartwatch.handlers.query_errors import (
    ERRORS,
    Forbidden,
    InvalidParameter,
    error_response,
    refuse_form_body,
)
from cartwatch.service.cart_queries import CartQueries

API_TITLE = "cartwatch query API"
API_VERSION = "1.0.0"
CART_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
DEFAULT_STATS_DAYS = 30
_SIGV4 = "sigv4"

app = APIGatewayHttpResolver(enable_validation=True)


app.exception_handler(list(ERRORS))(error_response)


def _require_iam(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    # API Gateway refuses unsigned requests before they get here; this is defence in depth.
    iam = ((app.current_event.raw_event.get("requestContext") or {}).get("authorizer") or {}).get("iam")
    if not iam:
        raise Forbidden("request is not signed with AWS credentials (SigV4)")
    return next_middleware(app)


app.use(middlewares=[_require_iam])


# --- parameters -----------------------------------------------------------------------------

StoreHash = Annotated[str, Path(pattern=STORE_HASH.pattern, description="The BigCommerce store hash.")]
CartId = Annotated[str, Path(pattern=CART_ID_PATTERN, description="The BigCommerce cart id.")]
Moment = Annotated[
    datetime | None,
    Query(description="RFC 3339 time (a bare epoch-seconds number is accepted too); inclusive."),
]


_ERROR: dict[str, OpenAPIResponseContentSchema | OpenAPIResponseContentModel] = {
    "application/json": {"model": ErrorBody}
}


def _responses(ok: int, model: Any, description: str) -> dict[int, OpenAPIResponse]:
    responses: dict[int, OpenAPIResponse] = {
        400: {"description": "A parameter is invalid; `fields` names it.", "content": _ERROR},
        403: {"description": "Not signed with AWS credentials, or not allowed.", "content": _ERROR},
        404: {"description": "No such store or cart.", "content": _ERROR},
        429: {
            "description": "Over this route's request rate (API Gateway's throttle); retry with backoff.",
            "content": {"application/json": {"model": GatewayMessage}},
        },
    }
    responses[ok] = {"description": description}
    if model is not None:
        responses[ok]["content"] = {"application/json": {"model": model}}
    return responses


def _epoch(value: datetime | None, field: str) -> int | None:
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)  # a time without offset is UTC
    try:
        return int(aware.timestamp())
    except (OverflowError, ValueError, OSError):
        raise InvalidParameter(f"query.{field}", "time out of range") from None


def _queries() -> CartQueries:
    queries: CartQueries = app.context["queries"]
    return queries


# --- routes ---------------------------------------------------------------------------------


@app.get(
    "/v1/stores/<store_hash>/carts",
    summary="List a store's carts",
    description="Carts cartwatch has something to say about — abandoned at least once, suppressed, "
    "or bought — newest transition first, with customer and line items where captured.",
    responses=_responses(
        200, CartPage | SelectedCartPage, "A page of carts (with `fields` or `exclude`: only those fields)."
    ),
    tags=["carts"],
    security=[{_SIGV4: []}],
)
def list_carts(
    store_hash: StoreHash,
    status: Annotated[
        list[StatusName] | None, Query(description="Several allowed (repeat or comma-separate).")
    ] = None,
    created_from: Moment = None,
    created_to: Moment = None,
    modified_from: Annotated[
        datetime | None,
        Query(description="The cart's last activity (`last_activity_at`) at or after this; RFC 3339."),
    ] = None,
    modified_to: Annotated[
        datetime | None, Query(description="The cart's last activity at or before this; RFC 3339.")
    ] = None,
    transitioned_from: Annotated[
        datetime | None,
        Query(description="Its latest lifecycle transition (`modified_at`) at or after this; RFC 3339."),
    ] = None,
    transitioned_to: Moment = None,
    abandoned_from: Moment = None,
    abandoned_to: Moment = None,
    customer_id: Annotated[int | None, Query(ge=1, le=2**53)] = None,
    customer_email: Annotated[str | None, Query(min_length=1, max_length=254)] = None,
    skip_empty_email: Annotated[bool, Query(description="Only carts with a customer email.")] = False,
    min_total: Annotated[Decimal | None, Query(ge=0, le=10**15, max_digits=24, decimal_places=6)] = None,
    max_total: Annotated[Decimal | None, Query(ge=0, le=10**15, max_digits=24, decimal_places=6)] = None,
    currency: Annotated[str | None, Query(pattern=r"^[A-Za-z]{3}$")] = None,
    stage: Annotated[
        list[Annotated[int, Query(ge=1, le=10)]] | None, Query(description="Stage reached.")
    ] = None,
    suppressed: Annotated[bool | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    cursor: Annotated[
        str | None, Query(min_length=1, max_length=4096, description="From `next_cursor`.")
    ] = None,
    fields: Annotated[
        list[CartField] | None,
        Query(
            description="Only these fields of each cart (repeat or comma-separate; `cart_id` is "
            "always included) — API2Cart's `response_fields`/`params`."
        ),
    ] = None,
    exclude: Annotated[
        list[CartField] | None,
        Query(description="Every field but these (API2Cart's `exclude`); `cart_id` stays."),
    ] = None,
) -> CartPage | SelectedCartPage:
    cart_filter = CartFilter(
        statuses=tuple(CartStatus(s) for s in status or ()),
        created_from=_epoch(created_from, "created_from"),
        created_to=_epoch(created_to, "created_to"),
        modified_from=_epoch(modified_from, "modified_from"),
        modified_to=_epoch(modified_to, "modified_to"),
        transitioned_from=_epoch(transitioned_from, "transitioned_from"),
        transitioned_to=_epoch(transitioned_to, "transitioned_to"),
        abandoned_from=_epoch(abandoned_from, "abandoned_from"),
        abandoned_to=_epoch(abandoned_to, "abandoned_to"),
        customer_id=customer_id,
        customer_email=customer_email,
        skip_empty_email=skip_empty_email,
        min_total=min_total,
        max_total=max_total,
        currency=currency,
        stages=tuple(stage or ()),
        suppressed=suppressed,
    )
    page = _queries().list_carts(store_hash, cart_filter, limit=limit, cursor=cursor)
    if not fields and not exclude:
        return page
    return select_fields(page, fields or CART_FIELDS, exclude or ())


@app.get(
    "/v1/stores/<store_hash>/carts/<cart_id>",
    summary="One cart, its lifecycle history and its events",
    responses=_responses(200, CartDetail, "The cart."),
    tags=["carts"],
    security=[{_SIGV4: []}],
)
def show_cart(store_hash: StoreHash, cart_id: CartId) -> CartDetail:
    return _queries().cart(store_hash, cart_id)


@app.post(
    "/v1/stores/<store_hash>/carts/<cart_id>/suppress",
    summary="Stop the cart's abandonment reminders",
    description="No further abandonment stages are announced for this cart (e.g. the shopper was "
    "reached by phone). Idempotent.",
    responses={
        **_responses(200, CartDetail, "The cart, suppressed."),
        409: {"description": "The cart kept changing; retry.", "content": _ERROR},
    },
    tags=["carts"],
    security=[{_SIGV4: []}],
)
def suppress_cart(store_hash: StoreHash, cart_id: CartId) -> CartDetail:
    return _queries().suppress(store_hash, cart_id)


@app.delete(
    "/v1/stores/<store_hash>/carts/<cart_id>",
    summary="Erase the cart and its personal data (GDPR)",
    description="The cart leaves every index and the API; a tombstone without personal data keeps "
    "later webhooks for it from recreating it.",
    responses=_responses(204, None, "Erased."),
    tags=["carts"],
    security=[{_SIGV4: []}],
)
def erase_cart(store_hash: StoreHash, cart_id: CartId) -> Response[None]:
    _queries().erase(store_hash, cart_id)
    return Response(status_code=HTTPStatus.NO_CONTENT.value)


@app.post(
    "/v1/stores/<store_hash>/shoppers/erase",
    summary="Erase every cart of a shopper and its personal data (GDPR)",
    description="Every cart whose captured customer email is this one is erased as "
    "`DELETE …/carts/{cart_id}` erases one. The email travels in the body, never in a URL "
    "(URLs end up in access logs). Idempotent: a second request erases nothing.",
    responses=_responses(200, ShopperErasure, "The carts erased."),
    tags=["carts"],
    security=[{_SIGV4: []}],
)
def erase_shopper(
    store_hash: StoreHash, shopper: Annotated[ShopperErasureRequest, Body(embed=False)]
) -> ShopperErasure:
    return ShopperErasure(erased=_queries().erase_shopper(store_hash, shopper.email))


@app.get(
    "/v1/stores/<store_hash>/stats",
    summary="A store's figures per day: carts created, abandoned, recovered, converted; rates; revenue",
    description="Counted per UTC day as carts change (never from BigCommerce, never by reading the "
    "carts): every day from `from`'s to `to`'s, and the whole range. Values are summed per currency. "
    "The counters trail the carts by up to 15 minutes, and keep each day for 400 days.",
    responses=_responses(200, StoreStats, "The store's figures."),
    tags=["stats"],
    security=[{_SIGV4: []}],
)
def store_stats(
    store_hash: StoreHash,
    start: Annotated[
        datetime | None,
        Query(alias="from", description="A time in the first day. Default: 30 days before `to`."),
    ] = None,
    end: Annotated[
        datetime | None, Query(alias="to", description="A time in the last day. Default: now.")
    ] = None,
) -> StoreStats:
    import time

    end_at = _epoch(end, "to") or int(time.time())
    start_at = _epoch(start, "from")
    if start_at is None:
        start_at = end_at - DEFAULT_STATS_DAYS * 86400
    if start_at > end_at:
        raise InvalidParameter("query.from", "must not be after `to`")
    if end_at - start_at >= RETENTION_DAYS * 86400:
        raise InvalidParameter("query.from", f"a range covers at most {RETENTION_DAYS} days")
    return _queries().stats(store_hash, start_at, end_at)


@app.get("/v1/openapi.json", include_in_schema=False)
def openapi_json() -> Response[str]:
    return Response(
        status_code=200, content_type=content_types.APPLICATION_JSON, body=json.dumps(openapi_document())
    )


# --- the document -----------------------------------------------------------------------------


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of this API, as committed in ``docs/openapi/query-api.json``.

    Request validation errors are answered with 400 (see ``error_response``), so the 422
    Powertools documents for them is replaced by the 400 every route declares.
    """
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn

    document: dict[str, Any] = json.loads(
        app.get_openapi_json_schema(
            title=API_TITLE,
            version=API_VERSION,
            summary="Abandoned carts, their history and stats, from cartwatch's own state.",
            description="Every route is authorized with IAM: sign requests with AWS Signature "
            "Version 4 (service `execute-api`). See docs/query-api.md.",
            security_schemes={
                _SIGV4: APIKey(
                    name="Authorization",
                    in_=APIKeyIn.header,
                    description="AWS Signature Version 4 (service execute-api).",
                )
            },
        )
    )
    for path in document.get("paths", {}).values():
        for operation in path.values():
            operation.get("responses", {}).pop("422", None)
    components = document.get("components", {})
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        components.get("schemas", {}).pop(unused, None)
    # How API Gateway names IAM authorization in OpenAPI (informative for other tools).
    components["securitySchemes"][_SIGV4]["x-amazon-apigateway-authtype"] = "awsSigv4"
    return document


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any, *, queries: CartQueries | None = None) -> dict[str, Any]:
    if queries is None:
        from cartwatch.composition import composition_for

        queries = composition_for("query_api").cart_queries
    refused = refuse_form_body(event)
    if refused is not None:
        return refused
    app.context.update(queries=queries)
    return app.resolve(event, context)


def main(argv: list[str] | None = None) -> int:
    """``python -m cartwatch.handlers.query_api PATH`` writes the OpenAPI document."""
    import sys
    from pathlib import Path as FilePath

    target = FilePath((argv if argv is not None else sys.argv[1:])[0])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
