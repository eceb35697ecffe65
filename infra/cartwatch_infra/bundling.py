"""Local bundling of the Lambda code: no Docker, no ``PythonFunction``.

One asset serves every function (they share the ``cartwatch`` package and its
dependencies).  The bundle is built on this machine:

1. ``functions/cartwatch`` is copied from an allow-list: the runtime's subpackages and
   modules (``SHIPPED``), nothing else — tooling lives in ``tools/`` and a new subpackage
   ships only once it is listed here;
2. the runtime dependencies are exported from ``uv.lock`` and installed as manylinux wheels
   for the functions' architecture and Python, whatever this machine is;
3. everything is compiled to bytecode by a Python 3.13 interpreter when one exists.
   Lambda's ``/var/task`` is read-only, so without shipped ``.pyc`` files every cold start
   compiles every module it imports — roughly 3x slower imports.  ``unchecked-hash``
   bytecode is never revalidated against the source, so zip timestamps do not matter.

The asset hash is computed from the sources, ``uv.lock`` and this recipe, so it changes
exactly when the bundle would.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

LAMBDA_PYTHON = "3.13"
PACKAGE = "cartwatch"
# What of ``functions/cartwatch`` runs in Lambda: an allow-list, so nothing ships by default.
# The CLI, ``cartwatch local`` and the BigCommerce sandbox are a separate package
# (``tools/cartwatch_tools``) and could not ship even if they were listed.
SHIPPED_SUBPACKAGES = frozenset({"domain", "service", "adapters", "handlers", "composition"})
SHIPPED_MODULES = frozenset({"__init__.py", "resources.py", "settings.py"})
# The Lambda Python runtime ships boto3 and botocore.  ``uv export --prune`` drops them and
# whatever only they need (s3transfer, python-dateutil, six), but keeps what our own
# dependencies share with them (urllib3 for requests, jmespath for Powertools) at the
# versions the lock tested.
RUNTIME_PROVIDED = ("boto3", "botocore")
# manylinux2014 is the floor every dependency publishes wheels for; the python3.13 runtime
# (Amazon Linux 2023, glibc 2.34) runs them all.
PLATFORMS = {"arm64": "aarch64-manylinux2014", "x86_64": "x86_64-manylinux2014"}
# Bump when the steps below change in a way that changes the bundle.
RECIPE_VERSION = 1

Warn = Callable[[str], None]


class BundlingError(RuntimeError):
    """A bundling step failed; the message says which and shows its output."""


def find_python(version: str = LAMBDA_PYTHON) -> str | None:
    """An interpreter of ``version`` that actually runs, or None.

    A pyenv shim named ``python3.13`` exists on PATH even when that version is not
    selected, and fails when run — so every candidate is executed before it is trusted.
    """
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable  # the interpreter running this synth will do
    return next((c for c in _python_candidates(version) if _reports_version(c, version)), None)


def _python_candidates(version: str) -> Iterator[str]:
    on_path = shutil.which(f"python{version}")
    if on_path:
        yield on_path
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    yield from (str(p) for p in sorted(pyenv.glob(f"{version}*/bin/python{version}"), reverse=True))
    uv = shutil.which("uv")
    if uv:
        found = _run([uv, "python", "find", "--no-project", version], check=False)
        if found.returncode == 0 and found.stdout.strip():
            yield found.stdout.strip()


def _reports_version(executable: str, version: str) -> bool:
    probe = _run([executable, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], check=False)
    return probe.returncode == 0 and probe.stdout.strip() == version


def _run(
    command: list[str], *, check: bool = True, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    try:
        # Arguments are built here from paths and constants, never from user input.
        result = subprocess.run(  # noqa: S603
            command, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=600
        )
    except OSError as error:
        if check:
            raise BundlingError(f"cannot run {command[0]}: {error}") from error
        return subprocess.CompletedProcess(command, 127, "", str(error))
    if check and result.returncode != 0:
        raise BundlingError(
            f"`{' '.join(command)}` failed with exit code {result.returncode}:\n"
            f"{result.stdout[-4000:]}{result.stderr[-4000:]}"
        )
    return result


@jsii.implements(cdk.ILocalBundling)
class LambdaBundler:
    """Builds the shared Lambda asset for one architecture (see the module docstring)."""

    def __init__(self, *, project_root: Path, architecture: str, warn: Warn | None = None) -> None:
        if architecture not in PLATFORMS:
            raise ValueError(f"unsupported architecture {architecture!r}; use one of {sorted(PLATFORMS)}")
        self.project_root = project_root
        self.architecture = architecture
        self._warn = warn

    @property
    def platform(self) -> str:
        return PLATFORMS[self.architecture]

    @property
    def source_dir(self) -> Path:
        return self.project_root / "functions" / PACKAGE

    @cached_property
    def python(self) -> str | None:
        return find_python()

    def shipped_sources(self) -> Iterator[Path]:
        """The package files that go into the bundle, relative to ``source_dir``, sorted."""
        for directory, subdirs, files in os.walk(self.source_dir):
            here = Path(directory).relative_to(self.source_dir)
            top = here == Path()
            subdirs[:] = sorted(
                d
                for d in subdirs
                if not d.startswith((".", "__pycache__")) and (not top or d in SHIPPED_SUBPACKAGES)
            )
            for name in sorted(files):
                if name.startswith(".") or name.endswith((".pyc", ".pyo")):
                    continue
                if not top or name in SHIPPED_MODULES:
                    yield here / name

    def fingerprint(self) -> str:
        """The asset hash: changes when the sources, ``uv.lock`` or the recipe change."""
        digest = hashlib.sha256()
        recipe = (
            f"recipe={RECIPE_VERSION} python={LAMBDA_PYTHON} platform={self.platform} "
            f"pruned={','.join(RUNTIME_PROVIDED)} "
            f"shipped={','.join(sorted(SHIPPED_SUBPACKAGES | SHIPPED_MODULES))} "
            f"bytecode={self.python is not None}\n"
        )
        digest.update(recipe.encode())
        for relative in self.shipped_sources():
            digest.update(relative.as_posix().encode() + b"\0")
            digest.update((self.source_dir / relative).read_bytes() + b"\0")
        digest.update(b"uv.lock\0" + (self.project_root / "uv.lock").read_bytes())
        return digest.hexdigest()

    # jsii turns the BundlingOptions struct into keyword arguments; only ``image`` is
    # declared, the rest are irrelevant to local bundling.
    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_options: Any) -> bool:
        self.bundle(Path(output_dir))
        return True  # never fall back to Docker

    def bundle(self, output: Path) -> None:
        output.mkdir(parents=True, exist_ok=True)
        self._copy_sources(output / PACKAGE)
        self._install_dependencies(output)
        self._compile(output)

    def _copy_sources(self, target: Path) -> None:
        for relative in self.shipped_sources():
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(self.source_dir / relative, destination)

    def _install_dependencies(self, output: Path) -> None:
        uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
        if not Path(uv).exists():
            raise BundlingError(
                "uv is needed to bundle the Lambda code (it reads uv.lock); install it, "
                "or synthesize without bundling: -c skipBundling=true"
            )
        with tempfile.TemporaryDirectory(prefix="cartwatch-bundle-") as scratch:
            requirements = Path(scratch) / "requirements.txt"
            prune = [arg for name in RUNTIME_PROVIDED for arg in ("--prune", name)]
            _run(
                [
                    *(uv, "export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes"),
                    *("--no-header", "--no-annotate", *prune, "--output-file", str(requirements)),
                ],
                cwd=self.project_root,
            )
            # ``--no-deps``: the export is the complete, locked closure.  Resolving again
            # would pull botocore back in through aws-xray-sdk.
            _run(
                [
                    *(uv, "pip", "install", "--quiet", "--target", str(output), "--no-deps"),
                    *("--python-platform", self.platform, "--python-version", LAMBDA_PYTHON),
                    *("--only-binary", ":all:", "--link-mode", "copy", "--requirement", str(requirements)),
                ],
                cwd=self.project_root,
            )
        # Console scripts point at this machine's interpreter; nothing in Lambda runs them.
        shutil.rmtree(output / "bin", ignore_errors=True)
        leaked = [name for name in RUNTIME_PROVIDED if (output / name).exists()]
        if leaked:
            raise BundlingError(f"the runtime's own packages ended up in the bundle: {leaked}")

    def _compile(self, output: Path) -> None:
        if self.python is None:
            message = (
                f"no Python {LAMBDA_PYTHON} interpreter found (PATH, ~/.pyenv/versions, "
                f"`uv python find {LAMBDA_PYTHON}`): the Lambda bundle ships without bytecode and "
                "its modules will import ~3x slower on every cold start"
            )
            print(f"[cartwatch bundling] WARNING: {message}", file=sys.stderr)
            if self._warn:
                self._warn(message)
            return
        _run(
            [
                self.python,
                "-m",
                "compileall",
                "-q",
                "-j0",
                "--invalidation-mode",
                "unchecked-hash",
                str(output),
            ],
            # A fixed hash seed makes the marshalled bytecode reproducible.
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )


def lambda_code(scope: Construct, *, project_root: Path, architecture: lambda_.Architecture) -> lambda_.Code:
    """The one asset all functions share; bundled at most once per synth.

    Bundling is skipped, like for any CDK asset, when the stack is not among the
    ``aws:cdk:bundling-stacks`` (the app maps the ``skipBundling`` context flag to that).
    """
    bundler = LambdaBundler(
        project_root=project_root,
        architecture=architecture.name,
        warn=lambda message: cdk.Annotations.of(scope).add_warning_v2("cartwatch:bundle-bytecode", message),
    )
    return lambda_.Code.from_asset(
        str(project_root / "functions"),
        asset_hash=bundler.fingerprint(),
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        bundling=cdk.BundlingOptions(
            # Required by the API, never pulled: the local bundler always succeeds or raises.
            image=cdk.DockerImage.from_registry("none"),
            local=bundler,
            output_type=cdk.BundlingOutput.NOT_ARCHIVED,
        ),
    )
