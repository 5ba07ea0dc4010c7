"""The "Write a runbook" tutorial (docs/runbooks.md) from a temporary home: a team's runbook
turns a log line no alert names into a governed, executed, verified and audited fix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from arf.core.clock import ManualClock
from arf.core.records import IncidentState
from arf.runtime import operations
from arf.runtime.ingest import Ingestor
from tests.conftest import REPO, make_runtime
from tests.integration.driving import firing_alert
from tests.integration.test_cli import arf, assert_one_line_error

EXAMPLE = REPO / "docs" / "examples" / "knowledge" / "java-heap-exhausted.md"


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    (home / "knowledge.d").mkdir(parents=True)
    shutil.copy(EXAMPLE, home / "knowledge.d" / EXAMPLE.name)
    return home


def test_the_cli_lists_and_lints_a_team_runbook(tmp_path: Path, shared_data: Path) -> None:
    home = _home(tmp_path)
    lint = arf(home, "knowledge", "lint")
    assert lint.returncode == 0 and "ok: 5 runbook(s), no findings" in lint.stdout, lint
    listed = json.loads(arf(home, "knowledge", "list", "--json").stdout)
    assert [r["id"] for r in listed][:2] == ["java-heap-exhausted", "oom-killed"]
    broken = home / "knowledge.d" / "broken.md"
    broken.write_text("---\nid: b\nmatch: {alerts: [X]}\ncategory: nope\n---\n")
    assert_one_line_error(arf(home, "knowledge", "lint"), f"{broken}:4: category:")
    # a broken runbook stops ARF rather than reasoning without it
    firing = str(shared_data / "alertmanager" / "firing.json")
    assert_one_line_error(arf(home, "ingest", firing), f"{broken}:4: category:")


def test_a_log_line_and_a_team_runbook_fix_the_service(tmp_path: Path, clock: ManualClock) -> None:
    runtime = make_runtime(_home(tmp_path), clock)
    try:
        before = runtime.platform.describe("inventory")
        assert before is not None and isinstance(before["memory_limit_mb"], int)
        ingest = Ingestor(runtime)
        ingest.ingest("alertmanager", firing_alert(runtime, "inventory", "HighErrorRate"))
        line = {
            "ts": clock.now().isoformat().replace("+00:00", "Z"),
            "level": "error",
            "service": "inventory",
            "msg": "java.lang.OutOfMemoryError: Java heap space at PriceCache.put",
        }
        ingest.ingest("logs", json.dumps(line) + "\n")
        for _ in range(20):
            clock.advance(30)
            runtime.platform.tick()
            operations.advance(runtime)
        with runtime.store.unit_of_work() as uow:
            (incident,) = uow.list_incidents()
            diagnosis = uow.latest_diagnosis(incident.incident_id)
            kinds = [e.kind for e in uow.ledger_for_incident(incident.incident_id)]
        assert diagnosis is not None
        top = diagnosis.hypotheses[0]
        assert top.cause == "inventory runs out of Java heap under its current memory limit"
        assert len(top.evidence_ids) == 2  # the alert and the log line the runbook matched
        assert incident.state is IncidentState.RESOLVED, incident.state
        after = runtime.platform.describe("inventory")
        assert after is not None
        assert after["memory_limit_mb"] == int(before["memory_limit_mb"] * 1.5)
        assert "execution.step" in kinds and kinds[-2] == "verification.recorded"
    finally:
        runtime.close()
