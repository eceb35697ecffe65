"""The emulator's HTTP server keeps a client's connection open between its requests.

Every AWS call of `cartwatch local` and of the tests goes to the emulator.  A server that
closes each connection after one answer (werkzeug's development server does) makes every
call open a new TCP connection and start a server thread: a third of the local runner's
work under load, a cost AWS's endpoints never charge a warm client.
"""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest
from tests.integration.conftest import Aws

pytestmark = pytest.mark.integration


def test_one_connection_carries_a_client_s_requests_one_after_another(aws: Aws) -> None:
    endpoint = urlsplit(aws.resources.endpoint_url)
    connection = http.client.HTTPConnection(endpoint.hostname, endpoint.port, timeout=10)
    target = {"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0"}
    try:
        answers = []
        for _ in range(3):
            connection.request("POST", "/", body=b"{}", headers={**target, **signed_for("dynamodb")})
            response = connection.getresponse()
            answers.append((response.status, response.getheader("Connection"), json.loads(response.read())))
    finally:
        connection.close()

    assert [status for status, _, _ in answers] == [200, 200, 200]
    assert all(header != "close" for _, header, _ in answers)
    assert all("TableNames" in body for _, _, body in answers)


def signed_for(service: str) -> dict[str, str]:
    """The credential scope moto reads the service and region from (it checks no signature)."""
    return {
        "Authorization": (
            f"AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, "
            "SignedHeaders=host;x-amz-target, Signature=test"
        )
    }
