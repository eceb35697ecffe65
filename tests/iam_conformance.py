"""IAM conformance of every test: each AWS call a function makes must be allowed by its role.

moto authorizes everything; AWS does not.  Every call a function makes — through the
clients the composition root built for it (``aws.function``, the local pipeline's functions),
inside ``cartwatch_tools.iam.recording.acting_as(function, ...)`` where a test runs a
function's code on clients of its own, in `cartwatch local` under the e2e tier
(``CARTWATCH_AWS_CALL_LOG``) — is recorded with the IAM requests it needs, and once a test's
teardown is done they are checked against that function's role in the deployed template
(``tests/stack_template.py``).  A call the role would not allow fails the test — an error at
teardown naming the function, the call and the missing grant.  Calls that land between
tests (a background thread) are checked with the next test, or at the end of the session;
nothing recorded goes unchecked.

The other direction: the grants that allowed a call are collected (across pytest-xdist
workers) and, after a run of the whole integration and e2e tiers, every grant nobody
exercised must be one Lambda itself uses (logs, tracing, failure destinations, event source
reads) or listed with its reason in ``docs/architecture.md``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from cartwatch_tools.iam.conformance import ConformanceCheck, Violation
from cartwatch_tools.iam.recording import Deployment, RecordedCall, install, read_call_log
from cartwatch_tools.iam.template import Grant, StackTemplate

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
TIERS = ("tests/integration/", "tests/e2e/")
_TABLE = re.compile(r"<!-- unexercised-grants -->(.*?)<!-- /unexercised-grants -->", re.DOTALL)

_plugin: IamConformance | None = None


class IamConformanceError(AssertionError):
    pass


def check_call_log(path: Path) -> None:
    """Check the calls `cartwatch local` appends to ``path``: from now on, each test's new
    ones at its teardown (a `cartwatch local` a module-scoped fixture runs serves many
    tests), the last ones at the end of the session."""
    assert _plugin is not None, "the IAM conformance plugin is not registered"
    _plugin.call_logs.setdefault(path, 0)


@contextmanager
def recorded_calls(*, checked_at_teardown: bool = True) -> Iterator[list[RecordedCall]]:
    """The calls recorded inside the block.  They are checked at teardown as usual, unless
    the test checks them itself (``checked_at_teardown=False``: a test of the check)."""
    assert _plugin is not None, "the IAM conformance plugin is not registered"
    calls: list[RecordedCall] = []
    listener = (calls, checked_at_teardown)
    _plugin.listeners.append(listener)
    try:
        yield calls
    finally:
        _plugin.listeners.remove(listener)


def an_environment(region: str, ssm_prefix: str, account: str = "123456789012") -> Deployment:
    """An environment's names for the stack's resources (``cw-…``), for tests of the check."""
    queue = f"http://127.0.0.1:5000/{account}/cw"
    return Deployment(
        region=region,
        account=account,
        ssm_prefix=ssm_prefix,
        table_name="cw-table",
        stream_arn=f"arn:aws:dynamodb:{region}:{account}:table/cw-table/stream/2026",
        intake_queue_url=f"{queue}-intake",
        intake_dlq_url=f"{queue}-intake-dlq",
        topic_arn=f"arn:aws:sns:{region}:{account}:cw-events",
        purge_queue_url=f"{queue}-purge",
        purge_dlq_url=f"{queue}-purge-dlq",
        publisher_dlq_url=f"{queue}-publisher-dlq",
        archive_bucket="cw-archive",
        archive_queue_url=f"{queue}-archive",
        archive_dlq_url=f"{queue}-archive-dlq",
        credentials_table_name="cw-credentials",
    )


def deployed() -> StackTemplate:
    assert _plugin is not None, "the IAM conformance plugin is not registered"
    return _plugin.template()


class IamConformance:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.call_logs: dict[Path, int] = {}  # each log watched -> how far it was read
        self.listeners: list[tuple[list[RecordedCall], bool]] = []
        self._pending: list[RecordedCall] = []
        self._lock = threading.Lock()
        self._template: StackTemplate | None = None
        self._check: ConformanceCheck | None = None
        self.exercised: set[Grant] = set()
        self.calls_checked = 0
        self.unchecked: list[str] = []  # violations found after the last test
        self.tier_reports: dict[str, int] = {"passed": 0, "other": 0}
        self.problems: list[str] = []
        self.unexercised: int | None = None  # set once a whole run compared them with the docs
        install(self._record)

    def _record(self, call: RecordedCall) -> None:
        with self._lock:
            for calls, _ in self.listeners:
                calls.append(call)
            if all(checked for _, checked in self.listeners):
                self._pending.append(call)

    def template(self) -> StackTemplate:
        if self._template is None:
            from tests.stack_template import deployed_template

            self._template = StackTemplate(deployed_template())
        return self._template

    def check_pending(self) -> list[Violation]:
        with self._lock:
            calls, self._pending = self._pending, []
        for path, start in self.call_logs.items():
            logged, self.call_logs[path] = read_call_log(path, start)
            calls += logged
        if not calls:
            return []
        if self._check is None:
            self._check = ConformanceCheck(self.template())
        violations, exercised = self._check.check(calls)
        self.exercised |= exercised
        self.calls_checked += len(calls)
        return violations

    # --- per test ---------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None) -> Any:
        try:
            return (yield)
        finally:
            violations = self.check_pending()
            if violations:
                raise IamConformanceError(_report(violations))

    # --- per session ------------------------------------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.nodeid.startswith(TIERS) and (report.when == "call" or report.outcome != "passed"):
            self.tier_reports["passed" if report.outcome == "passed" else "other"] += 1

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """xdist controller: what a worker checked."""
        output = json.loads(node.workeroutput.get("iam_conformance", "{}") or "{}")
        self.exercised |= {Grant(*g) for g in output.get("exercised", [])}
        self.calls_checked += output.get("calls_checked", 0)
        self.unchecked += output.get("unchecked", [])

    @pytest.hookimpl(tryfirst=True)  # before xdist's worker sends its output
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.unchecked += [str(v) for v in self.check_pending()]
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput["iam_conformance"] = json.dumps(
                {
                    "exercised": sorted([g.function, g.action, g.resource] for g in self.exercised),
                    "calls_checked": self.calls_checked,
                    "unchecked": self.unchecked,
                }
            )
            return
        self.problems = self._session_problems()
        if self.problems:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _session_problems(self) -> list[str]:
        problems = [f"IAM conformance, after the last test:\n{v}" for v in self.unchecked]
        if not self._whole_tiers_ran():
            return problems
        template = self.template()
        unexercised = template.grants() - self.exercised
        documented = documented_unexercised()
        self.unexercised = len(unexercised)
        missing, stale = unexercised - documented, documented - unexercised
        for grant in sorted(missing, key=str):
            problems.append(
                f"IAM grant no test exercised: {grant} — remove it from the stack, exercise it in a test, "
                "or list it with the reason it stays in docs/architecture.md (unexercised-grants)"
            )
        for grant in sorted(stale, key=str):
            problems.append(f"docs/architecture.md lists {grant} as unexercised, but a test exercised it")
        if missing or stale:
            problems.append("the table as this run found it:\n" + unexercised_table(template, unexercised))
        return problems

    def _whole_tiers_ran(self) -> bool:
        option = self.config.option
        filtered = (
            getattr(option, "keyword", "")
            or getattr(option, "markexpr", "")
            or getattr(option, "deselect", None)
            or getattr(option, "lf", False)
            or getattr(option, "stepwise", False)
        )
        if filtered or any("::" in str(a) for a in self.config.args):
            return False
        arguments = [Path(str(a)).resolve() for a in self.config.args]
        covered = all(
            any(tier == a or a in tier.parents for a in arguments)
            for tier in (ROOT / "tests" / "integration", ROOT / "tests" / "e2e")
        )
        return covered and self.tier_reports["passed"] > 0 and self.tier_reports["other"] == 0

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if getattr(self.config, "workeroutput", None) is not None or not self.calls_checked:
            return
        write = terminalreporter.write_line
        terminalreporter.section("IAM conformance")
        write(f"{self.calls_checked} AWS calls of Lambda functions checked against their roles")
        for problem in self.problems:
            write(problem, red=True)
        if self.unexercised is not None and not self.problems:
            write(
                f"every grant of every role was exercised by a test, but the {self.unexercised} "
                "listed with their reasons in docs/architecture.md"
            )


def documented_unexercised() -> set[Grant]:
    """The grants ``docs/architecture.md`` lists as exercised by no test (one row per function
    and resource; the actions comma-separated; a reason in the last column)."""
    table = _TABLE.search(ARCHITECTURE.read_text())
    if table is None:
        return set()
    grants = set()
    for line in table[1].strip().splitlines()[2:]:  # after the header and its rule
        function, actions, resource, reason = (c.strip() for c in line.strip().strip("|").split("|"))
        if not reason:
            continue  # a grant without its reason is not documented
        for action in actions.split(","):
            grants.add(Grant(function.strip("`"), action.strip().strip("`"), resource.strip("`")))
    return grants


def unexercised_table(template: StackTemplate, grants: set[Grant]) -> str:
    """``grants`` as the rows of the unexercised-grants table (reasons from the template where
    Lambda itself uses the grant)."""
    reasons = template.lambda_service_grants()
    rows: dict[tuple[str, str, str], list[Grant]] = {}
    for grant in sorted(grants, key=lambda g: (g.function, g.resource, g.action)):
        rows.setdefault((grant.function, grant.resource, reasons.get(grant, "")), []).append(grant)
    lines = ["| function | actions | resource | why it stays |", "|---|---|---|---|"]
    for (function, resource, reason), row in rows.items():
        actions = ", ".join(f"`{g.action}`" for g in row)
        lines.append(f"| `{function}` | {actions} | `{resource}` | {reason} |")
    return "\n".join(lines)


def _report(violations: list[Violation]) -> str:
    lines = [
        f"IAM conformance: {len(violations)} AWS call(s) the function's role in the stack would not allow"
    ]
    lines += [f"  {v}" for v in violations]
    return "\n".join(lines)


def register(config: pytest.Config) -> None:
    global _plugin  # noqa: PLW0603 - one plugin per pytest process
    _plugin = IamConformance(config)
    config.pluginmanager.register(_plugin, "iam_conformance")
