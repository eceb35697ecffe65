"""The local (Docker-free) Lambda bundler: asset hash, interpreter discovery, a real bundle."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path

import aws_cdk as cdk
import boto3
import pytest

from cartwatch_infra.bundling import LambdaBundler, find_python
from tests.infra.conftest import ROOT

pytestmark = pytest.mark.infra


def project(tmp_path: Path) -> Path:
    package = tmp_path / "functions" / "cartwatch"
    for relative in ("__init__.py", "handlers/__init__.py", "cli/__init__.py", "local/main.py", "notes.py"):
        (package / relative).parent.mkdir(parents=True, exist_ok=True)
        (package / relative).write_text(f"# {relative}\n")
    (tmp_path / "uv.lock").write_text("version = 1\n")
    return tmp_path


def test_asset_hash_follows_shipped_sources_and_the_lock(tmp_path: Path) -> None:
    root = project(tmp_path)
    bundler = LambdaBundler(project_root=root, architecture="arm64")
    original = bundler.fingerprint()

    (root / "functions/cartwatch/handlers/__init__.py").write_text("# changed\n")
    after_source = bundler.fingerprint()
    (root / "uv.lock").write_text("version = 2\n")
    after_lock = bundler.fingerprint()
    assert len({original, after_source, after_lock}) == 3
    assert LambdaBundler(project_root=root, architecture="x86_64").fingerprint() != after_lock


def test_asset_hash_ignores_what_is_not_shipped(tmp_path: Path) -> None:
    root = project(tmp_path)
    bundler = LambdaBundler(project_root=root, architecture="arm64")
    original = bundler.fingerprint()
    # Only allow-listed subpackages and modules ship: an unlisted one changes nothing.
    (root / "functions/cartwatch/cli/__init__.py").write_text("# the CLI changed\n")
    (root / "functions/cartwatch/notes.py").write_text("# unlisted\n")
    (root / "functions/cartwatch/__pycache__").mkdir()
    (root / "functions/cartwatch/__pycache__/x.cpython-313.pyc").write_bytes(b"\0")
    assert bundler.fingerprint() == original
    assert [p.as_posix() for p in bundler.shipped_sources()] == ["__init__.py", "handlers/__init__.py"]


def test_python_discovery_skips_shims_that_do_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A pyenv shim exists on PATH for versions that are installed but not selected, and
    # fails when run: it must not be mistaken for an interpreter.
    shims, pyenv = tmp_path / "shims", tmp_path / "pyenv"
    shims.mkdir()
    (shims / "python3.99").write_text(
        "#!/bin/sh\necho 'pyenv: python3.99: command not found' >&2\nexit 127\n"
    )
    real = pyenv / "versions" / "3.99.1" / "bin" / "python3.99"
    real.parent.mkdir(parents=True)
    real.write_text("#!/bin/sh\necho 3.99\n")
    for script in (shims / "python3.99", real):
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shims}{os.pathsep}/usr/bin{os.pathsep}/bin")
    monkeypatch.setenv("PYENV_ROOT", str(pyenv))
    assert find_python("3.99") == str(real)
    real.unlink()
    assert find_python("3.99") is None


ARCHITECTURES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


def runtime_provided_packages(tmp_path: Path) -> Path:
    """What the Lambda runtime puts after /var/task on sys.path: boto3 and its closure."""
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    site = Path(boto3.__file__).resolve().parents[1]
    for name in ("boto3", "botocore", "s3transfer", "dateutil", "jmespath", "urllib3", "six.py"):
        (runtime / name).symlink_to(site / name)
    return runtime


def lambda_environment(bundle: Path, tmp_path: Path) -> dict[str, str]:
    """The runtime's import order: the bundle (/var/task) first, then what the runtime ships."""
    return {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": f"{bundle}{os.pathsep}{runtime_provided_packages(tmp_path)}",
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real bundle for this machine's architecture, built by the synth's own bundler."""
    if find_python() is None:
        # CI machines have Lambda's Python: there a missing one is a failure, because a bundle
        # without bytecode would ship.  A developer on 3.12 alone skips these two tests.
        message = "no Python 3.13 interpreter on this machine"
        if os.environ.get("CI"):
            pytest.fail(message + " (required in CI: the bundle would ship without bytecode)")
        pytest.skip(message)
    architecture = ARCHITECTURES[platform.machine().lower()]
    asset = tmp_path_factory.mktemp("bundle") / "asset"
    started = time.monotonic()
    bundler = LambdaBundler(project_root=ROOT, architecture=architecture)
    assert bundler.try_bundle(str(asset), image=cdk.DockerImage.from_registry("none"))
    assert time.monotonic() - started < 60
    return asset


def test_bundle_for_this_machine_imports_with_the_runtime_python(tmp_path: Path, bundle: Path) -> None:
    python = find_python()
    assert python is not None

    present = {p.name for p in bundle.iterdir()}
    assert not present & {"boto3", "botocore", "s3transfer", "dateutil", "six.py", "bin"}
    assert {"pydantic", "pydantic_core", "aws_lambda_powertools", "urllib3", "standardwebhooks"} <= present
    # requests is the CLI's, not the runtime's; the tooling package never ships.
    assert not present & {"requests", "charset_normalizer", "idna", "cartwatch_tools", "moto", "rich"}
    package = {p.name for p in (bundle / "cartwatch").iterdir()} - {"__pycache__"}
    assert package == {
        "__init__.py",
        "resources.py",
        "settings.py",
        "domain",
        "service",
        "adapters",
        "handlers",
        "composition",
    }

    magic = subprocess.run(
        [python, "-c", "import importlib.util; print(importlib.util.MAGIC_NUMBER.hex())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    for source in (bundle / "cartwatch").rglob("*.py"):
        compiled = source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc"
        header = compiled.read_bytes()[:8]
        assert header[:4].hex() == magic, compiled
        assert int.from_bytes(header[4:8], "little") == 0b01, compiled  # hash-based, unchecked

    # -S keeps this interpreter's site-packages out, so only the bundle can satisfy imports.
    env = lambda_environment(bundle, tmp_path)
    imported = subprocess.run(
        [python, "-S", "-c", "import cartwatch.handlers.receiver, cartwatch.handlers.processor"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=tmp_path,
    )
    assert imported.returncode == 0, imported.stderr


# Runs one handler from the bundle: reads {"handler", "event"} on stdin, prints the response.
_RUN_HANDLER = """
import importlib, json, sys
request = json.load(sys.stdin)
module = importlib.import_module("cartwatch.handlers." + request["handler"])
class Context:
    function_name = "bundle-test"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bundle-test"
    aws_request_id = "bundle-test"
    def get_remaining_time_in_millis(self):
        return 30000
print(json.dumps(module.handler(request["event"], Context())))
"""


def test_bundled_receiver_and_processor_run_against_moto_server(
    tmp_path: Path, bundle: Path, moto_endpoint: str
) -> None:
    """The asset is complete: its receiver and processor do their jobs with nothing else on the path."""
    import json

    from cartwatch.adapters.store_registry import StoreWriter
    from cartwatch.domain.app_install import AppCredentials
    from cartwatch.domain.stages import StageSchedule
    from cartwatch.domain.store import StoreSettings
    from cartwatch_tools.local.provision import provision
    from tests.support import cart_webhook, http_api_event, signed_headers, sqs_event, unique_name

    python = find_python()
    assert python is not None
    session = boto3.Session(region_name="us-east-1")
    resources = provision(session, moto_endpoint, name=unique_name("bundle"))
    prefix = f"/{unique_name('p')}"
    dynamodb = session.client("dynamodb", endpoint_url=moto_endpoint)
    writer = StoreWriter(
        dynamodb,
        session.client("ssm", endpoint_url=moto_endpoint),
        resources.table_name,
        prefix,
        credentials_table=resources.credentials_table_name,
    )
    writer.save(
        StoreSettings("bundlestore", StageSchedule.parse("1h")),
        access_token="unused-token",
        client_secret="bundle-secret",
        webhook_token="unused",
        created_at=0,
    )
    env = {
        **lambda_environment(bundle, tmp_path),
        "AWS_ACCESS_KEY_ID": "bundle-test",
        "AWS_SECRET_ACCESS_KEY": "bundle-test",
        "AWS_ENDPOINT_URL": moto_endpoint,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "Cartwatch",
        "CARTWATCH_TABLE_NAME": resources.table_name,
        "CARTWATCH_CREDENTIALS_TABLE_NAME": resources.credentials_table_name,
        "CARTWATCH_INTAKE_QUEUE_URL": resources.intake_queue_url,
        "CARTWATCH_SSM_PREFIX": prefix,
        "CARTWATCH_PURGE_QUEUE_URL": resources.purge_queue_url,
        "CARTWATCH_APP_AUTH_CALLBACK_URL": "https://example.com/bigcommerce/app/auth",
        "CARTWATCH_WEBHOOK_BASE_URL": "https://example.com/webhooks/bigcommerce",
    }

    def run(handler: str, event: dict[str, object]) -> dict[str, object]:
        done = subprocess.run(
            [python, "-S", "-c", _RUN_HANDLER],
            input=json.dumps({"handler": handler, "event": event}),
            capture_output=True,
            text=True,
            env=env,
            check=False,
            cwd=tmp_path,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
        return result

    body = json.dumps(
        cart_webhook("bundlestore", "store/cart/created", "bundle-cart", int(time.time()))
    ).encode()
    response = run("receiver", http_api_event("bundlestore", body, signed_headers("bundle-secret", body)))
    assert response["statusCode"] == 200

    sqs = session.client("sqs", endpoint_url=moto_endpoint)
    messages = sqs.receive_message(QueueUrl=resources.intake_queue_url, MaxNumberOfMessages=10)["Messages"]
    assert run("processor", sqs_event(*(m["Body"] for m in messages))) == {"batchItemFailures": []}
    item = dynamodb.get_item(
        TableName=resources.table_name,
        Key={"pk": {"S": "CART#bundlestore#bundle-cart"}, "sk": {"S": "STATE"}},
    ).get("Item")
    assert item is not None and item["status"]["S"] == "active"

    # The app's callbacks verify signed payloads with PyJWT from the bundle (no cryptography
    # package there: HS256 needs none).  A payload signed with another secret is refused.
    import jwt

    writer.save_app_credentials(AppCredentials("bundleapp", "bundle-app-secret-0123456789abcdef"))
    now = int(time.time())
    forged = jwt.encode(
        {"aud": "bundleapp", "iss": "bc", "iat": now, "nbf": now, "exp": now + 60, "jti": "j1",
         "sub": "stores/bundlestore", "user": {"id": 1}, "owner": {"id": 1}},
        "another-secret-0123456789abcdef0123",
        algorithm="HS256",
    )  # fmt: skip
    page = run(
        "app_callbacks",
        {
            "rawPath": "/bigcommerce/app/load",
            "queryStringParameters": {"signed_payload_jwt": forged},
            "requestContext": {"http": {"method": "GET", "path": "/bigcommerce/app/load"}},
            "headers": {},
        },
    )
    assert page["statusCode"] == 401
    assert "not valid" in str(page["body"])
