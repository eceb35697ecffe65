"""The JSON file a running `cartwatch local` writes so other commands can find it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_INFO_FILE = Path(".cartwatch/local.json")


class InfoFileError(RuntimeError):
    """The info file is missing or unreadable (is `cartwatch local` running?)."""


@dataclass(frozen=True)
class LocalInfo:
    webhook_base_url: str  # http://127.0.0.1:PORT/webhooks/bigcommerce
    api_url: str  # http://127.0.0.1:PORT
    aws_endpoint_url: str  # the embedded moto server
    region: str
    topic_arn: str
    bigcommerce_api_url: str  # BigCommerce API base; a store's API is {this}/stores/{hash}/v3
    table_name: str
    ssm_prefix: str
    intake_queue_url: str
    intake_dlq_url: str
    pid: int
    sandbox: bool  # True when bigcommerce_api_url is the built-in sandbox

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(self), indent=2) + "\n")
        temporary.replace(path)  # atomic: readers never see half a file

    @classmethod
    def read(cls, path: Path) -> LocalInfo:
        try:
            raw = json.loads(path.read_text())
            return cls(**raw)
        except FileNotFoundError:
            raise InfoFileError(
                f"{path} not found: start `cartwatch local` first (or pass --info-file)"
            ) from None
        except (ValueError, TypeError) as error:
            raise InfoFileError(f"{path} is not a cartwatch local info file ({error})") from None
