"""A loopback BigCommerce: the REST API cartwatch calls and the webhooks it receives.

Used by the tests, the CLI (``cartwatch stores ...``) and ``cartwatch local`` instead of a real
store::

    with BigCommerceSandbox(time_scale=0.001, allow_http_destinations=True, seed=1) as sb:
        store = sb.add_store("abc123", access_token="token", client_secret="secret")
        cart_id = store.storefront_add_to_cart(product_id=111, quantity=2)
        sb.wait_idle(5.0)

Run standalone with ``python -m cartwatch_tools.sandbox --port 8765 --store abc123:TOKEN:SECRET``.
"""

from cartwatch_tools.sandbox.catalog import COUPONS, PRODUCTS
from cartwatch_tools.sandbox.delivery import RETRY_SCHEDULE_S, DeliveryRecord, signing_key
from cartwatch_tools.sandbox.errors import ApiError
from cartwatch_tools.sandbox.sandbox import BigCommerceSandbox
from cartwatch_tools.sandbox.store import ApiAccount, Store

__all__ = [
    "COUPONS",
    "PRODUCTS",
    "RETRY_SCHEDULE_S",
    "ApiAccount",
    "ApiError",
    "BigCommerceSandbox",
    "DeliveryRecord",
    "Store",
    "signing_key",
]
