"""Recorded calls against the template: violations, and the grants the calls exercised."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cartwatch_tools.iam.calls import IamRequest
from cartwatch_tools.iam.policy import Decision, PolicyError, Statement, decide
from cartwatch_tools.iam.recording import Deployment, RecordedCall
from cartwatch_tools.iam.template import BoundStack, Grant, StackTemplate


@dataclass(frozen=True)
class Violation:
    function: str | None
    call: str
    problem: str

    def __str__(self) -> str:
        who = self.function or "function code outside any function"
        return f"{who}: {self.call}\n    {self.problem}"


class ConformanceCheck:
    def __init__(self, template: StackTemplate) -> None:
        self.template = template
        self._decisions: dict[tuple[str, Deployment, str, str, str], tuple[str, frozenset[Grant]]] = {}

    def check(self, calls: Iterable[RecordedCall]) -> tuple[list[Violation], set[Grant]]:
        """Violations (in call order, each distinct one once) and the grants that allowed the rest."""
        violations: dict[Violation, None] = {}
        exercised: set[Grant] = set()
        for call in calls:
            if call.problem or call.function is None or call.deployment is None:
                violations[Violation(call.function, call.call, call.problem)] = None
                continue
            if call.function not in self.template.functions:
                problem = (
                    f"the template has no function with handler cartwatch.handlers.{call.function}.handler"
                )
                violations[Violation(call.function, call.call, problem)] = None
                continue
            for request in call.requests:
                problem, grants = self._judge(call.function, call.deployment, request)
                exercised |= grants
                if problem:
                    violations[Violation(call.function, call.call, problem)] = None
        return list(violations), exercised

    def _judge(
        self, function: str, deployment: Deployment, request: IamRequest
    ) -> tuple[str, frozenset[Grant]]:
        context = repr(sorted(request.context.items()))
        key = (function, deployment, request.action, request.resource, context)
        known = self._decisions.get(key)
        if known is None:
            known = self._decisions[key] = self._evaluate(function, self.template.bind(deployment), request)
        return known

    def _evaluate(
        self, function: str, stack: BoundStack, request: IamRequest
    ) -> tuple[str, frozenset[Grant]]:
        try:
            requests = [request, *stack.implicit_requests(request)]
            problems, grants = [], set()
            for needed in requests:
                decision = decide(
                    needed,
                    stack.principal(function),
                    stack.identity(function),
                    stack.resource_policy(needed.resource),
                    stack.key_policy(needed.resource),
                )
                grants |= _grants(function, needed, decision)
                if not decision.allowed:
                    problems.append(
                        self._explain(function, stack, needed, decision, implied=needed is not request)
                    )
        except PolicyError as error:
            return f"cannot be judged: {error}", frozenset()
        return "\n    ".join(problems), frozenset(grants)

    def _explain(
        self, function: str, stack: BoundStack, request: IamRequest, decision: Decision, *, implied: bool
    ) -> str:
        role = self.template.functions[function].role_id
        why = "AWS adds it to that call: " if implied else ""
        text = (
            f"missing grant: {why}{request.action} on {request.resource} ({stack.name_of(request.resource)})"
            f" — {decision.reason} (role {role})"
        )
        if decision.denied_by:
            text += "; denied by " + ", ".join(s.origin for s in decision.denied_by)
        service = request.action.split(":")[0] + ":"
        identity = [s for s in stack.identity(function) if s.effect == "Allow"]
        conditional = [s for s in identity if s.covers(request) and s.conditions]
        for statement in conditional:
            text += f"; {statement.origin} allows it only when {dict(statement.conditions)}"
        others = sorted(
            {
                a
                for s in identity
                if s.resource_pattern(request.resource) not in (None, "*")
                for a in s.actions
                if a.startswith(service)
            }
        )
        if others:
            text += f"; on that resource the role may {', '.join(others)}"
        if request.context:
            text += f"; request context {dict(request.context)}"
        return text


def _grants(function: str, request: IamRequest, decision: Decision) -> set[Grant]:
    found = set()
    for statement in decision.allowed_by:
        if statement.principals is not None:
            continue  # a resource or key policy, not the role's grant
        action = statement.action_pattern(request.action)
        resource = _shown(statement, request.resource)
        if action is not None and resource is not None:
            found.add(Grant(function, action if statement.not_actions is None else "NotAction", resource))
    return found


def _shown(statement: Statement, resource: str) -> str | None:
    if statement.not_resources is not None:
        return statement.shown_resources[0] if statement.shown_resources else None
    for pattern, shown in zip(statement.resources, statement.shown_resources, strict=True):
        if statement.resource_pattern(resource) == pattern:
            return shown
    return None
