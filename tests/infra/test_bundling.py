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
    for relative in ("__init__.py", "handlers/__init__.py", "cli/__init__.py", "local/main.py"):
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
    (root / "functions/cartwatch/cli/__init__.py").write_text("# the CLI changed\n")
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


def test_bundle_for_this_machine_imports_with_the_runtime_python(tmp_path: Path) -> None:
    python = find_python()
    if python is None:
        pytest.skip("no Python 3.13 interpreter on this machine")
    architecture = ARCHITECTURES[platform.machine().lower()]
    bundle = tmp_path / "asset"
    started = time.monotonic()
    bundler = LambdaBundler(project_root=ROOT, architecture=architecture)
    assert bundler.try_bundle(str(bundle), image=cdk.DockerImage.from_registry("none"))
    assert time.monotonic() - started < 60

    present = {p.name for p in bundle.iterdir()}
    assert not present & {"boto3", "botocore", "s3transfer", "dateutil", "six.py", "bin"}
    assert {"pydantic", "pydantic_core", "aws_lambda_powertools", "requests", "standardwebhooks"} <= present
    package = {p.name for p in (bundle / "cartwatch").iterdir()}
    assert "handlers" in package
    assert not package & {"cli", "local", "sandbox"}

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

    # The runtime's own order: the bundle (/var/task) first, then what the runtime ships.
    # -S keeps this interpreter's site-packages out, so only the bundle can satisfy imports.
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": f"{bundle}{os.pathsep}{runtime_provided_packages(tmp_path)}",
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    imported = subprocess.run(
        [python, "-S", "-c", "import cartwatch.handlers.receiver, cartwatch.handlers.processor"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=tmp_path,
    )
    assert imported.returncode == 0, imported.stderr
