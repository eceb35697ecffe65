"""The JSON file a running `cartwatch local` writes so other commands can find it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cartwatch_tools.cli.errors import CliError
from cartwatch_tools.local.moto_server import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY
from cartwatch_tools.local.sigv4 import SERVICE as SIGV4_SERVICE

DEFAULT_INFO_FILE = Path(".cartwatch/local.json")


class InfoFileError(CliError):
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
    default_stages: str = "1h,24h,48h"  # stages of stores added without their own
    # What a consumer's own SigV4 client (curl --aws-sigv4, botocore, an SDK) needs to call the
    # query API at api_url: the local gateway verifies signatures with these, in `region`.  Not
    # secrets: fixed values that reach nothing but the local gateway and emulator.
    aws_access_key_id: str = LOCAL_ACCESS_KEY
    aws_secret_access_key: str = LOCAL_SECRET_KEY
    sigv4_service: str = SIGV4_SERVICE
    # Where the publisher's stream mapping sends batches it gave up on (coordinates only).
    publisher_dlq_url: str = ""
    # The event archive's bucket (`cartwatch events replay --local` reads it).
    archive_bucket: str = ""
    # The stores' webhook credentials (`stores add --local` writes them there).
    credentials_table_name: str = ""

    def session(self) -> Any:
        """A boto3 session for the embedded emulator (the local credentials, its region)."""
        import boto3

        return boto3.Session(
            aws_access_key_id=self.aws_access_key_id,
            aws_secret_access_key=self.aws_secret_access_key,
            region_name=self.region,
        )

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
