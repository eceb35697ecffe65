"""POST …/suppress stops the stages; DELETE erases the cart and keeps it erased."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from tests.integration.conftest import Aws, Store
from tests.integration.pipeline_support import World
from tests.integration.query.query_support import DAY, HOUR, api_client
from tests.integration.test_processor import message, run

from cartwatch.domain.cart_record import Tombstone
from cartwatch.domain.stages import CART_LIFETIME_SECONDS
from cartwatch.resources import DUE_INDEX, LISTING_INDEX
from cartwatch.service.sweeping import AbandonmentSweep

pytestmark = pytest.mark.integration
ABANDONED = "cartwatch.cart.abandoned"


def index_items(world: World, index: str) -> list[dict[str, Any]]:
    dynamodb = world.pipeline.client("dynamodb")
    return dynamodb.scan(TableName=world.pipeline.resources.table_name, IndexName=index).get("Items", [])


def stages_announced(world: World, queue: str) -> dict[str, list[int]]:
    announced: dict[str, list[int]] = {}
    for event in world.received(queue):
        announced.setdefault(event["subject"], []).append(event["data"]["stage"])
    return announced


def test_a_suppressed_cart_is_never_announced_again(fresh: World) -> None:
    queue = fresh.consumer_queue(ABANDONED)
    t0 = int(time.time())
    suppressed = fresh.shop.storefront_add_to_cart(88, 1)
    control = fresh.shop.storefront_add_to_cart(104, 1)
    fresh.deliver()
    fresh.pipeline.drain(now=t0 + HOUR + 5)
    assert stages_announced(fresh, queue) == {suppressed: [1], control: [1]}

    response = api_client(fresh).suppress(fresh.store_hash, suppressed)
    assert response.status == 200, response.body
    assert response.body["suppressed"] is True
    assert response.body["history"][-1]["cause"] == "api:suppress"
    assert suppressed not in {i["cart_id"]["S"] for i in index_items(fresh, DUE_INDEX.name)}
    assert api_client(fresh).suppress(fresh.store_hash, suppressed).status == 200  # idempotent

    fresh.pipeline.drain(now=t0 + 2 * DAY + 5)
    assert stages_announced(fresh, queue) == {control: [3]}
    # The shopper comes back (in a later second than the cart's last activity: BigCommerce's
    # times have 1-second resolution) and leaves again: still no reminder.
    time.sleep(max(0.0, t0 + 1.1 - time.time()))
    fresh.shop.storefront_add_to_cart(111, 1, cart_id=suppressed)
    fresh.deliver()
    fresh.pipeline.drain(now=t0 + 3 * DAY)
    assert stages_announced(fresh, queue) == {}
    listed = api_client(fresh).list_carts(fresh.store_hash, suppressed=True).body["carts"]
    assert [(c["cart_id"], c["status"]) for c in listed] == [(suppressed, "active")]


def test_the_sweeper_skips_a_suppressed_cart_even_from_a_stale_index_entry(fresh: World) -> None:
    t0 = int(time.time())
    cart_id = fresh.shop.storefront_add_to_cart(88, 1)
    fresh.deliver()
    sweeper = fresh.pipeline.functions["sweeper"]
    carts, planner = sweeper.carts, sweeper.planner
    entries = [e for shard in planner.shards() for page in carts.due_entries(shard, t0 + DAY) for e in page]
    assert [e.cart_id for e in entries] == [cart_id]
    assert api_client(fresh).suppress(fresh.store_hash, cart_id).status == 200

    class StaleIndex:
        """The cart store, with its due index as an eventually consistent read may still show it."""

        def __getattr__(self, name: str) -> Any:
            return getattr(carts, name)

        def due_entries(self, shard: str, now: int, page_size: int = 200) -> Any:
            yield [e for e in entries if e.due.shard == shard]

    stale: Any = StaleIndex()
    report = AbandonmentSweep(stale, planner, sweeper.store_directory).run(t0 + 2 * DAY)
    assert (report.due_seen, report.abandoned_total) == (1, 0)
    item = fresh.pipeline.client("dynamodb").get_item(
        TableName=fresh.pipeline.resources.table_name,
        Key={"pk": {"S": f"CART#{fresh.store_hash}#{cart_id}"}, "sk": {"S": "STATE"}},
    )["Item"]
    assert item["status"]["S"] == "active" and "pending_event" not in item


def test_an_erased_cart_is_gone_everywhere_and_later_webhooks_do_not_bring_it_back(fresh: World) -> None:
    queue = fresh.consumer_queue(ABANDONED, "cartwatch.cart.recovered", "cartwatch.cart.converted")
    t0 = int(time.time())
    customer = fresh.shop.add_customer("erase.me@example.com", "Erase", "Me", phone="+44 20 7946 0001")
    cart_id = fresh.shop.storefront_add_to_cart(88, 2, customer_id=customer)
    fresh.deliver()
    fresh.pipeline.drain(now=t0 + HOUR + 5)
    api = api_client(fresh)
    assert api.cart(fresh.store_hash, cart_id).body["customer"]["email"] == "erase.me@example.com"
    assert fresh.received(queue)

    assert api.erase(fresh.store_hash, cart_id).status == 204
    assert api.cart(fresh.store_hash, cart_id).status == 404
    assert api.erase(fresh.store_hash, cart_id).status == 404
    assert api.list_carts(fresh.store_hash, limit=250).body["carts"] == []
    for index in (DUE_INDEX.name, LISTING_INDEX.name):
        assert index_items(fresh, index) == []

    def stored() -> dict[str, Any]:
        items = fresh.pipeline.client("dynamodb").scan(TableName=fresh.pipeline.resources.table_name)["Items"]
        (item,) = [i for i in items if i["pk"]["S"] == f"CART#{fresh.store_hash}#{cart_id}"]
        return item

    def assert_no_personal_data(item: dict[str, Any]) -> None:
        text = json.dumps(item)
        assert item["kind"]["S"] == "erased"
        assert "erase.me" not in text and "Erase" not in text and "7946" not in text
        assert set(item) == {"pk", "sk", "kind", "store_hash", "cart_id", "erased_at", "expires_at"}

    assert_no_personal_data(stored())
    # The shopper keeps using the cart, then buys: the webhooks meet the tombstone.
    fresh.shop.storefront_add_to_cart(104, 1, cart_id=cart_id)
    fresh.shop.storefront_convert(cart_id)
    fresh.deliver()
    fresh.pipeline.drain(now=t0 + 2 * DAY)
    assert_no_personal_data(stored())
    assert fresh.received(queue) == []
    assert api.cart(fresh.store_hash, cart_id).status == 404


def test_the_processor_honours_a_tombstone_and_keeps_it_while_webhooks_come(aws: Aws, store: Store) -> None:
    now = int(time.time())
    run(aws, message(store, "store/cart/created", "c-erased", now))
    aws.function("query_api").cart_queries.erase(store.store_hash, "c-erased")
    carts = aws.carts()
    erased = carts.load(store.store_hash, "c-erased")
    assert isinstance(erased, Tombstone) and erased.expires_at >= now + CART_LIFETIME_SECONDS
    expires = erased.expires_at
    result = run(aws, message(store, "store/cart/updated", "c-erased", now + 60))
    assert result == {"batchItemFailures": []}
    assert carts.load(store.store_hash, "c-erased") == erased
    # Still in use days later: the tombstone is kept as long as BigCommerce keeps the cart.
    run(aws, message(store, "store/cart/lineItem/created", "c-erased", now + 5 * DAY, item_id="i9"))
    assert carts.load(store.store_hash, "c-erased") == Tombstone(
        store.store_hash,
        "c-erased",
        erased_at=erased.erased_at,
        expires_at=now + 5 * DAY + CART_LIFETIME_SECONDS,
    )
    assert expires < now + 5 * DAY + CART_LIFETIME_SECONDS
    assert set(aws.table_items()[0]) >= {"kind"}
    assert all(i["kind"]["S"] != "cart" for i in aws.table_items() if i["pk"]["S"].startswith("CART#"))


def test_erase_shopper_erases_every_cart_of_that_shopper_and_nothing_else(fresh: World) -> None:
    """A GDPR request names a person: every cart captured with their email goes — one they
    abandoned as a registered customer and bought later, one they abandoned as a guest — with
    the personal data of the events published for them; another shopper's cart stays.  A cart
    bought without an abandonment holds no personal data (only its order's id and value)."""
    t0 = int(time.time())
    customer = fresh.shop.add_customer("Gone.Person@example.com", "Gone", "Person", phone="+44 20 7946 0002")
    recovered = fresh.shop.storefront_add_to_cart(88, 1, customer_id=customer)
    as_guest = fresh.shop.storefront_add_to_cart(104, 1)
    fresh.shop.storefront_set_guest_email(as_guest, "gone.person@EXAMPLE.com", first_name="Gone")
    other = fresh.shop.storefront_add_to_cart(111, 1)
    fresh.shop.storefront_set_guest_email(other, "stays@example.com", first_name="Stays")
    fresh.deliver()
    fresh.pipeline.drain(now=t0 + HOUR + 5)
    fresh.shop.storefront_convert(recovered)
    bought = fresh.shop.storefront_add_to_cart(88, 1, customer_id=customer)
    fresh.shop.storefront_convert(bought)
    fresh.deliver()
    fresh.pipeline.drain(now=t0 + HOUR + 10)
    api = api_client(fresh)
    status = {c["cart_id"]: c["status"] for c in api.list_carts(fresh.store_hash).body["carts"]}
    assert status == {recovered: "recovered", as_guest: "abandoned", other: "abandoned", bought: "converted"}

    answer = api.erase_shopper(fresh.store_hash, "GONE.person@example.com")
    assert answer.status == 200, answer.body
    assert answer.body == {"erased": sorted([recovered, as_guest])}
    for cart_id in (recovered, as_guest):
        assert api.cart(fresh.store_hash, cart_id).status == 404
    assert {c["cart_id"] for c in api.list_carts(fresh.store_hash).body["carts"]} == {other, bought}
    assert api.cart(fresh.store_hash, bought).body["customer"] is None
    items = fresh.pipeline.client("dynamodb").scan(TableName=fresh.pipeline.resources.table_name)["Items"]
    text = json.dumps(items).casefold()
    assert "gone.person" not in text and "7946" not in text and "stays@example.com" in text
    # Idempotent; an unknown store is a 404; a malformed email a 400 naming the field.
    assert api.erase_shopper(fresh.store_hash, "gone.person@example.com").body == {"erased": []}
    assert api.erase_shopper("nostore", "gone.person@example.com").status == 404
    malformed = api.erase_shopper(fresh.store_hash, "not an email")
    assert malformed.status == 400 and malformed.body["fields"][0]["field"] == "body.email"
