"""Infrastructure tier: the CDK app synthesized once per session, with bundling skipped.

Everything here reads the same ``cdk.json`` context ``cdk synth`` does, so the template
under test is the one that deploys (bar the asset hash).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
# cartwatch_infra is an app, not an installed package.
sys.path.insert(0, str(ROOT / "infra"))
# Before jsii starts Node: its end-of-life banner for Node 20 is noise here.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

import aws_cdk as cdk  # noqa: E402
from aws_cdk import assertions  # noqa: E402 - after the jsii settings above

from cartwatch_infra.app import build_app  # noqa: E402
from cartwatch_infra.stack import CartwatchStack  # noqa: E402

ALARM_EMAIL = "alarms@example.com"


@dataclass(frozen=True)
class Synthesized:
    app: cdk.App
    stack: CartwatchStack
    template: assertions.Template
    json: dict[str, Any]

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.json["Resources"].items() if v["Type"] == kind}

    def logical_id(self, construct: Any) -> str:
        """The logical id of an L2's CloudFormation resource."""
        return self.stack.get_logical_id(construct.node.default_child)

    def render(self, value: Any) -> str:
        """A resolved CloudFormation value as text: ``${Id}``, ``${Id.Attr}``, joins flattened."""
        return render(self.stack.resolve(value))


def render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        return f"${{{value['Ref']}}}"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return f"${{{'.'.join(value['Fn::GetAtt'])}}}"
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(render(part) for part in parts)
    raise AssertionError(f"cannot render {value!r}")


@pytest.fixture(scope="session")
def cdk_json() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())
    return document


@pytest.fixture(scope="session")
def synthesized(cdk_json: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    context = {
        **cdk_json["context"],
        "skipBundling": True,
        # The optional alarm topic is on in the one synth, so its resources are tested
        # and nag-checked too; without it the stack only lacks that topic.
        "alarmEmail": ALARM_EMAIL,
    }
    app, stack = build_app(context, checks=False, outdir=str(tmp_path_factory.mktemp("cdk.out")))
    template = assertions.Template.from_stack(stack)
    return Synthesized(app=app, stack=stack, template=template, json=dict(template.to_json()))
