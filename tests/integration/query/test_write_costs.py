"""The listing index costs nothing on ordinary webhooks: only transitions write it."""

from __future__ import annotations

import pytest
from bench.capacity import write_units
from tests.integration.conftest import Aws, Store
from tests.integration.test_processor import make_processor, message, run

from cartwatch.service.sweeping import AbandonmentSweep

pytestmark = pytest.mark.integration
T0 = 1_800_000_000
HOUR = 3600


def index_units(usage: object) -> list[int]:
    return [write_units(before, after)[1] for before, after in usage.write_log]  # type: ignore[attr-defined]


def test_ordinary_activity_on_listed_carts_writes_no_index_units(aws: Aws, store: Store) -> None:
    processor = make_processor(aws)
    repository = processor._repository
    run(aws, message(store, "store/cart/created", "c1", T0), processor=processor)
    AbandonmentSweep(repository, aws.directory()).run(T0 + HOUR + 5)  # stage 1: listed
    repository.usage.write_log.clear()

    # BigCommerce's own abandoned hint on a listed cart: its token is stored, no index unit.
    run(aws, message(store, "store/cart/abandoned", "c1", T0 + HOUR, token="tok"), processor=processor)
    assert index_units(repository.usage) == [0]

    # The shopper comes back: a transition (listing and due index move) …
    repository.usage.write_log.clear()
    run(aws, message(store, "store/cart/updated", "c1", T0 + 2 * HOUR), processor=processor)
    assert index_units(repository.usage)[0] > 0
    # … then keeps shopping: ordinary activity on a listed cart costs no index unit at all.
    repository.usage.write_log.clear()
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
    assert len(repository.usage.write_log) == 6
    assert index_units(repository.usage) == [0] * 6
