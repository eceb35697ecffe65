"""The REST endpoints: parse a request at the edge, call the store, shape the answer.

Paths are relative to ``/stores/{store_hash}``.  Status codes follow the OpenAPI files, odd ones
included (``PUT /v3/carts/{id}`` answers 201).  v3 wraps bodies in ``{data, meta}``; v2 answers
bare objects and, for an empty collection, 204 with no body.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from cartwatch_tools.sandbox.carts import INCLUDE_REDIRECT_URLS, CartOrigin, LineRequest, render_cart
from cartwatch_tools.sandbox.catalog import selections_from
from cartwatch_tools.sandbox.checkouts import render_checkout
from cartwatch_tools.sandbox.customers import CONSENTS
from cartwatch_tools.sandbox.envelope import bool_filter, envelope, list_filter, paginate
from cartwatch_tools.sandbox.errors import ApiError, unprocessable
from cartwatch_tools.sandbox.orders import render_order
from cartwatch_tools.sandbox.store import ApiAccount, Store


@dataclass
class Call:
    store: Store
    account: ApiAccount
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    api_root: str  # "{sandbox url}/stores/{store_hash}"

    @property
    def include(self) -> set[str]:
        return set(list_filter(self.query, "include") or [])

    def json_object(self) -> dict[str, Any]:
        if not isinstance(self.body, dict):
            raise ApiError(400, "Input is invalid.")
        return self.body


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any = None  # None: no body


Handler = Callable[[Call], Reply]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


ROUTES: list[Route] = []


def route(method: str, path: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        ROUTES.append(Route(method, re.compile(path), handler))
        return handler

    return register


def _int(value: Any, name: str) -> int:
    # JSON numbers arrive as int or float (the specs type ids as "number"); accept whole ones.
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise unprocessable(f"'{name}' must be an integer.", **{name: "must be an integer"})
    return int(value)


def _optional_int(body: dict[str, Any], name: str) -> int | None:
    return None if body.get(name) is None else _int(body[name], name)


def _price(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation as exc:
        raise unprocessable("'list_price' must be a number.", list_price="must be a number") from exc


def _lines(raw: Any) -> list[LineRequest]:
    if not isinstance(raw, list) or not all(isinstance(entry, dict) for entry in raw):
        raise unprocessable("'line_items' must be a list of line items.", line_items="must be a list")
    return [
        LineRequest(
            product_id=_int(entry.get("product_id"), "product_id"),
            quantity=_int(entry.get("quantity"), "quantity"),
            variant_id=_optional_int(entry, "variant_id"),
            selections=selections_from(entry.get("option_selections") or []),
            list_price=_price(entry.get("list_price")),
        )
        for entry in raw
    ]


def _unsupported_items(body: dict[str, Any]) -> None:
    if body.get("custom_items") or body.get("gift_certificates"):
        raise unprocessable(
            "The sandbox supports catalog line items only.",
            custom_items="unsupported",
            gift_certificates="unsupported",
        )


# -- webhooks ---------------------------------------------------------------------------------


@route("GET", r"/v3/hooks")
def list_hooks(call: Call) -> Reply:
    hooks = call.store.hooks.find(
        call.account.client_id,
        scope=call.query.get("scope"),
        is_active=bool_filter(call.query, "is_active"),
        destination=call.query.get("destination"),
    )
    page, meta = paginate(hooks, call.query)
    return Reply(200, envelope([h.as_json() for h in page], meta))


@route("POST", r"/v3/hooks")
def create_hook(call: Call) -> Reply:
    hook = call.store.hooks.create(call.account.client_id, call.json_object())
    return Reply(200, envelope(hook.as_json()))


@route("GET", r"/v3/hooks/admin")
def hooks_admin(call: Call) -> Reply:
    admin = call.store.hooks.admin(call.account.client_id, bool_filter(call.query, "is_active"))
    return Reply(200, envelope(admin))


@route("PUT", r"/v3/hooks/admin")
def update_hooks_admin(call: Call) -> Reply:
    call.store.hooks.set_emails(call.account.client_id, call.json_object())
    return Reply(204)


@route("GET", r"/v3/hooks/(?P<hook_id>\d+)")
def get_hook(call: Call) -> Reply:
    hook = call.store.hooks.get(call.account.client_id, int(call.params["hook_id"]))
    return Reply(200, envelope(hook.as_json()))


@route("PUT", r"/v3/hooks/(?P<hook_id>\d+)")
def update_hook(call: Call) -> Reply:
    hook = call.store.hooks.update(call.account.client_id, int(call.params["hook_id"]), call.json_object())
    return Reply(200, envelope(hook.as_json()))


@route("DELETE", r"/v3/hooks/(?P<hook_id>\d+)")
def delete_hook(call: Call) -> Reply:
    hook = call.store.hooks.delete(call.account.client_id, int(call.params["hook_id"]))
    return Reply(200, envelope(hook.as_json()))


# -- carts ------------------------------------------------------------------------------------


def _cart_reply(call: Call, status: int, cart_id: str) -> Reply:
    cart = call.store.cart(cart_id)
    body = render_cart(cart, call.include)
    if INCLUDE_REDIRECT_URLS in call.include and cart.origin is CartOrigin.MANAGEMENT_API:
        body["redirect_urls"] = call.store.redirect_urls(cart.id)
    return Reply(status, envelope(body))


@route("POST", r"/v3/carts")
def create_cart(call: Call) -> Reply:
    body = call.json_object()
    _unsupported_items(body)
    cart = call.store.create_cart(
        _lines(body.get("line_items")),
        customer_id=_optional_int(body, "customer_id") or 0,
        channel_id=_optional_int(body, "channel_id") or 1,
    )
    return _cart_reply(call, 201, cart.id)


@route("GET", r"/v3/carts/(?P<cart_id>[^/]+)")
def get_cart(call: Call) -> Reply:
    return _cart_reply(call, 200, call.params["cart_id"])


@route("PUT", r"/v3/carts/(?P<cart_id>[^/]+)")
def update_cart(call: Call) -> Reply:
    body = call.json_object()
    if "customer_id" not in body:
        raise unprocessable("Only customer_id can be updated.", customer_id="required")
    cart = call.store.set_customer(
        call.params["cart_id"], _int(body["customer_id"], "customer_id"), _optional_int(body, "version")
    )
    return _cart_reply(call, 201, cart.id)


@route("DELETE", r"/v3/carts/(?P<cart_id>[^/]+)")
def delete_cart(call: Call) -> Reply:
    call.store.delete_cart(call.params["cart_id"])
    return Reply(204)


@route("POST", r"/v3/carts/(?P<cart_id>[^/]+)/items")
def add_items(call: Call) -> Reply:
    body = call.json_object()
    _unsupported_items(body)
    cart = call.store.add_items(
        call.params["cart_id"], _lines(body.get("line_items")), _optional_int(body, "version")
    )
    return _cart_reply(call, 201, cart.id)


@route("PUT", r"/v3/carts/(?P<cart_id>[^/]+)/items/(?P<item_id>[^/]+)")
def update_item(call: Call) -> Reply:
    body = call.json_object()
    line = body.get("line_item")
    if not isinstance(line, dict):
        raise unprocessable("'line_item' is required.", line_item="required")
    cart = call.store.cart(call.params["cart_id"])
    item = cart.item(call.params["item_id"])
    if "product_id" in line and _int(line["product_id"], "product_id") != item.product.id:
        # BigCommerce: to change the product or variant, remove the item and add the new one.
        raise unprocessable("A line item's product cannot be changed.", product_id="cannot change")
    cart = call.store.update_item(
        cart.id,
        item.id,
        _int(line.get("quantity"), "quantity"),
        list_price=_price(line.get("list_price")),
        version=_optional_int(body, "version"),
    )
    return _cart_reply(call, 200, cart.id)


@route("DELETE", r"/v3/carts/(?P<cart_id>[^/]+)/items/(?P<item_id>[^/]+)")
def delete_item(call: Call) -> Reply:
    version = _optional_int(call.body, "version") if isinstance(call.body, dict) else None
    cart = call.store.delete_item(call.params["cart_id"], call.params["item_id"], version)
    # The last item gone, the cart is gone too: 204, no body (carts.v3.yml).
    return Reply(204) if cart is None else _cart_reply(call, 200, cart.id)


@route("POST", r"/v3/carts/(?P<cart_id>[^/]+)/redirect_urls")
def create_redirect_urls(call: Call) -> Reply:
    return Reply(201, envelope(call.store.redirect_urls(call.params["cart_id"])))


# -- checkouts --------------------------------------------------------------------------------


def _checkout_reply(call: Call, cart_id: str) -> Reply:
    return Reply(200, envelope(render_checkout(call.store.cart(cart_id), call.include)))


@route("GET", r"/v3/checkouts/(?P<cart_id>[^/]+)")
def get_checkout(call: Call) -> Reply:
    return _checkout_reply(call, call.params["cart_id"])


@route("POST", r"/v3/checkouts/(?P<cart_id>[^/]+)/billing-address")
def add_billing_address(call: Call) -> Reply:
    body = call.json_object()
    missing = [
        name for name in ("email", "country_code") if not isinstance(body.get(name), str) or not body[name]
    ]
    if missing:
        raise unprocessable("The billing address is incomplete.", **dict.fromkeys(missing, "required"))
    fields = {k: v for k, v in body.items() if isinstance(v, str)}
    cart = call.store.set_billing_address(call.params["cart_id"], fields)
    return _checkout_reply(call, cart.id)


@route("POST", r"/v3/checkouts/(?P<cart_id>[^/]+)/coupons")
def add_coupon(call: Call) -> Reply:
    code = call.json_object().get("coupon_code")
    if not isinstance(code, str):
        raise unprocessable("'coupon_code' is required.", coupon_code="required")
    cart = call.store.apply_coupon(call.params["cart_id"], code)
    return _checkout_reply(call, cart.id)


@route("POST", r"/v3/checkouts/(?P<cart_id>[^/]+)/orders")
def create_order(call: Call) -> Reply:
    order = call.store.create_order(call.params["cart_id"])
    return Reply(200, envelope({"id": order.id}))


# -- customers --------------------------------------------------------------------------------


@route("GET", r"/v3/customers")
def list_customers(call: Call) -> Reply:
    page, meta = paginate(call.store.customers.find_customers(call.query), call.query)
    return Reply(200, envelope([c.as_json(call.include) for c in page], meta))


@route("POST", r"/v3/customers")
def create_customers(call: Call) -> Reply:
    if not isinstance(call.body, list) or not all(isinstance(entry, dict) for entry in call.body):
        raise ApiError(400, "Input is invalid.")
    if len(call.body) > 10:
        raise ApiError(413, "The maximum number of customers in one request is 10.")
    created = [
        call.store.create_customer(
            str(entry.get("email", "")),
            str(entry.get("first_name", "")),
            str(entry.get("last_name", "")),
            phone=str(entry.get("phone", "")),
            accepts_abandoned_cart_emails=bool(
                entry.get("accepts_product_review_abandoned_cart_emails", False)
            ),
            customer_group_id=_optional_int(entry, "customer_group_id") or 0,
            addresses=[a for a in entry.get("addresses") or [] if isinstance(a, dict)],
        )
        for entry in call.body
    ]
    return Reply(200, envelope([c.as_json() for c in created]))


@route("GET", r"/v3/customers/subscribers")
def list_subscribers(call: Call) -> Reply:
    page, meta = paginate(call.store.customers.find_subscribers(call.query), call.query)
    return Reply(200, envelope([s.as_json() for s in page], meta))


@route("POST", r"/v3/customers/subscribers")
def create_subscriber(call: Call) -> Reply:
    body = call.json_object()
    consents = body.get("consents", list(CONSENTS))
    if not isinstance(consents, list):
        raise unprocessable("'consents' must be a list.", consents="must be a list")
    subscriber = call.store.create_subscriber(
        str(body.get("email", "")),
        [str(c) for c in consents],
        first_name=str(body.get("first_name", "")),
        last_name=str(body.get("last_name", "")),
        source=str(body.get("source", "custom")),
        order_id=_optional_int(body, "order_id"),
        channel_id=_optional_int(body, "channel_id") or 1,
    )
    return Reply(200, envelope(subscriber.as_json()))


# -- orders (v2) and abandoned carts ----------------------------------------------------------


@route("GET", r"/v2/orders/(?P<order_id>\d+)")
def get_order(call: Call) -> Reply:
    return Reply(200, render_order(call.store.order(int(call.params["order_id"])), f"{call.api_root}/v2"))


@route("GET", r"/v2/orders")
def list_orders(call: Call) -> Reply:
    page, _ = paginate(call.store.find_orders(call.query), call.query)
    if not page:
        return Reply(204)
    return Reply(200, [render_order(o, f"{call.api_root}/v2") for o in page])


@route("GET", r"/v3/abandoned-carts/(?P<token>[^/]+)")
def get_abandoned_cart(call: Call) -> Reply:
    return Reply(200, envelope({"cart_id": call.store.cart_for_token(call.params["token"])}))
