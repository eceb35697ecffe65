"""One BigCommerce store: its state, what changes it, and the webhooks each change fires.

Two doors lead in.  The management API (routes.py) calls the plain methods; tests and
``cartwatch simulate`` call the ``storefront_*`` methods, which change the store exactly as a
shopper's browser would.  Both fire the same webhooks (FACTS.md §1.2):

- first add in a new session / ``POST /carts``: created, updated, lineItem/created (per item)
- add an item: updated, lineItem/created (lineItem/updated when it merges into an existing line)
- change a quantity: updated, lineItem/updated
- remove an item: updated, lineItem/deleted; removing the last one also deletes the cart: deleted
- apply a coupon: couponApplied, updated
- guest enters or changes an email, customer signs in: updated
- checkout paid: order/created, order/statusUpdated, cart/converted (the cart is then gone)
- explicit delete: deleted; idle for a while: abandoned (once per idle period)

Everything runs under the store's lock, and events are queued before it is released, so the
delivery order always matches the order of the changes.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from cartwatch_tools.sandbox import catalog
from cartwatch_tools.sandbox.carts import (
    INCLUDE_DIGITAL_OPTIONS,
    INCLUDE_PHYSICAL_OPTIONS,
    BillingAddress,
    Cart,
    CartOrigin,
    LineItem,
    LineRequest,
    redirect_urls,
    render_cart,
)
from cartwatch_tools.sandbox.customers import CONSENTS, Customer, CustomerBook, Subscriber
from cartwatch_tools.sandbox.delivery import Target, WebhookDispatcher
from cartwatch_tools.sandbox.envelope import int_list_filter
from cartwatch_tools.sandbox.errors import ApiError, not_found, unprocessable
from cartwatch_tools.sandbox.events import Event, cart_events, envelope, line_item_events, order_events
from cartwatch_tools.sandbox.hooks import HookRegistry
from cartwatch_tools.sandbox.ids import IdFactory
from cartwatch_tools.sandbox.orders import AWAITING_FULFILLMENT, INCOMPLETE, Order
from cartwatch_tools.sandbox.rate_limit import RateLimiter

REDIRECT_ONLY_FOR_API_CARTS = (
    "Redirect URLs can only be generated from carts that were created using the REST Management API"
)


@dataclass(frozen=True)
class ApiAccount:
    """A store-level API account; the secrets never appear in a repr (and so never in a log)."""

    client_id: str
    access_token: str = field(repr=False)
    client_secret: str = field(repr=False)


class Store:
    def __init__(
        self,
        store_hash: str,
        account: ApiAccount,
        *,
        store_id: str,
        dispatcher: WebhookDispatcher,
        rate_limiter: RateLimiter,
        allow_http_destinations: bool = False,
        seed: int | None = None,
        clock: Callable[[], float] = time.time,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.hash = store_hash
        self.store_id = store_id
        self.rate_limiter = rate_limiter
        # Re-entrant: the HTTP layer holds it across an operation and its rendering.
        self.lock = threading.RLock()
        self.hooks = HookRegistry(store_hash, allow_http=allow_http_destinations, clock=clock)
        self.customers = CustomerBook()
        self._accounts: dict[str, ApiAccount] = {account.client_id: account}
        self._dispatcher = dispatcher
        self._clock = clock
        self._on_change = on_change
        self._ids = IdFactory(f"{seed}:{store_hash}" if seed is not None else None)
        self._carts: dict[str, Cart] = {}
        self._orders: dict[int, Order] = {}
        self._next_order_id = 100

    # -- accounts ----------------------------------------------------------------------------

    @property
    def account(self) -> ApiAccount:
        """The account the store was added with."""
        return next(iter(self._accounts.values()))

    def add_api_account(self, client_id: str, access_token: str, client_secret: str) -> ApiAccount:
        account = ApiAccount(client_id, access_token, client_secret)
        with self.lock:
            self._accounts[client_id] = account
        return account

    def remove_api_account(self, client_id: str) -> None:
        """Revoke an account's token (an app's, when it is uninstalled)."""
        with self.lock:
            self._accounts.pop(client_id, None)

    def authenticate(self, token: str | None) -> ApiAccount | None:
        if not token:
            return None
        with self.lock:
            accounts = list(self._accounts.values())
        found = None
        for account in accounts:
            # Compare every account in constant time, so timing says nothing about the tokens.
            if hmac.compare_digest(account.access_token.encode(), token.encode()):
                found = account
        return found

    # -- events ------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _emit(self, events: Iterable[Event]) -> None:
        created_at = int(self._clock())
        batch = []
        for event in events:
            # Drawn for every event, hooks or not, so seeded ids do not depend on what is registered.
            event_id = self._ids.uuid()
            hooks = self.hooks.matching(event.scope)
            if not hooks:
                continue
            payload = envelope(
                event, store_id=self.store_id, store_hash=self.hash, created_at=created_at, event_id=event_id
            )
            for hook in hooks:
                account = self._accounts.get(hook.client_id)
                if account is None:
                    continue  # its account was revoked: BigCommerce deletes such hooks
                target = Target(hook, account.client_secret, self.hooks)
                batch.append((payload, target))
        if batch:
            self._dispatcher.enqueue(batch)

    def fire(self, scope: str, data: Mapping[str, Any]) -> None:
        """Fire any event, e.g. ``fire("store/customer/updated", {"type": "customer", "id": 4})``."""
        with self.lock:
            self._emit([Event(scope, dict(data))])

    def fire_app_uninstalled(self) -> None:
        self.fire("store/app/uninstalled", {"type": "store"})

    def deactivate_hook(self, hook_id: int) -> None:
        """Deactivate a hook as BigCommerce does after 48 h of failed deliveries."""
        self.hooks.deactivate(hook_id)

    # -- carts (management API) -----------------------------------------------------------------

    def cart(self, cart_id: str) -> Cart:
        found = self._carts.get(cart_id)
        if found is None:
            # Also what a converted or deleted cart answers: it is gone.
            raise not_found("Cart not found")
        return found

    def _add_line(self, cart: Cart, line: LineRequest) -> tuple[LineItem, bool]:
        product = catalog.product(line.product_id)
        variant = product.variant_for(line.variant_id, line.selections)
        price = line.list_price if line.list_price is not None else product.list_price(variant)
        existing = cart.item_for(variant, price)
        if existing is not None:
            existing.quantity += line.quantity
            return existing, True
        item = LineItem(self._ids.uuid(), product, variant, line.quantity, price)
        cart.items.append(item)
        return item, False

    def _add_lines(self, cart: Cart, lines: Collection[LineRequest]) -> list[Event]:
        if not lines:
            raise unprocessable("At least one line item is required.", line_items="required")
        # Validate every line before changing anything, so a bad line leaves the cart as it was.
        for line in lines:
            if line.quantity < 1:
                raise unprocessable("Quantity must be at least 1.", quantity="must be at least 1")
            catalog.product(line.product_id).variant_for(line.variant_id, line.selections)
        events = []
        for line in lines:
            item, merged = self._add_line(cart, line)
            events += line_item_events("updated" if merged else "created", cart.id, item.id, cart.channel_id)
        return events

    def _customer_email(self, customer_id: int) -> str:
        return self.customers.customer(customer_id).email if customer_id else ""

    def create_cart(
        self,
        lines: Collection[LineRequest],
        *,
        customer_id: int = 0,
        channel_id: int = 1,
        origin: CartOrigin = CartOrigin.MANAGEMENT_API,
        currency: str = "USD",
    ) -> Cart:
        """``currency``: the cart's transactional currency (a multi-currency storefront's shopper
        picks one; its order is in the same)."""
        with self.lock:
            now = self._now()
            cart = Cart(
                id=self._ids.uuid(),
                store_hash=self.hash,
                origin=origin,
                abandoned_token=self._ids.hex(32),
                created_at=now,
                updated_at=now,
                channel_id=channel_id,
                customer_id=customer_id,
                email=self._customer_email(customer_id),
                currency=currency,
            )
            line_events = self._add_lines(cart, lines)
            self._carts[cart.id] = cart
            self._emit(
                cart_events("created", cart.id, channel_id)
                + cart_events("updated", cart.id, channel_id)
                + line_events
            )
            self._on_change()
            return cart

    def add_items(self, cart_id: str, lines: Collection[LineRequest], version: int | None = None) -> Cart:
        with self.lock:
            cart = self.cart(cart_id)
            cart.check_version(version)
            line_events = self._add_lines(cart, lines)
            self._changed(cart, cart_events("updated", cart.id, cart.channel_id) + line_events)
            return cart

    def update_item(
        self,
        cart_id: str,
        item_id: str,
        quantity: int,
        *,
        list_price: Decimal | None = None,
        version: int | None = None,
    ) -> Cart:
        with self.lock:
            cart = self.cart(cart_id)
            cart.check_version(version)
            item = cart.item(item_id)
            if quantity < 1:
                raise unprocessable("Quantity must be at least 1.", quantity="must be at least 1")
            item.quantity = quantity
            if list_price is not None:
                item.list_price = list_price
            self._changed(
                cart,
                cart_events("updated", cart.id, cart.channel_id)
                + line_item_events("updated", cart.id, item.id, cart.channel_id),
            )
            return cart

    def delete_item(self, cart_id: str, item_id: str, version: int | None = None) -> Cart | None:
        """Remove a line; removing the last one deletes the cart (and returns None)."""
        with self.lock:
            cart = self.cart(cart_id)
            cart.check_version(version)
            item = cart.item(item_id)
            cart.items.remove(item)
            events = cart_events("updated", cart.id, cart.channel_id) + line_item_events(
                "deleted", cart.id, item.id, cart.channel_id
            )
            if cart.items:
                self._changed(cart, events)
                return cart
            del self._carts[cart.id]
            self._emit(events + cart_events("deleted", cart.id, cart.channel_id))
            return None

    def set_customer(self, cart_id: str, customer_id: int, version: int | None = None) -> Cart:
        """``PUT /carts/{id}``, and a shopper signing in: the account's email comes with it."""
        with self.lock:
            cart = self.cart(cart_id)
            cart.check_version(version)
            email = self._customer_email(customer_id)
            cart.customer_id = customer_id
            cart.email = email or (cart.billing.email if cart.billing else "")
            self._changed(cart, cart_events("updated", cart.id, cart.channel_id))
            return cart

    def delete_cart(self, cart_id: str) -> None:
        with self.lock:
            cart = self.cart(cart_id)
            del self._carts[cart.id]
            self._emit(cart_events("deleted", cart.id, cart.channel_id))

    def apply_coupon(self, cart_id: str, code: str) -> Cart:
        with self.lock:
            cart = self.cart(cart_id)
            coupon = catalog.coupon(code)
            if cart.coupon == coupon:
                return cart  # not a new coupon: BigCommerce fires nothing
            cart.coupon = coupon
            self._changed(
                cart,
                cart_events("couponApplied", cart.id, cart.channel_id, couponId=coupon.id)
                + cart_events("updated", cart.id, cart.channel_id),
            )
            return cart

    def set_billing_address(self, cart_id: str, fields: Mapping[str, str]) -> Cart:
        """Entering an email at checkout: ``store/cart/updated`` when the email is new or changed."""
        with self.lock:
            cart = self.cart(cart_id)
            address_id = cart.billing.id if cart.billing else self._ids.hex(13)
            known = set(BillingAddress.__dataclass_fields__) - {"id"}
            cart.billing = BillingAddress(id=address_id, **{k: v for k, v in fields.items() if k in known})
            changed = cart.email != cart.billing.email
            cart.email = cart.billing.email
            cart.touch(self._now())
            if changed:
                self._emit(cart_events("updated", cart.id, cart.channel_id))
            self._on_change()
            return cart

    def create_order(self, cart_id: str, *, source: str = "checkout_api") -> Order:
        """``POST /checkouts/{id}/orders``; the sandbox takes payment at once, which converts the cart."""
        with self.lock:
            cart = self.cart(cart_id)
            if cart.billing is None:
                raise unprocessable(
                    "A billing address is required to create an order.", billing_address="required"
                )
            order = Order.from_cart(self._next_order_id, cart, cart.billing, self._now(), source)
            self._next_order_id += 1
            self._orders[order.id] = order
            order.status_id = AWAITING_FULFILLMENT
            cart.order_id = order.id
            del self._carts[cart.id]
            self._emit(
                order_events("created", order.id, cart.channel_id)
                + order_events(
                    "statusUpdated",
                    order.id,
                    cart.channel_id,
                    status={"previous_status_id": INCOMPLETE, "new_status_id": AWAITING_FULFILLMENT},
                )
                + cart_events("converted", cart.id, cart.channel_id, orderId=order.id)
            )
            return order

    def redirect_urls(self, cart_id: str) -> dict[str, str]:
        with self.lock:
            cart = self.cart(cart_id)
            if cart.origin is not CartOrigin.MANAGEMENT_API:
                raise unprocessable(REDIRECT_ONLY_FOR_API_CARTS)
            return redirect_urls(cart, self._ids.hex(64))

    def cart_for_token(self, token: str) -> str:
        with self.lock:
            for cart in self._carts.values():
                if hmac.compare_digest(cart.abandoned_token, token):
                    return cart.id
        raise not_found("Abandoned cart not found")

    def _changed(self, cart: Cart, events: list[Event]) -> None:
        cart.touch(self._now())
        self._emit(events)
        self._on_change()

    # -- orders ------------------------------------------------------------------------------

    def order(self, order_id: int) -> Order:
        found = self._orders.get(order_id)
        if found is None:
            raise ApiError(404, "The requested resource was not found.")
        return found

    def find_orders(self, query: Mapping[str, str]) -> list[Order]:
        cart_id = query.get("cart_id")
        customers = int_list_filter(query, "customer_id")
        statuses = int_list_filter(query, "status_id")
        with self.lock:
            return [
                o
                for o in sorted(self._orders.values(), key=lambda o: o.id)
                if (cart_id is None or o.cart_id == cart_id)
                and (customers is None or o.customer_id in customers)
                and (statuses is None or o.status_id in statuses)
            ]

    # -- abandonment -------------------------------------------------------------------------

    def _hint(self, cart: Cart) -> None:
        cart.hinted_version = cart.version
        self._emit(cart_events("abandoned", cart.id, cart.channel_id, token=cart.abandoned_token))

    def send_due_abandon_hints(self, idle_seconds: float) -> float | None:
        """Fire ``store/cart/abandoned`` for carts idle that long; seconds until the next is due."""
        with self.lock:
            now = self._clock()
            next_due: float | None = None
            for cart in list(self._carts.values()):
                if cart.hinted_version == cart.version:
                    continue
                due = (cart.updated_at or cart.created_at).timestamp() + idle_seconds
                if due <= now:
                    self._hint(cart)
                else:
                    next_due = due if next_due is None else min(next_due, due)
            return None if next_due is None else next_due - now

    # -- the shopper's side (tests, ``cartwatch simulate``) ------------------------------------

    def storefront_add_to_cart(
        self,
        product_id: int,
        quantity: int = 1,
        *,
        cart_id: str | None = None,
        variant_id: int | None = None,
        options: Mapping[int, int] | None = None,
        customer_id: int | None = None,
        channel_id: int = 1,
        currency: str = "USD",
    ) -> str:
        """Add to the session's cart (``cart_id``), or start a new one in the shopper's
        ``currency``; returns the cart id."""
        line = LineRequest(product_id, quantity, variant_id, dict(options or {}))
        if cart_id is None:
            return self.create_cart(
                [line],
                customer_id=customer_id or 0,
                channel_id=channel_id,
                origin=CartOrigin.STOREFRONT,
                currency=currency,
            ).id
        return self.add_items(cart_id, [line]).id

    def storefront_update_quantity(self, cart_id: str, item_id: str, quantity: int) -> None:
        """Quantity 0 removes the item, as the storefront cart page does."""
        if quantity == 0:
            self.delete_item(cart_id, item_id)
        else:
            self.update_item(cart_id, item_id, quantity)

    def storefront_remove_item(self, cart_id: str, item_id: str) -> None:
        self.delete_item(cart_id, item_id)

    def storefront_apply_coupon(self, cart_id: str, code: str) -> None:
        self.apply_coupon(cart_id, code)

    def storefront_set_guest_email(
        self, cart_id: str, email: str, *, first_name: str = "", last_name: str = "", phone: str = ""
    ) -> None:
        self.set_billing_address(
            cart_id, {"email": email, "first_name": first_name, "last_name": last_name, "phone": phone}
        )

    def storefront_sign_in(self, cart_id: str, customer_id: int) -> None:
        self.set_customer(cart_id, customer_id)

    def storefront_convert(self, cart_id: str, *, email: str | None = None) -> int:
        """Check out and pay; a guest without an email enters one first (that fires updated)."""
        with self.lock:
            cart = self.cart(cart_id)
            if cart.billing is None:
                if cart.customer_id:
                    customer = self.customers.customer(cart.customer_id)
                    self.storefront_set_guest_email(
                        cart_id,
                        customer.email,
                        first_name=customer.first_name,
                        last_name=customer.last_name,
                        phone=customer.phone,
                    )
                else:
                    self.storefront_set_guest_email(
                        cart_id, email or cart.email or f"guest-{self._ids.hex(6)}@example.com"
                    )
            return self.create_order(cart_id, source="www").id

    def storefront_abandon_hint(self, cart_id: str) -> None:
        """Fire ``store/cart/abandoned`` now instead of waiting out the idle time."""
        with self.lock:
            self._hint(self.cart(cart_id))

    def get_cart(self, cart_id: str) -> dict[str, Any] | None:
        """The cart as ``GET /carts/{id}?include=...options`` shows it; None once it is gone."""
        with self.lock:
            found = self._carts.get(cart_id)
            if found is None:
                return None
            return render_cart(found, {INCLUDE_PHYSICAL_OPTIONS, INCLUDE_DIGITAL_OPTIONS})

    def cart_ids(self) -> list[str]:
        with self.lock:
            return list(self._carts)

    # -- customers -----------------------------------------------------------------------------

    def add_customer(
        self,
        email: str,
        first_name: str = "Jane",
        last_name: str = "Doe",
        *,
        phone: str = "",
        accepts_abandoned_cart_emails: bool = False,
        customer_group_id: int = 0,
        addresses: Iterable[Mapping[str, Any]] = (),
    ) -> int:
        return self.create_customer(
            email,
            first_name,
            last_name,
            phone=phone,
            accepts_abandoned_cart_emails=accepts_abandoned_cart_emails,
            customer_group_id=customer_group_id,
            addresses=addresses,
        ).id

    def create_customer(self, email: str, first_name: str, last_name: str, **details: Any) -> Customer:
        with self.lock:
            customer = self.customers.add_customer(email, first_name, last_name, self._now(), **details)
            self._emit([Event("store/customer/created", {"type": "customer", "id": customer.id})])
            return customer

    def add_subscriber(self, email: str, consents: Iterable[str] = CONSENTS, **details: Any) -> int:
        return self.create_subscriber(email, consents, **details).id

    def create_subscriber(self, email: str, consents: Iterable[str] = CONSENTS, **details: Any) -> Subscriber:
        with self.lock:
            subscriber = self.customers.add_subscriber(email, self._now(), consents=consents, **details)
            self._emit([Event("store/subscriber/created", {"type": "subscriber", "id": subscriber.id})])
            return subscriber
