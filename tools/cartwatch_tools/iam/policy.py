"""IAM policy evaluation for one principal in one account, as AWS documents it.

Supported: Allow and Deny; ``Action``/``NotAction`` and ``Resource``/``NotResource`` with the
``*`` and ``?`` wildcards (actions case-insensitive, ARNs matched segment by segment);
``Principal`` in resource policies (``*``, role and account ARNs); the String, Arn, Numeric,
Bool and Null condition operators with ``IfExists`` and the ``ForAllValues``/``ForAnyValue``
set qualifiers, with AWS's rules for a key the request does not carry.  Anything else — a
policy variable, ``NotPrincipal``, a date or IP condition, a condition key this package does
not know how AWS fills — raises :class:`PolicyError` instead of being guessed at.

Same-account evaluation: an explicit Deny anywhere wins; otherwise an Allow in the role's
policies or a resource policy naming the role allows — except KMS, where the key policy must
allow too (directly, or by delegating to the account's IAM policies).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache

from cartwatch_tools.iam.calls import ContextValue, IamRequest

Conditions = Mapping[str, Mapping[str, tuple[str, ...]]]

# Condition keys whose presence this package models exactly; a statement conditioned on any
# other key cannot be judged here.  (Lower case: condition key names are case-insensitive.)
MODELLED_KEYS = frozenset(
    {
        "aws:securetransport",
        "aws:principalarn",
        "aws:principalaccount",
        "aws:requestedregion",
        "dynamodb:leadingkeys",
        "kms:viaservice",
        "s3:prefix",
    }
)


class PolicyError(ValueError):
    """The policy uses something this evaluator cannot judge; extend it rather than guess."""


@dataclass(frozen=True)
class Statement:
    effect: str  # "Allow" or "Deny"
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] | None = None
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] | None = None
    # Resource policies only: "*", or AWS principal ARNs (service principals as "service:<name>").
    principals: tuple[str, ...] | None = None
    conditions: Conditions = field(default_factory=dict)
    # Where it comes from ("<policy logical id> #<n>") and its resources as the template
    # writes them, for reports.
    origin: str = ""
    shown_resources: tuple[str, ...] = ()

    def action_pattern(self, action: str) -> str | None:
        """The pattern of ``Action`` that covers ``action`` (NotAction: the action itself)."""
        if self.not_actions is not None:
            return None if any(_action_like(p, action) for p in self.not_actions) else action
        return next((p for p in self.actions if _action_like(p, action)), None)

    def resource_pattern(self, resource: str) -> str | None:
        if self.not_resources is not None:
            return None if any(arn_like(p, resource) for p in self.not_resources) else resource
        return next((p for p in self.resources if arn_like(p, resource)), None)

    def covers(self, request: IamRequest) -> bool:
        """Action and resource match (conditions and principal not looked at)."""
        return self.action_pattern(request.action) is not None and (
            self.resource_pattern(request.resource) is not None
        )


@dataclass(frozen=True)
class Principal:
    role_arn: str
    account: str

    @property
    def account_root(self) -> str:
        return f"arn:aws:iam::{self.account}:root"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    allowed_by: tuple[Statement, ...] = ()
    denied_by: tuple[Statement, ...] = ()
    reason: str = ""


def decide(
    request: IamRequest,
    principal: Principal,
    identity: Sequence[Statement],
    resource_policy: Sequence[Statement] = (),
    key_policy: Sequence[Statement] | None = None,
) -> Decision:
    """Is ``principal`` (a role) allowed ``request``?  ``key_policy`` only for KMS keys."""
    context = _request_context(request, principal)
    everything = [*identity, *resource_policy, *(key_policy or ())]
    denied = tuple(
        s
        for s in everything
        if s.effect == "Deny" and _applies(s, request, context, principal, naming="denied")
    )
    if denied:
        return Decision(False, denied_by=denied, reason="explicitly denied")
    by_identity = tuple(s for s in identity if s.effect == "Allow" and _applies(s, request, context))
    if key_policy is not None:
        direct = [s for s in key_policy if s.effect == "Allow" and _applies(s, request, context, principal)]
        delegated = [
            s
            for s in key_policy
            if s.effect == "Allow" and _applies(s, request, context, principal, naming="account")
        ]
        if direct or (delegated and by_identity):
            return Decision(True, allowed_by=by_identity or tuple(direct))
        if not delegated:
            return Decision(False, reason="the key policy neither allows the role nor defers to IAM")
        return Decision(False, reason="no statement of the role's policies allows it")
    by_resource = tuple(
        s for s in resource_policy if s.effect == "Allow" and _applies(s, request, context, principal)
    )
    if by_identity or by_resource:
        return Decision(True, allowed_by=by_identity + by_resource)
    return Decision(False, reason="no statement of the role's policies allows it")


def _request_context(request: IamRequest, principal: Principal) -> dict[str, ContextValue]:
    # What AWS puts in every request of a Lambda function: TLS (the SDK's https endpoint),
    # the role, its account and the region in the resource's ARN.
    parts = request.resource.split(":")
    context: dict[str, ContextValue] = {
        "aws:securetransport": ("true",),
        "aws:principalarn": (principal.role_arn,),
        "aws:principalaccount": (principal.account,),
    }
    if len(parts) > 3 and parts[3]:
        context["aws:requestedregion"] = (parts[3],)
    context.update({key.lower(): value for key, value in request.context.items()})
    return context


def _applies(
    statement: Statement,
    request: IamRequest,
    context: Mapping[str, ContextValue],
    principal: Principal | None = None,
    *,
    naming: str = "grantee",
) -> bool:
    """``naming``, for resource policies: how the statement must name the principal —
    ``denied`` (a Deny naming the account binds everyone in it), ``grantee`` (an Allow grants
    by itself only to ``*`` or the role) or ``account`` (an Allow to the account defers to
    the account's IAM policies)."""
    if not statement.covers(request):
        return False
    if statement.principals is not None:
        if principal is None:
            raise PolicyError(f"{statement.origin}: a resource policy needs the calling principal")
        role, account = {"*", principal.role_arn}, {principal.account_root, principal.account}
        wanted = {"denied": role | account, "grantee": role, "account": account}[naming]
        if not set(statement.principals) & wanted:
            return False
    return conditions_hold(statement.conditions, context)


# --- wildcards ----------------------------------------------------------------------------


@cache
def _glob(pattern: str, *, case_sensitive: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL if case_sensitive else re.DOTALL | re.IGNORECASE)


def _action_like(pattern: str, action: str) -> bool:
    return _glob(pattern, case_sensitive=False).fullmatch(action) is not None


def arn_like(pattern: str, arn: str) -> bool:
    """IAM's ARN match: ``*`` alone is everything; otherwise each of the six colon-separated
    parts is matched on its own (the resource part may itself contain colons)."""
    if "${" in pattern:
        raise PolicyError(f"policy variables are not supported: {pattern}")
    if pattern == "*":
        return True
    pattern_parts, arn_parts = pattern.split(":", 5), arn.split(":", 5)
    if len(pattern_parts) != 6 or len(arn_parts) != 6:
        raise PolicyError(f"not an ARN: {pattern if len(pattern_parts) != 6 else arn}")
    return all(
        _glob(p, case_sensitive=True).fullmatch(a) is not None
        for p, a in zip(pattern_parts, arn_parts, strict=True)
    )


# --- conditions ---------------------------------------------------------------------------

_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NumericNotEquals": "NumericEquals",
}


Matcher = Callable[[str, str], bool]

_NUMERIC: dict[str, Callable[[float, float], bool]] = {
    "NumericEquals": operator.eq,
    "NumericLessThan": operator.lt,
    "NumericLessThanEquals": operator.le,
    "NumericGreaterThan": operator.gt,
    "NumericGreaterThanEquals": operator.ge,
}


def _string_like(value: str, pattern: str) -> bool:
    return _glob(pattern, case_sensitive=True).fullmatch(value) is not None


def _matcher(base: str) -> Matcher | None:
    compare = _NUMERIC.get(base)
    if compare is not None:
        return lambda value, pattern: compare(float(value), float(pattern))
    matchers: dict[str, Matcher] = {
        "StringEquals": operator.eq,
        "StringEqualsIgnoreCase": lambda value, pattern: value.lower() == pattern.lower(),
        "StringLike": _string_like,
        "ArnEquals": operator.eq,
        "ArnLike": lambda value, pattern: arn_like(pattern, value),
        "Bool": lambda value, pattern: value.lower() == pattern.lower(),
    }
    return matchers.get(base)


def conditions_hold(conditions: Conditions, context: Mapping[str, ContextValue]) -> bool:
    """Every operator's every key holds (AND); a key's policy values are alternatives (OR)."""
    return all(
        _holds(operator, key, tuple(values), context)
        for operator, block in conditions.items()
        for key, values in block.items()
    )


def _holds(
    operator: str, key: str, policy_values: tuple[str, ...], context: Mapping[str, ContextValue]
) -> bool:
    qualifier, _, base = operator.rpartition(":")
    if qualifier not in {"", "ForAllValues", "ForAnyValue"}:
        raise PolicyError(f"unknown condition qualifier {qualifier!r}")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    name = key.lower()
    if name not in MODELLED_KEYS:
        raise PolicyError(f"condition key {key} is not modelled: cannot tell what AWS would put in it")
    present = name in context
    values = context.get(name)
    if present and values is None:
        raise PolicyError(f"condition key {key}: AWS sets it for this request, but how is not modelled")
    if base == "Null":
        wants_absent = policy_values[0].lower() == "true"
        return (not present or not values) == wants_absent
    negated = base in _NEGATED
    matcher = _matcher(_NEGATED.get(base, base))
    if matcher is None:
        raise PolicyError(f"condition operator {operator} is not supported")

    def one(value: str) -> bool:
        matched = any(matcher(value, pattern) for pattern in policy_values)
        return not matched if negated else matched

    if qualifier == "ForAllValues":
        # True for an absent key or an empty set: the trap AWS documents.
        return all(one(value) for value in values or ())
    if qualifier == "ForAnyValue":
        return any(one(value) for value in values or ())
    if not present:
        return if_exists or negated
    return any(one(value) for value in values or ())
