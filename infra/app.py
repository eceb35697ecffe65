"""Entry point of ``cdk synth`` / ``cdk deploy`` (cdk.json: ``.venv/bin/python infra/app.py``)."""

import os
import sys
from pathlib import Path

# Before jsii starts Node: its end-of-life banner for Node 20 would drown the CDK output.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

_INFRA = Path(__file__).resolve().parent
# The infra package and the functions' package (for cartwatch.resources/settings), whether
# or not the project is installed in the interpreter running the app.
sys.path[:0] = [str(_INFRA), str(_INFRA.parent / "functions")]

from cartwatch_infra.app import main  # noqa: E402 - needs the path set above

main()
