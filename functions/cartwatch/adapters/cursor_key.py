"""The key that authenticates pagination cursors: a SecureString in SSM, made on first use.

CloudFormation cannot create SecureString parameters, so the query API creates its own key
the first time it needs one (``Overwrite=False``: of two cold starts racing, one creates
and both then read the same key).  Deleting the parameter rotates the key; cursors issued
under the old one are then refused, and clients start their listing over.
"""

from __future__ import annotations

import secrets
from typing import Any


def cursor_key_parameter(prefix: str) -> str:
    return f"{prefix}/query-api/cursor-key"


def load_cursor_key(ssm: Any, name: str) -> bytes:
    from botocore.exceptions import ClientError

    for _attempt in range(2):
        try:
            value = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
            return bytes.fromhex(value)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ParameterNotFound":
                raise
        try:
            ssm.put_parameter(
                Name=name,
                Value=secrets.token_hex(32),
                Type="SecureString",
                Overwrite=False,
                Tier="Standard",
                Description="cartwatch query API: HMAC key of pagination cursors",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ParameterAlreadyExists":
                raise
    raise RuntimeError(f"could not read or create {name}")
