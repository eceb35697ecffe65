"""The stack's CloudFormation template, as ``cdk synth`` makes it from ``cdk.json`` (bundling skipped).

Synthesis takes ~20 s (jsii starts Node), and every pytest-xdist worker that checks IAM
conformance needs the template, so it is cached on disk under a key hashed from everything
that shapes it: the CDK app, the runtime package it imports settings from, ``cdk.json`` and
the locked library versions.  A lock makes concurrent workers synthesize it once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
INPUTS = (
    *sorted((ROOT / "infra").rglob("*.py")),
    *sorted((ROOT / "functions" / "cartwatch").rglob("*.py")),
    ROOT / "cdk.json",
    ROOT / "uv.lock",
)
CACHE = Path(tempfile.gettempdir()) / "cartwatch-stack-templates"


def deployed_template() -> dict[str, Any]:
    digest = hashlib.sha256()
    for path in INPUTS:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    cached = CACHE / f"{digest.hexdigest()[:32]}.json"
    if cached.exists():
        return _read(cached)
    CACHE.mkdir(parents=True, exist_ok=True)
    with _exclusive(cached.with_suffix(".lock")):
        if cached.exists():  # another worker made it while this one waited
            return _read(cached)
        document = synthesize()
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(document))
        partial.replace(cached)
    return document


def synthesize(context: dict[str, Any] | None = None) -> dict[str, Any]:
    """Synthesize the app in this process with ``cdk.json``'s context (plus ``context``)."""
    if str(ROOT / "infra") not in sys.path:
        sys.path.insert(0, str(ROOT / "infra"))  # cartwatch_infra is an app, not a package
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    from aws_cdk import assertions

    from cartwatch_infra.app import build_app

    settings = {
        **json.loads((ROOT / "cdk.json").read_text())["context"],
        "skipBundling": True,
        **(context or {}),
    }
    with tempfile.TemporaryDirectory() as outdir:
        _, stack = build_app(settings, checks=False, outdir=outdir)
        return dict(assertions.Template.from_stack(stack).to_json())


def _read(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


@contextmanager
def _exclusive(lock: Path) -> Any:
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
