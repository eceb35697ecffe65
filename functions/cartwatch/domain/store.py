"""A store cartwatch serves, and the secrets it holds for it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from cartwatch.domain.stages import StageSchedule

# BigCommerce store hashes are short lowercase alphanumerics (e.g. "abc123xyz").
STORE_HASH = re.compile(r"^[a-z0-9]{1,32}$")


def is_store_hash(value: str) -> bool:
    return bool(STORE_HASH.match(value))


class StoreStatus(StrEnum):
    ACTIVE = "active"
    UNINSTALLED = "uninstalled"


@dataclass(frozen=True)
class StoreSettings:
    """What the pipeline needs to know about a store (no secrets)."""

    store_hash: str
    stages: StageSchedule
    require_signature: bool = False
    recovery_links: bool = False
    status: StoreStatus = StoreStatus.ACTIVE


@dataclass(frozen=True)
class WebhookAuth:
    """What the receiver checks a delivery against.  Never logged."""

    client_secret: str | None
    token: str | None
    require_signature: bool = False

    def __repr__(self) -> str:
        return f"WebhookAuth(require_signature={self.require_signature}, secrets=<hidden>)"


@dataclass(frozen=True)
class ApiCredentials:
    """The store's BigCommerce API access token.  Never logged."""

    access_token: str

    def __repr__(self) -> str:
        return "ApiCredentials(<hidden>)"
