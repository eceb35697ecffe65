"""The synthesized CloudFormation template, read the way IAM would read the deployed stack.

A function is found by its handler (``cartwatch.handlers.<name>.handler`` is function
``<name>``); its role's policies are every ``AWS::IAM::Policy`` attached to the role (and
inline policies; managed policies cannot be evaluated and are refused).  Resource policies
come from queue policies, topic policies, bucket policies and key policies.

Intrinsics (``Ref``, ``Fn::GetAtt``, ``Fn::Join``, ``Fn::Sub``, ``Fn::Select``, ``Fn::Split`` and
the pseudo parameters) are resolved against one environment's :class:`Deployment`: the
resource a function's ``CARTWATCH_TABLE_NAME`` refers to *is* that environment's table, and
so on for the queue, the topic, the stream, the archive bucket and the dead-letter queue behind
the intake queue (``BINDINGS``).  The deployment's SSM prefix (``ssmPrefix`` in ``cdk.json``, a literal in
the template) is bound to the environment's.  Resources no environment provisions (the
other dead-letter queues, log groups, keys) get names of their own that no call can hit by
accident.  Adding a resource to the environment is one line in ``BINDINGS``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from cartwatch.settings import ENV
from cartwatch_tools.iam.calls import IamRequest, Where, bucket_arn, queue_arn
from cartwatch_tools.iam.policy import PolicyError, Principal, Statement
from cartwatch_tools.iam.recording import Deployment

PSEUDO_PARAMETERS = {"AWS::Partition", "AWS::Region", "AWS::AccountId", "AWS::URLSuffix", "AWS::StackName"}
HANDLER = re.compile(r"^cartwatch\.handlers\.(\w+)\.handler$")

# Function environment variable -> the Deployment field naming the same resource.
BINDINGS: Mapping[str, str] = {
    ENV.TABLE_NAME: "table_name",
    ENV.INTAKE_QUEUE_URL: "intake_queue_url",
    ENV.TOPIC_ARN: "topic_arn",
    ENV.PURGE_QUEUE_URL: "purge_queue_url",
    ENV.ARCHIVE_BUCKET: "archive_bucket",
    ENV.CREDENTIALS_TABLE_NAME: "credentials_table_name",
}
# Resources bound through a property of a bound one: (the bound one's Deployment field, the
# property's path) -> the Deployment field naming the resource the property refers to.
BOUND_THROUGH: Mapping[tuple[str, tuple[str, ...]], str] = {
    ("intake_queue_url", ("RedrivePolicy", "deadLetterTargetArn")): "intake_dlq_url",
    ("purge_queue_url", ("RedrivePolicy", "deadLetterTargetArn")): "purge_dlq_url",
    ("archive_queue_url", ("RedrivePolicy", "deadLetterTargetArn")): "archive_dlq_url",
}
# The source of a function's event source mapping no function's environment names (only
# Lambda's poller reads it) -> the Deployment field.
EVENT_SOURCES: Mapping[str, str] = {"archiver": "archive_queue_url"}
# The on-failure destination of a function's event source mapping -> the Deployment field.
FAILURE_DESTINATIONS: Mapping[str, str] = {"publisher": "publisher_dlq_url"}

# Keys AWS manages for a service: the service uses them on the caller's behalf, no grant needed.
_AWS_MANAGED_KEY = re.compile(r"(^|[:/])alias/aws/")


@dataclass(frozen=True)
class FunctionRole:
    name: str
    function_id: str
    role_id: str
    environment: Mapping[str, Any]


@dataclass(frozen=True)
class Grant:
    """One action on one resource, as the template writes it, allowed to one function."""

    function: str
    action: str
    resource: str

    def __str__(self) -> str:
        return f"{self.function}: {self.action} on {self.resource}"


class StackTemplate:
    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self.resources: Mapping[str, Mapping[str, Any]] = document["Resources"]
        self.functions = self._functions()
        self._bound: dict[Deployment, BoundStack] = {}

    def bind(self, deployment: Deployment) -> BoundStack:
        bound = self._bound.get(deployment)
        if bound is None:
            bound = self._bound[deployment] = BoundStack(self, deployment)
        return bound

    def without(self, function: str, action: str) -> StackTemplate:
        """This template with ``action`` taken out of every statement of ``function``'s role."""
        document = copy.deepcopy(dict(self.document))
        role = self.functions[function].role_id
        for policy in _role_policies(document["Resources"], role):
            for statement in _statements(policy):
                actions = statement.get("Action")
                if isinstance(actions, list) and action in actions:
                    actions.remove(action)
                elif actions == action:
                    statement["Action"] = []
        return StackTemplate(document)

    def grants(self) -> set[Grant]:
        """Every (action, resource) each function's role allows, as written in the template."""
        found: set[Grant] = set()
        for function in self.functions.values():
            for statement in self.identity_statements(function.name, _SYMBOLS):
                if statement.effect != "Allow":
                    continue
                actions = statement.actions if statement.not_actions is None else ("NotAction",)
                found |= {Grant(function.name, a, r) for a in actions for r in statement.shown_resources}
        return found

    def lambda_service_grants(self) -> dict[Grant, str]:
        """Grants Lambda itself uses with a function's role — no cartwatch code calls them —
        each with the reason read from the template: logs, active tracing, failure
        destinations, and what an event source mapping reads from its source."""
        used: dict[Grant, str] = {}
        send = ("sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl")
        by_function_id = {f.function_id: f.name for f in self.functions.values()}

        def add(function: str, actions: Sequence[str], resource: Any, reason: str) -> None:
            shown = _SYMBOLS(resource)
            used.update({Grant(function, action, shown): reason for action in actions})

        for function in self.functions.values():
            properties = self.resources[function.function_id]["Properties"]
            log_group = properties.get("LoggingConfig", {}).get("LogGroup")
            if isinstance(log_group, dict) and "Ref" in log_group:
                add(
                    function.name,
                    ("logs:CreateLogStream", "logs:PutLogEvents"),
                    {"Fn::GetAtt": [log_group["Ref"], "Arn"]},
                    "Lambda writes the function's logs to its log group",
                )
            if properties.get("TracingConfig", {}).get("Mode") == "Active":
                add(
                    function.name,
                    ("xray:PutTraceSegments", "xray:PutTelemetryRecords"),
                    "*",
                    "active tracing: Lambda sends the invocation's trace segments",
                )
        for resource in self.resources.values():
            kind, properties = resource["Type"], resource.get("Properties", {})
            if kind not in {"AWS::Lambda::EventInvokeConfig", "AWS::Lambda::EventSourceMapping"}:
                continue
            function_id = _dig(properties, ("FunctionName", "Ref"))
            function_name = by_function_id.get(str(function_id))
            if function_name is None:
                continue
            destination = _dig(properties, ("DestinationConfig", "OnFailure", "Destination"))
            if destination is not None:
                what = (
                    "a failed asynchronous invocation"
                    if "Invoke" in kind
                    else "a failed batch's stream coordinates"
                )
                add(function_name, send, destination, f"Lambda sends {what} to this failure destination")
            source = properties.get("EventSourceArn")
            if source is not None and kind == "AWS::Lambda::EventSourceMapping":
                reason = (
                    "the event source mapping (Lambda's poller) reads its source with the function's role"
                )
                if _dig(source, ("Fn::GetAtt",)) and source["Fn::GetAtt"][1] == "StreamArn":
                    stream_reads = (
                        "dynamodb:DescribeStream",
                        "dynamodb:GetRecords",
                        "dynamodb:GetShardIterator",
                    )
                    add(function_name, stream_reads, source, reason)
                    add(function_name, ("dynamodb:ListStreams",), "*", reason)
                else:
                    consume = ("sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:DeleteMessage")
                    add(
                        function_name, (*consume, "sqs:GetQueueAttributes", "sqs:GetQueueUrl"), source, reason
                    )
        granted = self.grants()
        return {grant: reason for grant, reason in used.items() if grant in granted}

    def identity_statements(self, function: str, resolver: _Resolver) -> list[Statement]:
        role = self.functions[function].role_id
        if self.resources[role]["Properties"].get("ManagedPolicyArns"):
            raise PolicyError(f"{role}: managed policies cannot be evaluated here")
        statements = []
        for policy_id, policy in _role_policies(self.resources, role, with_ids=True):
            for index, raw in enumerate(_statements(policy)):
                statements.append(_statement(raw, resolver, f"{policy_id} #{index}"))
        return statements

    def _functions(self) -> dict[str, FunctionRole]:
        functions = {}
        for logical_id, resource in self.resources.items():
            if resource["Type"] != "AWS::Lambda::Function":
                continue
            properties = resource["Properties"]
            match = HANDLER.match(str(properties.get("Handler", "")))
            role = properties.get("Role", {}).get("Fn::GetAtt", [None])[0]
            if match and role:
                environment = properties.get("Environment", {}).get("Variables", {})
                functions[match[1]] = FunctionRole(match[1], logical_id, role, environment)
        return functions

    @cached_property
    def bound_by(self) -> dict[str, str]:
        """Logical id -> the Deployment field that names it."""
        bound: dict[str, str] = {}

        def bind(value: Any, field_name: str) -> None:
            if isinstance(value, dict) and ("Ref" in value or "Fn::GetAtt" in value):
                logical_id = value["Ref"] if "Ref" in value else value["Fn::GetAtt"][0]
                holder = next((k for k, v in bound.items() if v == field_name), logical_id)
                if holder != logical_id or bound.get(logical_id, field_name) != field_name:
                    raise PolicyError(f"{field_name} would name both {holder} and {logical_id}")
                bound[logical_id] = field_name

        for function in self.functions.values():
            for variable, field_name in BINDINGS.items():
                bind(function.environment.get(variable), field_name)
        for name, field_name in EVENT_SOURCES.items():
            for properties in self._event_source_mappings(name):
                bind(properties.get("EventSourceArn"), field_name)
        for (source, path), field_name in BOUND_THROUGH.items():
            for logical_id, bound_field in list(bound.items()):
                if bound_field == source:
                    bind(_dig(self.resources[logical_id].get("Properties", {}), path), field_name)
        for name, field_name in FAILURE_DESTINATIONS.items():
            for properties in self._event_source_mappings(name):
                bind(_dig(properties, ("DestinationConfig", "OnFailure", "Destination")), field_name)
        return bound

    def _event_source_mappings(self, function: str) -> list[Mapping[str, Any]]:
        """The properties of ``function``'s event source mappings."""
        function_id = self.functions[function].function_id if function in self.functions else None
        return [
            resource.get("Properties", {})
            for resource in self.resources.values()
            if resource["Type"] == "AWS::Lambda::EventSourceMapping"
            and _dig(resource.get("Properties", {}), ("FunctionName", "Ref")) == function_id
        ]

    @cached_property
    def deployed_ssm_prefix(self) -> str | None:
        prefixes = {
            str(f.environment[ENV.SSM_PREFIX])
            for f in self.functions.values()
            if ENV.SSM_PREFIX in f.environment
        }
        if len(prefixes) > 1:
            raise PolicyError(f"functions disagree on {ENV.SSM_PREFIX}: {sorted(prefixes)}")
        return prefixes.pop() if prefixes else None


class BoundStack:
    """The template with every intrinsic resolved to one environment's names."""

    def __init__(self, template: StackTemplate, deployment: Deployment) -> None:
        self.template = template
        self.deployment = deployment
        self.resolve = _Resolver(template, deployment)
        self._identity: dict[str, list[Statement]] = {}

    def principal(self, function: str) -> Principal:
        role = self.template.functions[function].role_id
        return Principal(self.resolve.attribute(role, "Arn"), self.deployment.account)

    def identity(self, function: str) -> list[Statement]:
        statements = self._identity.get(function)
        if statements is None:
            statements = self._identity[function] = self.template.identity_statements(function, self.resolve)
        return statements

    @cached_property
    def _resource_policies(self) -> dict[str, list[Statement]]:
        policies: dict[str, list[Statement]] = {}
        for policy_id, resource in self.template.resources.items():
            kind, properties = resource["Type"], resource.get("Properties", {})
            if kind == "AWS::SQS::QueuePolicy":
                targets = [self.resolve.attribute(_ref(q, policy_id), "Arn") for q in properties["Queues"]]
            elif kind == "AWS::SNS::TopicPolicy":
                targets = [self.resolve.ref(_ref(t, policy_id)) for t in properties["Topics"]]
            elif kind == "AWS::S3::BucketPolicy":
                targets = [self.resolve.attribute(_ref(properties["Bucket"], policy_id), "Arn")]
            else:
                continue
            statements = [
                _statement(raw, self.resolve, f"{policy_id} #{i}")
                for i, raw in enumerate(properties["PolicyDocument"]["Statement"])
            ]
            for target in targets:
                policies.setdefault(target, []).extend(statements)
        return policies

    def resource_policy(self, resource: str) -> list[Statement]:
        # An object's policy is its bucket's.
        return self._resource_policies.get(_bucket_of(resource) or resource, [])

    @cached_property
    def _keys(self) -> dict[str, list[Statement]]:
        keys = {}
        for logical_id, resource in self.template.resources.items():
            if resource["Type"] == "AWS::KMS::Key":
                arn = self.resolve.attribute(logical_id, "Arn")
                statements = resource["Properties"]["KeyPolicy"]["Statement"]
                # In a key policy, "Resource": "*" means this key.
                keys[arn] = [
                    _statement(raw, self.resolve, f"{logical_id} key policy #{i}", this=arn)
                    for i, raw in enumerate(statements)
                ]
        return keys

    def key_policy(self, resource: str) -> list[Statement] | None:
        return self._keys.get(resource) if resource.startswith("arn:aws:kms:") else None

    def implicit_requests(self, request: IamRequest) -> list[IamRequest]:
        """What AWS asks of the caller on its own: KMS for a table, topic, queue or bucket under
        a customer key — on the caller's behalf, through the service (``kms:ViaService``)."""
        service = request.action.split(":")[0]
        resource = self.resolve.owner_of(_bucket_of(request.resource) or request.resource)
        if resource is None:
            return []
        kind, properties = resource["Type"], resource.get("Properties", {})
        # An S3 ARN names no region: the bucket is the deployment's, in its region.
        region = request.resource.split(":")[3] or self.deployment.region
        via = {"kms:viaservice": (f"{service}.{region}.amazonaws.com",)}
        if service == "dynamodb" and kind == "AWS::DynamoDB::Table":
            table_key = properties.get("SSESpecification", {}).get("KMSMasterKeyId")
            if not table_key:
                return []
            # DynamoDB opens the table's key with the caller's kms:Decrypt (it caches the
            # table key a few minutes, but the caller must be allowed every time).
            return [IamRequest("kms:Decrypt", self._key_arn(table_key, request), via)]
        key_actions = {
            ("sns:Publish", "AWS::SNS::Topic"): ("kms:GenerateDataKey", "kms:Decrypt"),
            ("sqs:SendMessage", "AWS::SQS::Queue"): ("kms:GenerateDataKey", "kms:Decrypt"),
            ("sqs:ReceiveMessage", "AWS::SQS::Queue"): ("kms:Decrypt",),
            # SSE-KMS: S3 asks for a data key to write an object and decrypts it to read one.
            ("s3:PutObject", "AWS::S3::Bucket"): ("kms:GenerateDataKey",),
            ("s3:GetObject", "AWS::S3::Bucket"): ("kms:Decrypt",),
        }.get((request.action, kind), ())
        key = properties.get("KmsMasterKeyId") if kind != "AWS::S3::Bucket" else _bucket_key(properties)
        if not key_actions or key is None:
            return []
        key_arn = self._key_arn(key, request)
        if _AWS_MANAGED_KEY.search(key_arn):
            return []
        return [IamRequest(action, key_arn, via) for action in key_actions]

    def _key_arn(self, key: Any, request: IamRequest) -> str:
        key_arn = self.resolve(key)
        if not _AWS_MANAGED_KEY.search(key_arn) and ":key/" not in key_arn:
            raise PolicyError(f"{request.resource} is encrypted with {key_arn}: name the key by its ARN")
        return str(key_arn)

    def name_of(self, resource: str) -> str:
        """The template's name for a concrete resource ARN, for messages."""
        owner = self.resolve.owner_id(_bucket_of(resource) or resource)
        if owner is None:
            return "not a resource of the stack"
        return f"the stack's {_readable(owner)}"


# --- resolution ---------------------------------------------------------------------------


class _Resolver:
    """Resolves intrinsics; bound to a Deployment, or symbolic (``${Table.Arn}``) for reports."""

    def __init__(self, template: StackTemplate | None, deployment: Deployment | None) -> None:
        self._template = template
        self._deployment = deployment
        self._owners: dict[str, str] = {}  # concrete ARN -> logical id

    def __call__(self, value: Any) -> str:
        resolved = self.value(value)
        if not isinstance(resolved, str):
            raise PolicyError(f"expected a string, got {resolved!r}")
        return resolved

    def value(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, str):
            return self._literal(value)
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (name, argument), *_ = value.items()
            if name == "Ref":
                return self.ref(argument)
            if name == "Fn::GetAtt":
                logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self.attribute(logical_id, attribute)
            if name == "Fn::Join":
                separator, parts = argument
                return str(separator).join(str(self.value(p)) for p in parts)
            if name == "Fn::Sub":
                return self._sub(argument)
            if name == "Fn::Select":
                index, items = argument
                return self.value(items)[int(index)]
            if name == "Fn::Split":
                separator, text = argument
                return str(self.value(text)).split(separator)
            if name.startswith("Fn::") or name == "Condition":
                raise PolicyError(f"intrinsic {name} is not supported")
        return {k: self.value(v) for k, v in value.items()}

    def ref(self, logical_id: str) -> str:
        if logical_id in PSEUDO_PARAMETERS:
            return self._pseudo(logical_id)
        return self._named(logical_id, "Ref")

    def attribute(self, logical_id: str, attribute: str) -> str:
        return self._named(logical_id, attribute)

    def owner_id(self, resource: str) -> str | None:
        self._index()
        return self._owners.get(resource)

    def owner_of(self, resource: str) -> Mapping[str, Any] | None:
        owner = self.owner_id(resource)
        return self._template.resources[owner] if owner and self._template else None

    def _index(self) -> None:
        if self._owners or self._template is None:
            return
        for logical_id in self._template.resources:
            for attribute in ("Ref", "Arn", "StreamArn"):
                try:
                    self._owners.setdefault(self._named(logical_id, attribute), logical_id)
                except (PolicyError, KeyError):
                    continue  # a resource without that attribute

    def _pseudo(self, name: str) -> str:
        if self._deployment is None:
            return f"${{{name}}}"
        return {
            "AWS::Partition": "aws",
            "AWS::Region": self._deployment.region,
            "AWS::AccountId": self._deployment.account,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "Cartwatch",
        }[name]

    def _named(self, logical_id: str, attribute: str) -> str:
        if self._deployment is None or self._template is None:
            shown = _readable(logical_id)
            return f"${{{shown}}}" if attribute == "Ref" else f"${{{shown}.{attribute}}}"
        resource = self._template.resources.get(logical_id)
        if resource is None:
            raise PolicyError(f"the template has no resource {logical_id}")
        deployment, kind = self._deployment, resource["Type"]
        region, account = deployment.region, deployment.account
        bound = self._template.bound_by.get(logical_id)
        name = getattr(deployment, bound) if bound else None
        if kind == "AWS::DynamoDB::Table":
            table = name or logical_id
            arn = f"arn:aws:dynamodb:{region}:{account}:table/{table}"
            stream = deployment.stream_arn if name else f"{arn}/stream/unbound"
            return {"Ref": table, "Arn": arn, "StreamArn": stream}[attribute]
        if kind == "AWS::SQS::Queue":
            url = name or f"https://sqs.{region}.amazonaws.com/{account}/{logical_id}"
            arn = queue_arn(url, Where(region, account))
            return {"Ref": url, "QueueUrl": url, "Arn": arn, "QueueName": arn.rsplit(":", 1)[1]}[attribute]
        if kind == "AWS::SNS::Topic":
            arn = name or f"arn:aws:sns:{region}:{account}:{logical_id}"
            return {"Ref": arn, "TopicArn": arn, "TopicName": arn.rsplit(":", 1)[1]}[attribute]
        if kind == "AWS::S3::Bucket":
            # Bucket names are global and lower case: an unbound bucket gets one no call names.
            bucket = name or f"unbound-{logical_id.lower()}"
            return {"Ref": bucket, "Arn": bucket_arn(bucket)}[attribute]
        arns = {
            "AWS::KMS::Key": f"arn:aws:kms:{region}:{account}:key/{logical_id}",
            "AWS::IAM::Role": f"arn:aws:iam::{account}:role/{logical_id}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{region}:{account}:log-group:{logical_id}:*",
            "AWS::Lambda::Function": f"arn:aws:lambda:{region}:{account}:function:{logical_id}",
        }
        if attribute == "Ref":
            return logical_id
        if attribute == "Arn" and kind in arns:
            return arns[kind]
        raise PolicyError(f"{logical_id} ({kind}): attribute {attribute} is not modelled")

    def _literal(self, text: str) -> str:
        # The deployment's SSM prefix, spelled out in parameter ARNs, is the environment's.
        if self._deployment is None or self._template is None:
            return text
        deployed = self._template.deployed_ssm_prefix
        if deployed is None:
            return text
        old = f":parameter/{deployed.strip('/')}/"
        new = f":parameter/{self._deployment.ssm_prefix.strip('/')}/"
        return text.replace(old, new, 1) if ":ssm:" in text or text.startswith(":parameter/") else text

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        text = self._literal(text)

        def replace(match: re.Match[str]) -> str:
            name = match[1]
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(self.value(variables[name]))
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return self.attribute(logical_id, attribute)
            return self.ref(name)

        return re.sub(r"\$\{([^}]+)\}", replace, text)


_SYMBOLS = _Resolver(None, None)


def _readable(logical_id: str) -> str:
    # CDK appends an 8-hex-digit hash of the construct path; the rest reads like the path.
    return re.sub(r"[0-9A-F]{8}$", "", logical_id) if len(logical_id) > 8 else logical_id


def _bucket_of(resource: str) -> str | None:
    """``arn:aws:s3:::bucket`` for an object's ARN (``arn:aws:s3:::bucket/key``)."""
    if not resource.startswith("arn:aws:s3:::") or "/" not in resource:
        return None
    return resource.split("/", 1)[0]


def _bucket_key(properties: Mapping[str, Any]) -> Any:
    """The customer key a bucket encrypts new objects with by default (None: SSE-S3)."""
    rules = _dig(properties, ("BucketEncryption", "ServerSideEncryptionConfiguration")) or []
    for rule in rules:
        default = rule.get("ServerSideEncryptionByDefault", {})
        if default.get("SSEAlgorithm") in {"aws:kms", "aws:kms:dsse"}:
            # Without a key named, S3 uses its AWS managed key (aws/s3): no grant of the caller.
            return default.get("KMSMasterKeyID", "alias/aws/s3")
    return None


def _dig(value: Any, path: Sequence[str]) -> Any:
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _ref(value: Any, where: str) -> str:
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    raise PolicyError(f"{where}: expected a Ref, got {value!r}")


def _role_policies(resources: Mapping[str, Any], role: str, *, with_ids: bool = False) -> Iterator[Any]:
    for logical_id, resource in resources.items():
        properties = resource.get("Properties", {})
        if resource["Type"] in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"} and {
            "Ref": role
        } in properties.get("Roles", []):
            yield (logical_id, properties["PolicyDocument"]) if with_ids else properties["PolicyDocument"]
    for index, inline in enumerate(resources[role]["Properties"].get("Policies", [])):
        yield (f"{role} inline #{index}", inline["PolicyDocument"]) if with_ids else inline["PolicyDocument"]


def _statements(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    statements = document["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _strings(value: Any, resolve: Callable[[Any], Any]) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    out = []
    for item in values:
        resolved = resolve(item)
        out += [str(x) for x in resolved] if isinstance(resolved, list) else [str(resolved)]
    return tuple(out)


def _condition_value(value: Any, resolve: _Resolver) -> str:
    """A condition's value; an intrinsic one (``dynamodb.${AWS::Region}.amazonaws.com``) resolved
    as resources are, where it can be (one on a resource this module does not model, e.g. an
    event rule's ARN, stays as written: it matches no request)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        try:
            return str(resolve.value(value))
        except PolicyError:
            return str(value)
    return str(value)


def _statement(
    raw: Mapping[str, Any], resolve: _Resolver, origin: str, *, this: str | None = None
) -> Statement:
    if "NotPrincipal" in raw:
        raise PolicyError(f"{origin}: NotPrincipal is not supported")
    principals: tuple[str, ...] | None = None
    if "Principal" in raw:
        principal = raw["Principal"]
        if principal == "*":
            principals = ("*",)
        else:
            principals = _strings(principal.get("AWS", []), resolve.value) + tuple(
                f"service:{s}" for s in _strings(principal.get("Service", []), resolve.value)
            )
    conditions = {
        operator: {
            key: tuple(_condition_value(v, resolve) for v in _listed(values)) for key, values in block.items()
        }
        for operator, block in raw.get("Condition", {}).items()
    }

    def resources(key: str) -> tuple[str, ...] | None:
        if key not in raw:
            return None
        found = _strings(raw[key], resolve.value)
        return tuple(this if this and r == "*" else r for r in found)

    actions = _strings(raw["Action"], resolve.value) if "Action" in raw else ()
    not_actions = _strings(raw["NotAction"], resolve.value) if "NotAction" in raw else None
    shown_key = "Resource" if "Resource" in raw else "NotResource"
    return Statement(
        effect=raw["Effect"],
        actions=actions,
        not_actions=not_actions,
        resources=resources("Resource") or (),
        not_resources=resources("NotResource"),
        principals=principals,
        conditions=conditions,
        origin=origin,
        shown_resources=_strings(raw.get(shown_key, []), _SYMBOLS.value),
    )


def _listed(values: Any) -> list[Any]:
    return values if isinstance(values, list) else [values]
