"""The "An action that calls a service" tutorial (docs/actions.md) from a temporary home: a
team's action with an HTTP step, dropped into actions.d, is offered to reasoning for a flag
flip no packaged action undoes, governed, sent over real HTTP to the simulator's flag
service with its secret and idempotency key, verified and audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arf.core.clock import ManualClock
from arf.core.records import IncidentState, StepKind, StepStatus
from arf.runtime.audit import verify_ledger
from arf.runtime.container import Runtime
from arf.runtime.demo import DemoDriver
from arf.sim.faults import feature_flag_on
from arf.sim.flag_service import FlagService
from tests.conftest import REPO, make_runtime
from tests.integration.conftest import free_port
from tests.integration.test_cli import arf, assert_one_line_error

EXAMPLE = REPO / "docs" / "examples" / "actions" / "switch_off_flag.yaml"
TOKEN = "flags-api-token-4f1c"


def _install(home: Path, base_url: str) -> None:
    (home / "actions.d").mkdir(parents=True, exist_ok=True)
    text = EXAMPLE.read_text().replace("http://127.0.0.1:8013", base_url)
    (home / "actions.d" / EXAMPLE.name).write_text(text)


def _served(home: Path, clock: ManualClock) -> tuple[Runtime, FlagService]:
    """The runtime with the example installed, and the flag service of its simulated world
    listening where the example's URL points."""
    port = free_port()
    _install(home, f"http://127.0.0.1:{port}")
    runtime = make_runtime(home, clock)
    service = FlagService(runtime.platform, token=TOKEN)
    service.start(port=port)
    return runtime, service


def _run(runtime: Runtime, ticks: int = 60) -> str:
    driver = DemoDriver(runtime, lambda _line: None)
    feature_flag_on(runtime.platform, "checkout", "recs_v2")
    driver.deliver()
    for _ in range(ticks):
        driver.tick()
        with runtime.store.unit_of_work() as uow:
            incidents = uow.list_incidents()
        if incidents and incidents[0].state is IncidentState.RESOLVED:
            break
    (incident,) = incidents
    return incident.incident_id


def test_a_team_http_action_fixes_a_flag_flip_end_to_end(
    tmp_path: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLAGS_API_TOKEN", TOKEN)
    runtime, service = _served(tmp_path / "home", clock)
    try:
        assert "switch_off_flag" in runtime.specs
        incident_id = _run(runtime)
        with runtime.store.unit_of_work() as uow:
            incident = uow.get_incident(incident_id)
            diagnosis = uow.latest_diagnosis(incident_id)
            executions = uow.executions_for(incident_id)
            entries = uow.ledger_for_incident(incident_id)
        assert diagnosis is not None
        assert "feature_flag" in diagnosis.hypotheses[0].cause
        (step,) = diagnosis.plans[0].steps
        assert (step.action, step.target, step.params) == (
            "switch_off_flag",
            "checkout",
            {"flag": "recs_v2"},
        )
        assert incident.state is IncidentState.RESOLVED, incident.outcome_reason
        forward = [e for e in executions if e.kind is StepKind.FORWARD]
        assert [e.status for e in forward] == [StepStatus.STARTED, StepStatus.SUCCEEDED]
        # the call went over HTTP, authorised by the secret, under the step's idempotency key
        puts = [s for s in service.seen if s.method == "PUT"]
        assert len(puts) == 1 and puts[0].authorized and puts[0].status == 200
        assert puts[0].path == "/api/v1/services/checkout/flags/recs_v2"
        assert puts[0].idempotency_key and puts[0].idempotency_key.endswith("/0")
        assert runtime.platform.state.services["checkout"].flags["recs_v2"] is False
        # audited: the step is in the chain, which verifies, and no secret is in it
        kinds = [e.kind for e in entries]
        assert "execution.step" in kinds and "verification.recorded" in kinds
        ledger = json.dumps([e.model_dump(mode="json") for e in entries])
        assert TOKEN not in ledger and "${secret:flags_token}" in ledger
        assert verify_ledger(runtime).ok
    finally:
        service.stop()
        runtime.close()


def test_without_the_team_action_the_flag_flip_is_escalated(
    tmp_path: Path, clock: ManualClock
) -> None:
    runtime = make_runtime(tmp_path / "home", clock)
    try:
        assert "switch_off_flag" not in runtime.specs
        incident_id = _run(runtime, ticks=30)
        with runtime.store.unit_of_work() as uow:
            incident = uow.get_incident(incident_id)
            executions = uow.executions_for(incident_id)
        assert executions == []  # nothing in the catalog undoes a flag flip: a person decides
        assert incident.state in (IncidentState.ESCALATED, IncidentState.AWAITING_HUMAN)
        assert runtime.platform.state.services["checkout"].flags["recs_v2"] is True
    finally:
        runtime.close()


def test_a_missing_secret_fails_the_step_and_names_only_the_variable(
    tmp_path: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLAGS_API_TOKEN", raising=False)
    runtime, service = _served(tmp_path / "home", clock)
    try:
        incident_id = _run(runtime, ticks=30)
        with runtime.store.unit_of_work() as uow:
            executions = uow.executions_for(incident_id)
        forward = [e for e in executions if e.kind is StepKind.FORWARD]
        assert forward and forward[-1].status is StepStatus.FAILED
        assert "FLAGS_API_TOKEN is not set" in (forward[-1].detail or "")
        assert [s for s in service.seen if s.method == "PUT"] == []  # nothing was sent
    finally:
        service.stop()
        runtime.close()


def test_the_cli_validates_tests_and_lists_the_http_action(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _install(home, "https://flags.internal:8013")  # a secret leaves this host over https only
    cases = EXAMPLE.with_name("switch_off_flag.cases.yaml").read_text()
    (home / "actions.d" / "switch_off_flag.cases.yaml").write_text(
        cases.replace("http://127.0.0.1:8013", "https://flags.internal:8013")
    )
    validated = arf(home, "actions", "validate", str(home / "actions.d"))
    assert validated.returncode == 0 and "ok: 1 action(s) valid" in validated.stdout
    tested = arf(home, "actions", "test", str(home / "actions.d"))
    assert tested.returncode == 0 and "3 passed, 0 failed" in tested.stdout, tested.stdout
    rows = {r["name"]: r for r in json.loads(arf(home, "actions", "list", "--json").stdout)}
    # an HTTP step needs no platform verb: the action runs wherever ARF runs
    assert set(rows["switch_off_flag"]["platforms"].split(", ")) == {
        "hosts (if bound)",
        "kubernetes",
        "sim",
    }
    broken = home / "actions.d" / EXAMPLE.name
    good = broken.read_text()
    for bad, message in (
        (good.replace("/flags/{flag}", "/flags/{flag}?x={flag}", 1), "placeholders may fill"),
        (good.replace("https://", "http://", 1), "a call that sends a secret must use https"),
        (good.replace("/flags/{flag}", "/flags/v{flag}", 1), "'v{flag}': a placeholder must"),
    ):
        broken.write_text(bad)
        assert_one_line_error(
            arf(home, "actions", "validate", str(home / "actions.d")),
            f"{broken}:27: forward.0.http.url: {message}",
        )
