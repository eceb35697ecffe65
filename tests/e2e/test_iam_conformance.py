"""`cartwatch local` under CARTWATCH_AWS_CALL_LOG: every function's calls, checked against its role."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.e2e.conftest import LocalRun, SandboxStore, stop_local
from tests.e2e.test_local import onboard
from tests.iam_conformance import deployed

from cartwatch_tools.iam.conformance import ConformanceCheck
from cartwatch_tools.iam.recording import read_call_log

pytestmark = pytest.mark.e2e


def test_conformance_cartwatch_local_records_each_function_s_calls(
    local: LocalRun, sandbox_store: SandboxStore, tmp_path: Path
) -> None:
    onboard(local, sandbox_store)
    info = ("--info-file", str(local.info_file))
    shopped = local.cli("simulate", *info, "--carts", "4", "--report-file", str(tmp_path / "report.json"))
    assert shopped.returncode == 0, shopped.stdout + shopped.stderr
    listed = local.cli("carts", "list", sandbox_store.store_hash, "--local", *info)
    output = stop_local(local)
    assert listed.returncode == 0, listed.stderr + output

    calls, _ = read_call_log(local.call_log)
    # (The purge job's poller only reads its queue's attributes: no store was uninstalled.)
    functions = {
        *("receiver", "processor", "sweeper", "publisher", "query_api", "store_purge", "archiver"),
        "figure_tally",  # the stats, from the table's stream
    }
    assert {c.function for c in calls} == functions
    # The operator's `stores add` and the simulator's own reads ran in other processes, unrecorded.
    violations, exercised = ConformanceCheck(deployed()).check(calls)
    assert violations == []
    assert {g.action for g in exercised if g.function == "publisher"} >= {
        "sns:Publish",
        "kms:GenerateDataKey",
    }
