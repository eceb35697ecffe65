"""The CDK app: settings from context, stack ``Cartwatch``, cdk-nag checks."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from cartwatch_infra.compliance import add_checks
from cartwatch_infra.settings import DeploymentSettings, SettingsError
from cartwatch_infra.stack import CartwatchStack

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STACK_NAME = "Cartwatch"
# CDK's own switch: stacks listed here are bundled; an empty list bundles none.
BUNDLING_STACKS = "aws:cdk:bundling-stacks"


def build_app(
    context: Mapping[str, Any] | None = None, *, checks: bool = True, outdir: str | None = None
) -> tuple[cdk.App, CartwatchStack]:
    """The app and its one stack.  ``context`` adds to what the CDK CLI passes in.

    The stack is environment-agnostic on purpose: one template deploys to any account
    and region, and synthesis never needs AWS credentials.
    """
    # No CDKMetadata resource: nothing about this deployment is reported to AWS.
    app = cdk.App(context=dict(context or {}), analytics_reporting=False, outdir=outdir)
    if str(app.node.try_get_context("skipBundling")).lower() == "true":
        app.node.set_context(BUNDLING_STACKS, [])
    settings = DeploymentSettings.from_context(app.node.try_get_context)
    stack = CartwatchStack(
        app,
        STACK_NAME,
        settings=settings,
        project_root=PROJECT_ROOT,
        description="cartwatch: BigCommerce cart webhooks -> cart-abandonment CloudEvents on SNS",
    )
    if checks:
        add_checks(app)
    return app, stack


def main() -> None:
    try:
        app, _ = build_app()
    except SettingsError as error:
        print(f"cartwatch: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    app.synth()
