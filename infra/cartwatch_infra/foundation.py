"""What every concern of the stack builds on: settings, the function factory, cart state,
and the environment variables each kind of function reads."""

from __future__ import annotations

from dataclasses import dataclass

from cartwatch.settings import ENV
from cartwatch_infra.credentials import StoreCredentials
from cartwatch_infra.functions import FunctionFactory
from cartwatch_infra.settings import DeploymentSettings
from cartwatch_infra.state import CartState


@dataclass(frozen=True)
class Foundation:
    settings: DeploymentSettings
    functions: FunctionFactory
    state: CartState
    credentials: StoreCredentials

    # Grouped by the functions that read them (``cartwatch.settings.Settings`` holds them all).

    @property
    def store_environment(self) -> dict[str, str]:
        """Every function: where store credentials live, default stages (``cartwatch.settings``)."""
        return {ENV.SSM_PREFIX: self.settings.ssm_prefix, ENV.DEFAULT_STAGES: self.settings.stages}

    @property
    def state_environment(self) -> dict[str, str]:
        """The cart-state functions: the due index's shards and how long closed carts stay."""
        return {
            **self.store_environment,
            ENV.DUE_SHARDS: str(self.settings.due_shards),
            ENV.CLOSED_RETENTION_DAYS: str(self.settings.closed_retention_days),
        }

    @property
    def bigcommerce_environment(self) -> dict[str, str]:
        """On top of the cart-state functions': BigCommerce's API, for the enriching functions."""
        return {**self.state_environment, ENV.BIGCOMMERCE_API_URL: self.settings.bigcommerce_api_url}

    def uninstall_environment(self, purge_queue_url: str) -> dict[str, str]:
        """On top of the enriching functions': where purge work is queued, and where the webhook
        credentials an uninstall deletes are."""
        return {
            **self.bigcommerce_environment,
            ENV.PURGE_QUEUE_URL: purge_queue_url,
            ENV.CREDENTIALS_TABLE_NAME: self.credentials.table.table_name,
        }
