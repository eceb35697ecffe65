"""Customers and newsletter subscribers (customers.v3.yml, subscribers.v3.yml).

Email consent lives on the subscriber, not the customer: ``consents`` lists
``marketing_newsletter`` and/or ``abandoned_cart``; an empty list means unsubscribed.
Emails compare case-insensitively, as BigCommerce treats them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cartwatch_tools.sandbox.carts import iso
from cartwatch_tools.sandbox.envelope import int_list_filter, list_filter
from cartwatch_tools.sandbox.errors import ApiError, unprocessable

CONSENTS = ("marketing_newsletter", "abandoned_cart")


@dataclass
class Address:
    id: int
    customer_id: int
    first_name: str
    last_name: str
    address1: str
    city: str
    postal_code: str
    country_code: str = "US"
    state_or_province: str = ""
    phone: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "customer_id": self.customer_id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "company": "",
            "address1": self.address1,
            "address2": "",
            "city": self.city,
            "state_or_province": self.state_or_province,
            "postal_code": self.postal_code,
            "country_code": self.country_code,
            "phone": self.phone,
            "address_type": "residential",
        }


@dataclass
class Customer:
    id: int
    email: str
    first_name: str
    last_name: str
    created_at: datetime
    phone: str = ""
    company: str = ""
    customer_group_id: int = 0
    accepts_product_review_abandoned_cart_emails: bool = False
    channel_ids: list[int] = field(default_factory=lambda: [1])
    addresses: list[Address] = field(default_factory=list)

    def as_json(self, include: Collection[str] = ()) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "company": self.company,
            "phone": self.phone,
            "registration_ip_address": "",
            "notes": "",
            "tax_exempt_category": "",
            "customer_group_id": self.customer_group_id,
            "date_created": iso(self.created_at),
            "date_modified": iso(self.created_at),
            "address_count": len(self.addresses),
            "attribute_count": 0,
            "authentication": {"force_password_reset": False},
            "accepts_product_review_abandoned_cart_emails": self.accepts_product_review_abandoned_cart_emails,
            "origin_channel_id": self.channel_ids[0] if self.channel_ids else 1,
            "channel_ids": self.channel_ids,
        }
        # Sub-resources appear only when asked for with ``include=`` (customers.v3.yml).
        if "addresses" in include:
            body["addresses"] = [a.as_json() for a in self.addresses]
        if "storecredit" in include:
            body["store_credit_amounts"] = [{"amount": 0}]
        if "attributes" in include:
            body["attributes"] = []
        if "formfields" in include:
            body["form_fields"] = []
        return body


@dataclass
class Subscriber:
    id: int
    email: str
    created_at: datetime
    first_name: str = ""
    last_name: str = ""
    source: str = "storefront"
    order_id: int | None = None
    channel_id: int = 1
    consents: list[str] = field(default_factory=lambda: list(CONSENTS))

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "source": self.source,
            "order_id": self.order_id,
            "channel_id": self.channel_id,
            "consents": self.consents,
            "date_created": iso(self.created_at),
            "date_modified": iso(self.created_at),
        }


def _emails(values: Iterable[str]) -> set[str]:
    return {v.strip().lower() for v in values}


def check_consents(consents: Iterable[str]) -> list[str]:
    chosen = list(consents)
    unknown = [c for c in chosen if c not in CONSENTS]
    if unknown:
        raise unprocessable("Unknown consent.", consents=f"must be among {', '.join(CONSENTS)}")
    return chosen


class CustomerBook:
    """A store's customers and subscribers.  Not locked: the owning store serialises access."""

    def __init__(self) -> None:
        self.customers: dict[int, Customer] = {}
        self.subscribers: dict[int, Subscriber] = {}
        self._next_customer = 1
        self._next_subscriber = 1
        self._next_address = 1

    def customer(self, customer_id: int) -> Customer:
        found = self.customers.get(customer_id)
        if found is None:
            raise unprocessable(f"Customer {customer_id} does not exist.", customer_id="unknown customer")
        return found

    def add_customer(
        self,
        email: str,
        first_name: str,
        last_name: str,
        now: datetime,
        *,
        phone: str = "",
        accepts_abandoned_cart_emails: bool = False,
        customer_group_id: int = 0,
        addresses: Iterable[Mapping[str, Any]] = (),
    ) -> Customer:
        if not email or "@" not in email:
            raise unprocessable("Create customers failed.", email="a valid email is required")
        if not first_name or not last_name:
            raise unprocessable("Create customers failed.", first_name="required", last_name="required")
        if email.lower() in _emails(c.email for c in self.customers.values()):
            raise unprocessable(
                "Create customers failed.", email=f"The email address {email} is already in use."
            )
        customer = Customer(
            id=self._next_customer,
            email=email,
            first_name=first_name,
            last_name=last_name,
            created_at=now,
            phone=phone,
            customer_group_id=customer_group_id,
            accepts_product_review_abandoned_cart_emails=accepts_abandoned_cart_emails,
        )
        for raw in addresses:
            customer.addresses.append(
                Address(
                    id=self._next_address,
                    customer_id=customer.id,
                    first_name=str(raw.get("first_name", first_name)),
                    last_name=str(raw.get("last_name", last_name)),
                    address1=str(raw.get("address1", "")),
                    city=str(raw.get("city", "")),
                    postal_code=str(raw.get("postal_code", "")),
                    country_code=str(raw.get("country_code", "US")),
                    state_or_province=str(raw.get("state_or_province", "")),
                    phone=str(raw.get("phone", "")),
                )
            )
            self._next_address += 1
        self.customers[customer.id] = customer
        self._next_customer += 1
        return customer

    def find_customers(self, query: Mapping[str, str]) -> list[Customer]:
        ids = int_list_filter(query, "id:in")
        emails = list_filter(query, "email:in")
        wanted_emails = _emails(emails) if emails is not None else None
        return [
            c
            for c in self.customers.values()
            if (ids is None or c.id in ids) and (wanted_emails is None or c.email.lower() in wanted_emails)
        ]

    def add_subscriber(
        self,
        email: str,
        now: datetime,
        *,
        consents: Iterable[str] = CONSENTS,
        first_name: str = "",
        last_name: str = "",
        source: str = "storefront",
        order_id: int | None = None,
        channel_id: int = 1,
    ) -> Subscriber:
        if not email or "@" not in email:
            raise unprocessable("The subscriber is not valid.", email="a valid email is required")
        if email.lower() in _emails(s.email for s in self.subscribers.values()):
            raise ApiError(409, f"A subscriber with email {email} already exists.", {"email": "duplicate"})
        subscriber = Subscriber(
            id=self._next_subscriber,
            email=email,
            created_at=now,
            first_name=first_name,
            last_name=last_name,
            source=source,
            order_id=order_id,
            channel_id=channel_id,
            consents=check_consents(consents),
        )
        self.subscribers[subscriber.id] = subscriber
        self._next_subscriber += 1
        return subscriber

    def find_subscribers(self, query: Mapping[str, str]) -> list[Subscriber]:
        emails = list_filter(query, "email:in")
        if "email" in query:
            emails = [*(emails or []), query["email"]]
        wanted_emails = _emails(emails) if emails is not None else None
        ids = int_list_filter(query, "id:in")
        if "id" in query:
            ids = (ids or set()) | (int_list_filter(query, "id") or set())
        return [
            s
            for s in self.subscribers.values()
            if (ids is None or s.id in ids) and (wanted_emails is None or s.email.lower() in wanted_emails)
        ]
