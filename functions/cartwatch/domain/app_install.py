"""cartwatch as a BigCommerce app: the app's credentials, and what an install grants.

Facts (``shared/bigcommerce/APPS.md``): the auth callback names the store only as
``context = stores/{store_hash}``; the token exchange answers the granted scopes as a
space-separated string that may carry extras (``store_v2_default``), so a grant is checked
for a superset of what cartwatch needs, never for an exact match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_CONTEXT = re.compile(r"^stores/(?P<hash>[a-z0-9]{1,32})$")
# BigCommerce client ids are short alphanumerics; the bound keeps junk out of SSM and logs.
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")

# What enrichment reads, each satisfied by the read-only scope or the read-write one.
# ``store_checkouts_read_only`` is how reference/checkouts.v3.yml spells the checkout scope
# (APPS.md §4 ⚠); either spelling counts.
REQUIRED_SCOPES: tuple[tuple[str, frozenset[str]], ...] = (
    ("carts", frozenset({"store_cart_read_only", "store_cart"})),
    (
        "checkouts",
        frozenset(
            {"store_checkout_read_only", "store_checkout", "store_checkouts_read_only", "store_checkouts"}
        ),
    ),
    ("customers", frozenset({"store_v2_customers_read_only", "store_v2_customers"})),
    ("orders", frozenset({"store_v2_orders_read_only", "store_v2_orders"})),
)


@dataclass(frozen=True)
class AppCredentials:
    """The app's client id and secret from the developer portal.  The secret is never shown."""

    client_id: str
    client_secret: str = field(repr=False)


def store_hash_of(context: str) -> str | None:
    """``stores/abc123`` -> ``abc123``; None for anything else."""
    match = _CONTEXT.match(context)
    return match.group("hash") if match else None


def missing_scopes(granted: str) -> list[str]:
    """The names (``carts``, ``orders``…) of required scopes the grant lacks; [] when complete."""
    scopes = set(granted.split())
    return [name for name, accepted in REQUIRED_SCOPES if not scopes & accepted]
