"""cartwatch as a BigCommerce app, whole: the sandbox (developer portal, login service, control
panel, store) calling the local pipeline's app callbacks, with moto behind them."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import requests
from tests.support import unique_name

from cartwatch.adapters.store_rows import StoreRows
from cartwatch.domain.app_install import AppCredentials
from cartwatch.domain.cart_webhooks import HOOK_SCOPES
from cartwatch.domain.stages import StageSchedule
from cartwatch.domain.store import StoreRow
from cartwatch_tools.local.pipeline import LocalPipeline
from cartwatch_tools.sandbox import BigCommerceSandbox
from cartwatch_tools.sandbox.apps import CallbackAnswer, RegisteredApp, owner_id

APP_SECRET = "app-client-secret-" + "0123456789abcdef" * 2


@dataclass
class AppWorld:
    sandbox: BigCommerceSandbox
    pipeline: LocalPipeline
    app: RegisteredApp
    store_hash: str
    shop: Any  # the sandbox Store

    # --- BigCommerce's side --------------------------------------------------------------------

    def install(self, user_id: int | None = None) -> CallbackAnswer:
        return self.sandbox.apps.install(self.store_hash, self.app.client_id, user_id)

    def uninstall(self) -> CallbackAnswer:
        return self.sandbox.apps.uninstall(self.store_hash, self.app.client_id)

    def signed_payload(self, user_id: int | None = None, **claims: Any) -> str:
        """A payload as BigCommerce signs it, or (with ``claims``) one altered before signing."""
        if not claims:
            return self.sandbox.apps.signed_payload(self.store_hash, self.app.client_id, user_id)
        now = int(time.time())
        body = {
            "aud": self.app.client_id,
            "iss": "bc",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "jti": secrets.token_hex(8),
            "sub": f"stores/{self.store_hash}",
            "user": {"id": self.owner if user_id is None else user_id},
            "owner": {"id": self.owner},
        }
        key = claims.pop("key", self.app.client_secret)
        body.update(claims)
        return jwt.encode(body, key, algorithm="HS256")

    @property
    def owner(self) -> int:
        return owner_id(self.shop)

    def app_hooks(self) -> list[Any]:
        return self.shop.hooks.find(self.app.client_id)

    # --- cartwatch's side ----------------------------------------------------------------------

    def get(self, route: str, **query: str) -> requests.Response:
        return requests.get(self.pipeline.app_callback_url(route), params=query, timeout=30)

    def post_settings(self, form: dict[str, str], **headers: str) -> requests.Response:
        url = self.pipeline.app_callback_url("settings")
        origin = url.split("/bigcommerce/")[0]
        return requests.post(url, data=form, headers={"Origin": origin, **headers}, timeout=30)

    def row(self) -> StoreRow | None:
        return StoreRows(self.pipeline.client("dynamodb"), self.pipeline.resources.table_name).get(
            self.store_hash
        )

    def parameters(self) -> list[str]:
        ssm = self.pipeline.client("ssm")
        found = ssm.get_parameters_by_path(Path=self.pipeline.ssm_prefix, Recursive=True)["Parameters"]
        return sorted(p["Name"].removeprefix(self.pipeline.ssm_prefix) for p in found)

    def carts(self, store_hash: str | None = None) -> list[dict[str, Any]]:
        prefix = f"CART#{store_hash or self.store_hash}#"
        dynamodb = self.pipeline.client("dynamodb")
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {"TableName": self.pipeline.resources.table_name}
        while True:
            page = dynamodb.scan(**request)
            items += [i for i in page["Items"] if i["pk"]["S"].startswith(prefix)]
            if "LastEvaluatedKey" not in page:
                return items
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def deliver(self) -> None:
        assert self.sandbox.wait_idle(10.0)
        self.pipeline.process_intake()

    def purge(self, timeout: float = 30.0) -> None:
        """Run the purge queue until it is empty (purge steps queue their successors)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pipeline.purge() == 0 and self.pipeline.purge() == 0:
                return
        raise AssertionError("the purge queue did not drain")


def make_app_world(moto_endpoint: str, *, configure: bool = True) -> Iterator[AppWorld]:
    sandbox = BigCommerceSandbox(
        time_scale=0.001, allow_http_destinations=True, seed=5, abandon_after=None
    ).start()
    pipeline = LocalPipeline(
        moto_endpoint,
        bigcommerce_api_url=sandbox.url,
        default_stages=StageSchedule.parse("1h,24h,48h"),
        ssm_prefix=f"/{unique_name('p')}",
        name=unique_name("cw"),
        frame_ancestors=("https://*.mybigcommerce.com", sandbox.url),
        purge_start_delay_seconds=0,
    )
    pipeline.gateway.start()
    client_id = unique_name("app")
    app = sandbox.apps.register(RegisteredApp.calling(client_id, APP_SECRET, pipeline.app_callback_url))
    if configure:
        pipeline.writer().save_app_credentials(AppCredentials(client_id, APP_SECRET))
    store_hash = unique_name("s")
    # The store's own API account exists too; the app gets a token of its own at install.
    shop = sandbox.add_store(
        store_hash, access_token=secrets.token_hex(16), client_secret=secrets.token_hex(16)
    )
    try:
        yield AppWorld(sandbox, pipeline, app, store_hash, shop)
    finally:
        pipeline.stop()
        sandbox.stop()


def one_hook_per_scope(world: AppWorld) -> bool:
    hooks = world.app_hooks()
    return sorted(h.scope for h in hooks) == sorted(HOOK_SCOPES) and all(h.is_active for h in hooks)
