"""Which cartwatch a command talks to: a running `cartwatch local`, or a deployed stack.

``--local`` reads the info file `cartwatch local` writes; otherwise the stack's CloudFormation
outputs name the tables and the webhook base URL.  Either way the result is a :class:`Target`,
and nothing downstream knows which it was.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cartwatch.settings import DEFAULT_BIGCOMMERCE_API_URL, DEFAULT_SSM_PREFIX
from cartwatch_tools.cli.errors import CliError
from cartwatch_tools.cli.info_file import DEFAULT_INFO_FILE, InfoFileError, LocalInfo

if TYPE_CHECKING:
    from cartwatch.adapters.store_registry import StoreWriter

DEFAULT_STACK = "Cartwatch"


@dataclass(frozen=True)
class Target:
    description: str  # for messages: "cartwatch local (.cartwatch/local.json)" or "stack Cartwatch"
    table_name: str
    credentials_table_name: str
    ssm_prefix: str
    webhook_base_url: str
    bigcommerce_api_url: str
    region: str | None = None
    aws_endpoint_url: str | None = None  # None: the real AWS endpoints
    local: bool = False
    api_url: str | None = None  # the HTTP API's base URL (the query API's routes live under /v1)
    # What `cartwatch dlq` and `cartwatch events` work on (None: the target does not say).
    topic_arn: str | None = None
    archive_bucket: str | None = None
    intake_queue_url: str | None = None
    intake_dlq_url: str | None = None
    publisher_dlq_url: str | None = None

    def required(self, value: str | None, what: str) -> str:
        if not value:
            raise CliError(f"{self.description} names no {what} (an older `cartwatch local` or stack?)")
        return value

    def client(self, service: str) -> Any:
        import boto3

        options: dict[str, Any] = {"region_name": self.region, "endpoint_url": self.aws_endpoint_url}
        if self.local:
            from cartwatch_tools.local.moto_server import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY

            # The emulator takes any credentials; fixed ones spare the user configuring AWS for it.
            options |= {"aws_access_key_id": LOCAL_ACCESS_KEY, "aws_secret_access_key": LOCAL_SECRET_KEY}
        client = boto3.client(service, **options)  # type: ignore[call-overload]
        # The operator's calls, even through code a function also runs (`dlq redrive
        # publisher-parked` moves the publisher's parked events): no Lambda role is involved,
        # so the IAM conformance check has nothing to hold them to.
        from cartwatch_tools.iam.recording import no_function

        client.meta.events.register(*no_function())
        return client

    def store_writer(self) -> StoreWriter:
        """What writes a store's row and secrets where this cartwatch keeps them."""
        from cartwatch.adapters.store_registry import StoreWriter

        return StoreWriter(
            self.client("dynamodb"),
            self.client("ssm"),
            self.table_name,
            self.ssm_prefix,
            credentials_table=self.credentials_table_name,
        )


def add_target_arguments(parser: argparse.ArgumentParser, *, store_options: bool = True) -> None:
    """``--local``/``--info-file``/``--stack``; with ``store_options``, where store secrets and
    the BigCommerce API are too."""
    group = parser.add_argument_group("target")
    group.add_argument("--local", action="store_true", help="talk to a running `cartwatch local`")
    group.add_argument(
        "--info-file",
        type=Path,
        default=DEFAULT_INFO_FILE,
        help=f"the info file `cartwatch local` wrote (default {DEFAULT_INFO_FILE})",
    )
    group.add_argument("--stack", default=DEFAULT_STACK, help=f"the deployed stack (default {DEFAULT_STACK})")
    if not store_options:
        return
    group.add_argument(
        "--ssm-prefix",
        default=None,
        help=f"where store secrets live in SSM (default: the info file's, or {DEFAULT_SSM_PREFIX})",
    )
    group.add_argument(
        "--bigcommerce-api-url",
        default=None,
        help="BigCommerce API base; a store's API is URL/stores/HASH/v3 "
        f"(default {DEFAULT_BIGCOMMERCE_API_URL})",
    )


def resolve_target(args: argparse.Namespace) -> Target:
    target = local_target(args.info_file) if args.local else _stack(args.stack)
    if getattr(args, "ssm_prefix", None):
        target = replace(target, ssm_prefix=args.ssm_prefix.rstrip("/"))
    if getattr(args, "bigcommerce_api_url", None):
        target = replace(target, bigcommerce_api_url=args.bigcommerce_api_url.rstrip("/"))
    return target


def local_target(path: Path) -> Target:
    """The running ``cartwatch local`` that wrote the info file at ``path``."""
    try:
        info = LocalInfo.read(path)
    except InfoFileError as error:
        raise CliError(str(error)) from None
    return Target(
        description=f"cartwatch local ({path})",
        table_name=info.table_name,
        credentials_table_name=info.credentials_table_name,
        ssm_prefix=info.ssm_prefix.rstrip("/"),
        webhook_base_url=info.webhook_base_url.rstrip("/"),
        bigcommerce_api_url=info.bigcommerce_api_url.rstrip("/"),
        region=info.region,
        aws_endpoint_url=info.aws_endpoint_url,
        local=True,
        api_url=info.api_url.rstrip("/"),
        topic_arn=info.topic_arn,
        archive_bucket=info.archive_bucket or None,
        intake_queue_url=info.intake_queue_url,
        intake_dlq_url=info.intake_dlq_url,
        publisher_dlq_url=info.publisher_dlq_url or None,
    )


def _stack(name: str) -> Target:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        cloudformation = boto3.client("cloudformation")
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ValidationError":
            raise CliError(
                f"stack {name} not found in region {cloudformation.meta.region_name} "
                "(deploy it with `cdk deploy`, pick another with --stack, or use --local)"
            ) from None
        raise
    except BotoCoreError as error:
        # No region, no credentials, no network: botocore's own words say which.
        raise CliError(f"cannot read stack {name}: {error} (or use --local)") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    missing = [key for key in ("TableName", "CredentialsTableName", "WebhookBaseUrl") if not outputs.get(key)]
    if missing:
        raise CliError(f"stack {name} has no output {', '.join(missing)}: is it a cartwatch stack?")
    return Target(
        description=f"stack {name}",
        table_name=outputs["TableName"],
        credentials_table_name=outputs["CredentialsTableName"],
        ssm_prefix=DEFAULT_SSM_PREFIX,
        webhook_base_url=outputs["WebhookBaseUrl"].rstrip("/"),
        bigcommerce_api_url=DEFAULT_BIGCOMMERCE_API_URL,
        region=cloudformation.meta.region_name,
        api_url=outputs.get("ApiUrl", "").rstrip("/") or None,
        topic_arn=outputs.get("TopicArn"),
        archive_bucket=outputs.get("ArchiveBucket"),
        intake_queue_url=outputs.get("IntakeQueueUrl"),
        intake_dlq_url=outputs.get("IntakeDeadLetterQueueUrl"),
        publisher_dlq_url=outputs.get("PublisherDeadLetterQueueUrl"),
    )
