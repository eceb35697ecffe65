"""The ``POST /v3/carts`` body that recreates a shopper's cart for a recovery link."""

from __future__ import annotations

from cartwatch.service.enrichment import recreation_body


def test_items_options_custom_items_and_gift_certificates_are_copied(bigcommerce):
    cart = bigcommerce("checkout_guest_options.json")["data"]["cart"]

    body = recreation_body(cart)

    assert body == {
        "customer_id": 0,
        "line_items": [
            {
                "quantity": 1,
                "product_id": 145,
                # With options the selections name the variant; variant_id is left out.
                "option_selections": [
                    {"option_id": 125, "option_value": 127},
                    {"option_id": 131, "option_value": "JD"},
                ],
            },
            {"quantity": 1, "product_id": 138, "variant_id": 182},
        ],
        "custom_items": [{"sku": "gift-wrap-001", "name": "Gift wrap", "quantity": 1, "list_price": 10}],
        "gift_certificates": [
            {
                "name": "Birthday Gift Certificate",
                "theme": "Birthday",
                "amount": 25,
                "quantity": 1,
                "sender": {"name": "John Doe", "email": "sender@example.com"},
                "recipient": {"name": "Jane Smith", "email": "recipient@example.com"},
                "message": "Happy Birthday!",
            }
        ],
        "channel_id": 1,
        "currency": {"code": "USD"},
    }


def test_items_bigcommerce_adds_by_itself_are_left_out(bigcommerce):
    cart = bigcommerce("checkout_guest.json")["data"]["cart"]
    towel, ebook = cart["line_items"]["physical_items"][0], cart["line_items"]["digital_items"][0]
    towel["parent_id"] = ebook["id"]  # a bundle's child: its parent brings it back
    ebook["added_by_promotion"] = True  # a free gift: the promotion brings it back

    assert recreation_body(cart) is None


def test_a_child_whose_parent_is_not_in_the_cart_is_kept(bigcommerce):
    # BigCommerce's own checkout example has parent_id 123 with no such item in the cart.
    cart = bigcommerce("checkout_registered.json")["data"]["cart"]

    body = recreation_body(cart)

    assert body is not None
    assert body["line_items"] == [{"quantity": 1, "product_id": 188, "variant_id": 359}]


def test_cart_full_keeps_its_locale(bigcommerce):
    cart = bigcommerce("cart.json")["data"]

    body = recreation_body(cart)

    assert body is not None
    assert body["locale"] == "en-US"
    assert body["line_items"] == [{"quantity": 2, "product_id": 120, "variant_id": 118}]
