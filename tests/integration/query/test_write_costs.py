"""The listing index costs nothing on ordinary webhooks: only transitions write it."""

from __future__ import annotations

import pytest
from bench.counting import WriteUnits
from tests.integration.conftest import Aws, Store
from tests.integration.test_processor import message, run

from cartwatch_tools.iam.recording import no_function

pytestmark = pytest.mark.integration
T0 = 1_800_000_000
HOUR = 3600


def index_units(units: WriteUnits) -> list[int]:
    return [index for _table, index in units.writes]


def test_ordinary_activity_on_listed_carts_writes_no_index_units(aws: Aws, store: Store) -> None:
    reader = aws.client("dynamodb")
    reader.meta.events.register(*no_function())  # the count's own reads, inside the processor's calls
    units = WriteUnits(reader=reader)
    processor = aws.function("processor", event_handlers=units.handlers).cart_processor
    run(aws, message(store, "store/cart/created", "c1", T0), processor=processor)
    aws.function("sweeper").abandonment_sweep().run(T0 + HOUR + 5)  # stage 1: listed
    units.writes.clear()

    # BigCommerce's own abandoned hint on a listed cart: its token is stored, no index unit.
    run(aws, message(store, "store/cart/abandoned", "c1", T0 + HOUR, token="tok"), processor=processor)
    assert index_units(units) == [0]

    # The shopper comes back: a transition (listing and due index move) …
    units.writes.clear()
    run(aws, message(store, "store/cart/updated", "c1", T0 + 2 * HOUR), processor=processor)
    assert index_units(units)[0] > 0
    # … then keeps shopping: ordinary activity on a listed cart costs no index unit at all.
    units.writes.clear()
    for n in range(3):
        run(
            aws,
            message(
                store, "store/cart/lineItem/created", "c1", T0 + 2 * HOUR + 60 * (n + 1), item_id=f"i{n}"
            ),
            processor=processor,
        )
        run(
            aws,
            message(store, "store/cart/updated", "c1", T0 + 2 * HOUR + 60 * (n + 1) + 1),
            processor=processor,
        )
    assert len(units.writes) == 6
    assert index_units(units) == [0] * 6
