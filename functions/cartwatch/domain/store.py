"""A store cartwatch serves, and the secrets it holds for it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from cartwatch.domain.cart_webhooks import hook_scopes
from cartwatch.domain.eligibility import EligibilityRules
from cartwatch.domain.shopper import DEFAULT_REMINDERS, ReminderScope
from cartwatch.domain.stages import ChannelStages, StageSchedule, by_channel

# BigCommerce store hashes are short lowercase alphanumerics (e.g. "abc123xyz").
STORE_HASH = re.compile(r"^[a-z0-9]{1,32}$")

# The header cartwatch registers on every hook, carrying the store's webhook token; the
# receiver matches header names case-insensitively, as HTTP does.
TOKEN_HEADER = "X-Cartwatch-Token"  # noqa: S105 — a header name, not a secret


def is_store_hash(value: str) -> bool:
    return bool(STORE_HASH.match(value))


class StoreStatus(StrEnum):
    ACTIVE = "active"
    # BigCommerce confirmed the app's removal: the store's secrets are gone, its carts are
    # being (or have been) purged, and webhooks still in flight for it are dropped.
    UNINSTALLED = "uninstalled"


class StoreConnection(StrEnum):
    """How the store was connected, which decides who may disconnect it."""

    # `cartwatch stores add` with a store-level API account's token and client secret.
    API_ACCOUNT = "api-account"
    # The merchant installed cartwatch as a BigCommerce app (OAuth); its token is the app's.
    APP = "app"


@dataclass(frozen=True)
class StoreSettings:
    """What the pipeline needs to know about a store (no secrets)."""

    store_hash: str
    stages: StageSchedule
    require_signature: bool = False
    recovery_links: bool = False
    status: StoreStatus = StoreStatus.ACTIVE
    eligibility: EligibilityRules = field(default_factory=EligibilityRules)
    connection: StoreConnection = StoreConnection.API_ACCOUNT
    # Several abandoned carts of one shopper: one announcement per stage, or one per cart.
    reminders: ReminderScope = DEFAULT_REMINDERS
    # List every cart with shopper activity (``status=active`` then lists open carts never
    # abandoned), at a listing-index write per cart (docs/query-api.md).
    list_active: bool = False
    # Channels (storefronts) with stages of their own, in channel order, one schedule each.
    channel_stages: tuple[ChannelStages, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "channel_stages", by_channel(self.channel_stages))

    def stages_for(self, channel_id: int | None) -> StageSchedule:
        """The one rule: the channel's own stages if it has them, else the store's.

        A cart whose channel is not known yet (no channel-scoped webhook seen) follows the
        store's stages until it is.
        """
        for schedule in self.channel_stages:
            if schedule.channel_id == channel_id:
                return schedule.stages
        return self.stages

    @property
    def hook_scopes(self) -> tuple[str, ...]:
        """Every hook the store needs: the store-wide ones, and one per channel with its own stages."""
        return hook_scopes(schedule.channel_id for schedule in self.channel_stages)


@dataclass(frozen=True)
class StoreRow:
    """A store as registered: its settings, the ids of the hooks made for it, when it was added."""

    settings: StoreSettings
    hook_ids: Mapping[str, int]
    created_at: int
    # False: the row has no stages of its own and the deployment's default stages apply.
    own_stages: bool
    # True while an uninstall's purge is still deleting the store's carts.
    purging: bool = False
    # App mode: the store owner's and the linked control-panel users' BigCommerce ids.
    app_owner_id: int | None = None
    app_users: frozenset[int] = frozenset()
    installed_by: int | None = None


# How long the token a rotation replaced is still accepted: BigCommerce may take a minute
# to send with a hook's new headers, and deliveries already queued there carry the old one.
ROTATION_GRACE_SECONDS = 15 * 60


@dataclass(frozen=True)
class WebhookAuth:
    """What the receiver checks a delivery against.  Never logged.

    ``previous_token`` is the token a rotation replaced, accepted until
    ``previous_token_until`` (epoch seconds) so that a rotation never fails a delivery.
    """

    client_secret: str | None
    token: str | None
    require_signature: bool = False
    previous_token: str | None = None
    previous_token_until: int | None = None

    def replaced_token_at(self, now: float) -> tuple[str, int] | None:
        """``(previous_token, previous_token_until)`` while the grace period lasts, else None."""
        if self.previous_token and self.previous_token_until is not None and now < self.previous_token_until:
            return self.previous_token, self.previous_token_until
        return None

    def __repr__(self) -> str:
        return f"WebhookAuth(require_signature={self.require_signature}, secrets=<hidden>)"


@dataclass(frozen=True)
class ApiCredentials:
    """The store's BigCommerce API access token.  Never logged."""

    access_token: str

    def __repr__(self) -> str:
        return "ApiCredentials(<hidden>)"
