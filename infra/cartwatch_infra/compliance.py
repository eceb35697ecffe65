"""cdk-nag (v3) wiring: the AWS Solutions rule pack and written acknowledgements.

cdk-nag v3 runs as a CDK policy-validation plugin: any unacknowledged finding fails
``cdk synth``.  Acknowledgements use CDK's own ``Validations.of(...).acknowledge`` and are
recorded in the construct metadata, next to the resource they excuse.
"""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def add_checks(app: cdk.App) -> None:
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Accept one finding (``AwsSolutions-XYZ`` or ``AwsSolutions-IAM5[Resource::...]``) on
    ``scope`` and its children, for a concrete, written reason."""
    if len(reason) < 20:
        raise ValueError(f"acknowledging {finding} needs a concrete reason, got {reason!r}")
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=finding, reason=reason))
