"""Email consent: the subscriber record decides, the customer's flag is the fallback."""

from __future__ import annotations

from typing import Any

import pytest

from cartwatch.domain.bigcommerce_cart import snapshot_from_bigcommerce
from cartwatch.domain.cart import RecoveryLink


def consent_of(
    checkout: dict[str, Any], customer: dict[str, Any] | None, subscribers: list[dict[str, Any]]
) -> dict[str, Any]:
    snap = snapshot_from_bigcommerce(checkout, customer, subscribers, 0, RecoveryLink(url=None, reason="x"))
    return snap.customer.consent.model_dump()


def subscriber(email: str, consents: list[str], channel_id: int = 1) -> dict[str, Any]:
    return {"id": 1, "email": email, "channel_id": channel_id, "consents": consents}


@pytest.fixture
def registered(bigcommerce) -> tuple[dict[str, Any], dict[str, Any]]:
    return bigcommerce("checkout_registered.json")["data"], bigcommerce("customers.json")["data"][0]


@pytest.mark.parametrize(
    ("consents", "expected"),
    [
        (["abandoned_cart"], (True, False)),
        (["marketing_newsletter"], (False, True)),
        (["marketing_newsletter", "abandoned_cart"], (True, True)),
        # An empty list: the shopper unsubscribed (or never ticked the box).
        ([], (False, False)),
    ],
)
def test_subscriber_consents_decide(registered, consents, expected):
    checkout, customer = registered
    customer["accepts_product_review_abandoned_cart_emails"] = not expected[0]

    consent = consent_of(checkout, customer, [subscriber("janedoe@example.com", consents)])

    assert consent == {
        "abandoned_cart_emails": expected[0],
        "marketing_newsletter": expected[1],
        "source": "subscriber",
    }


@pytest.mark.parametrize("flag", [True, False])
def test_without_a_subscriber_the_customer_flag_answers(registered, flag):
    checkout, customer = registered
    customer["accepts_product_review_abandoned_cart_emails"] = flag

    assert consent_of(checkout, customer, []) == {
        "abandoned_cart_emails": flag,
        "marketing_newsletter": None,
        "source": "customer",
    }


def test_a_guest_without_a_subscriber_is_unknown(bigcommerce):
    checkout = bigcommerce("checkout_guest.json")["data"]

    assert consent_of(checkout, None, []) == {
        "abandoned_cart_emails": None,
        "marketing_newsletter": None,
        "source": "unknown",
    }


def test_subscriber_email_matches_without_regard_to_case(bigcommerce):
    checkout = bigcommerce("checkout_guest.json")["data"]

    consent = consent_of(checkout, None, [subscriber(" Example@EXAMPLE.com ", ["abandoned_cart"])])

    assert consent["abandoned_cart_emails"] is True


def test_a_subscriber_of_another_email_does_not_count(bigcommerce):
    checkout = bigcommerce("checkout_guest.json")["data"]

    consent = consent_of(checkout, None, [subscriber("someone.else@example.com", ["abandoned_cart"])])

    assert consent["source"] == "unknown"


def test_the_subscriber_of_the_carts_channel_wins(bigcommerce):
    checkout = bigcommerce("checkout_guest.json")["data"]
    other_channel = subscriber("example@example.com", ["abandoned_cart"], channel_id=2)
    this_channel = subscriber("example@example.com", [], channel_id=1)

    consent = consent_of(checkout, None, [other_channel, this_channel])

    assert consent["abandoned_cart_emails"] is False
