# Sourced by the scripts in this folder: makes sure uv and a Python 3.13 (else >= 3.12) are
# there and the locked environment is installed.  Idempotent and quiet when nothing changed.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

export UV_PYTHON_DOWNLOADS=never   # use the machine's interpreters; never fetch one
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1
export CDK_DISABLE_CLI_TELEMETRY=true

if ! command -v uv >/dev/null 2>&1; then
  if ! python3 -c 'import uv' >/dev/null 2>&1; then
    echo "cartwatch: installing uv (the Python package manager) with pip…" >&2
    python3 -m pip install --quiet --disable-pip-version-check uv >&2
  fi
  # pip may put the binary where PATH does not look (a pyenv version's bin, ~/.local/bin):
  # ask the package where it is.
  PATH="$(dirname "$(python3 -c 'import uv; print(uv.find_uv_bin())')"):$PATH"
  export PATH
fi

find_python() {
  # Lambda runs python3.13: prefer it so tests and bundles see the same interpreter.
  local candidate
  for candidate in python3.13 "$HOME"/.pyenv/versions/3.13*/bin/python3.13 /usr/local/bin/python3.13 /usr/bin/python3.13; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then
      command -v "$candidate"; return
    fi
  done
  for candidate in python3.12 "$HOME"/.pyenv/versions/3.12*/bin/python3.12 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      command -v "$candidate"; return
    fi
  done
  echo "cartwatch: error: Python 3.12 or newer is required (3.13 preferred)" >&2
  exit 1
}

if [ -z "${UV_PYTHON:-}" ]; then
  UV_PYTHON="$(find_python)"
  export UV_PYTHON
fi

# Compile bytecode at install time: imports are then as fast as on a warm Lambda bundle.
UV_COMPILE_BYTECODE=1 uv sync --frozen --all-extras --quiet
