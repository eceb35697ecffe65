"""The props every cartwatch function shares, in one place.

Each function gets its own role (no AWS managed policy: log writes are granted on its own
log group only) and its own log group, so every grant below is visible per function and
nothing is shared by accident.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from cartwatch.resources import RUNTIME_ENVIRONMENT
from cartwatch.settings import ENV
from cartwatch_infra.compliance import acknowledge
from cartwatch_infra.settings import DeploymentSettings

RUNTIME = lambda_.Runtime.PYTHON_3_13
# Graviton: cheaper per GB-second, and every dependency ships aarch64 wheels.
ARCHITECTURE = lambda_.Architecture.ARM_64
# One Powertools service for the whole pipeline, so custom metrics carry one ``service``
# dimension that the alarms in monitoring.py can name.
SERVICE_NAME = "cartwatch"
METRICS_NAMESPACE = "Cartwatch"

_RETENTION = {
    1: logs.RetentionDays.ONE_DAY, 3: logs.RetentionDays.THREE_DAYS, 5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK, 14: logs.RetentionDays.TWO_WEEKS, 30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS, 90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS, 150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS, 365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS, 545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS, 1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS, 2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS, 2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS, 3653: logs.RetentionDays.TEN_YEARS,
}  # fmt: skip


def log_group(scope: Construct, id: str, settings: DeploymentSettings) -> logs.LogGroup:
    """A log group with the configured retention; operational logs go with the stack."""
    return logs.LogGroup(
        scope,
        id,
        retention=_RETENTION[settings.log_retention_days],
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )


@dataclass(frozen=True)
class FunctionSpec:
    handler: str
    description: str
    timeout: cdk.Duration
    memory_mb: int = 256
    environment: Mapping[str, str] = field(default_factory=dict)
    # Reserved (and so capped) concurrency; None or 0: the function draws from the
    # account's unreserved pool without a cap of its own.
    reserved_concurrency: int | None = None


class CartwatchFunction(Construct):
    """One Lambda function with its own role and log group; grants go through ``allow``."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: FunctionSpec,
        code: lambda_.Code,
        settings: DeploymentSettings,
        environment: Mapping[str, str],
    ) -> None:
        super().__init__(scope, id)
        self.settings = settings
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"cartwatch {id}: only what {spec.handler} needs",
        )
        self.log_group = log_group(self, "Logs", settings)
        self.function = lambda_.Function(
            self,
            "Function",
            code=code,
            handler=spec.handler,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            memory_size=spec.memory_mb,
            timeout=spec.timeout,
            description=spec.description,
            role=self.role,
            log_group=self.log_group,
            reserved_concurrent_executions=spec.reserved_concurrency or None,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                **RUNTIME_ENVIRONMENT,
                "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": settings.log_level,
                # Set only when asked for: Powertools Tracer's X-Ray SDK is a cold-start cost.
                **({ENV.TRACE_SUBSEGMENTS: "true"} if settings.trace_subsegments else {}),
                **environment,
                **spec.environment,
            },
        )
        self.log_group.grant_write(self.role)
        acknowledge(
            self,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no "
            "resource-level permissions, so their statement can only name '*'.",
        )
        acknowledge(
            self,
            "AwsSolutions-L1",
            f"Pinned to {RUNTIME.name} on purpose: the shared asset is built and its bytecode "
            "compiled for exactly this Python (bundling.py); moving runtimes is a deliberate change.",
        )

    def allow(
        self,
        actions: Sequence[str],
        resources: Sequence[str],
        *,
        conditions: Mapping[str, Mapping[str, object]] | None = None,
    ) -> None:
        """Grant exactly ``actions`` on exactly ``resources``, under ``conditions``, to this role."""
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(actions),
                resources=list(resources),
                conditions={k: dict(v) for k, v in conditions.items()} if conditions else None,
            )
        )

    def allow_store_parameter(self, leaf: str, actions: Sequence[str] = ("ssm:GetParameter",)) -> None:
        """``actions`` (default: read) on one kind of store credential, ``{prefix}/stores/*/{leaf}``."""
        name = f"{self.settings.ssm_prefix.lstrip('/')}/stores/*/{leaf}"
        arn = cdk.Stack.of(self).format_arn(
            service="ssm",
            resource="parameter",
            resource_name=name,
            arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME,
        )
        self.allow(list(actions), [arn])
        acknowledge(
            self,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/{name}]",
            "Stores are onboarded after deployment by `cartwatch stores add`, so their hashes "
            f"cannot be listed here; the wildcard spans store hashes only, and only the '{leaf}' "
            "parameter of each.",
        )


class FunctionFactory:
    """Builds ``CartwatchFunction``s that share the code asset and the base environment."""

    def __init__(
        self, *, code: lambda_.Code, settings: DeploymentSettings, environment: Mapping[str, str]
    ) -> None:
        self._code = code
        self._settings = settings
        self._environment = dict(environment)

    def __call__(self, scope: Construct, id: str, spec: FunctionSpec) -> CartwatchFunction:
        return CartwatchFunction(
            scope, id, spec=spec, code=self._code, settings=self._settings, environment=self._environment
        )
