"""The demo set end to end on a file-backed SQLite store, scored against ground truth."""

from __future__ import annotations

from pathlib import Path

import pytest

from arf.core.clock import ManualClock
from arf.core.errors import AuthError
from arf.core.records import IncidentState, Outcome, StepKind, Verdict
from arf.oversight.identities import Identity
from arf.runtime.audit import compliance_of, verify_ledger
from arf.runtime.container import Runtime
from arf.runtime.demo import DemoReport, run_demo
from arf.runtime.metrics import metrics_of
from arf.runtime.operations import answer
from arf.sim.faults import fault_undone
from tests.conftest import make_runtime
from tests.integration.driving import drive_to_ready

APPROVER = Identity("demo-approver", frozenset({"approver"}))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Runtime, DemoReport]:
    from tests.conftest import START

    home = tmp_path_factory.mktemp("demo")
    runtime = make_runtime(home, ManualClock(START))
    report = run_demo(runtime, lambda _line: None)
    return runtime, report


def by_scenario(report: DemoReport) -> dict[str, list[str]]:
    return {r.scenario.name: r.incidents for r in report.results}


def test_every_fault_but_the_gated_one_is_undone_and_verified(
    demo: tuple[Runtime, DemoReport],
) -> None:
    runtime, report = demo
    for result in report.results:
        name = result.scenario.name
        assert len(result.incidents) == 1, f"{name}: one failure, one incident"
        with runtime.store.unit_of_work() as uow:
            incident = uow.get_incident(result.incidents[0])
            verifications = uow.verifications_for(incident.incident_id)
        if result.scenario.needs_human:
            assert incident.state is IncidentState.AWAITING_HUMAN
            assert not result.executed, "the approval-gated plan must not run"
            assert result.faults_undone == [False]
        elif result.scenario.remediate:
            assert incident.state is IncidentState.RESOLVED, name
            assert all(result.faults_undone), f"{name}: fault still present in ground truth"
            assert verifications[-1].verdict.value == "converged"
        else:
            assert incident.outcome is Outcome.NO_ACTION, name
            assert not result.executed, "the no-fault control must stay untouched"


def test_the_expected_actions_were_chosen(demo: tuple[Runtime, DemoReport]) -> None:
    _, report = demo
    for row, result in zip(report.rows, report.results, strict=True):
        expected = result.scenario.expected_action
        if expected is None:
            assert row.plan == "-"
        else:
            chosen = {part.split("(")[0] for part in row.plan.split(" + ")}
            assert chosen == set(expected.split("+")), row.scenario


def test_the_ledger_is_intact_and_every_execution_is_compliant(
    demo: tuple[Runtime, DemoReport],
) -> None:
    runtime, _ = demo
    assert verify_ledger(runtime).ok
    report = compliance_of(runtime)
    assert report.executed == 7 and report.compliant == 7, report.problems
    metrics = metrics_of(runtime)
    assert metrics.false_remediation_rate == 0.0
    assert metrics.compliance_rate == 1.0
    assert metrics.resolved == 7 and metrics.incidents == 9


def test_an_edited_plan_is_refused_after_approval_and_approval_resumes(
    demo: tuple[Runtime, DemoReport],
) -> None:
    runtime, report = demo
    (incident_id,) = report.pending
    with pytest.raises(AuthError, match="plan hash mismatch"):
        answer(runtime, incident_id, APPROVER, Verdict.APPROVE, plan_hash="0" * 64)
    system = Identity("arf-system", frozenset({"approver"}))
    with pytest.raises(AuthError, match="own identity"):
        answer(runtime, incident_id, system, Verdict.APPROVE)
    result = answer(runtime, incident_id, APPROVER, Verdict.APPROVE)
    assert result.incident.state is IncidentState.RESOLVED
    gated = next(r for r in report.results if r.scenario.needs_human)
    faults = [f for f in runtime.platform.state.faults if f.kind == "datastore_disk_failure"]
    assert gated.incidents == [incident_id] and all(
        fault_undone(runtime.platform, f) for f in faults
    )
    with runtime.store.unit_of_work() as uow:
        kinds = [e.kind for e in uow.ledger_for_incident(incident_id)]
        executions = uow.executions_for(incident_id)
    assert "approval.refused" in kinds and "approval.recorded" in kinds
    assert all(e.kind is StepKind.FORWARD for e in executions)
    assert compliance_of(runtime).compliant == 8


def _ledger_rows(runtime: Runtime) -> list[tuple[object, ...]]:
    with runtime.store.engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql("select * from ledger order by seq")]


def _sql(runtime: Runtime, statement: str, *params: object) -> None:
    with runtime.store.engine.begin() as conn:
        conn.exec_driver_sql(statement, params if params else ())


@pytest.mark.parametrize(
    ("statement", "first_bad"),
    [
        (
            "UPDATE ledger SET payload = replace(payload, 'autonomous', 'approve')"
            " WHERE seq = (SELECT min(seq) FROM ledger WHERE kind = 'decision.recorded')",
            "decision",
        ),
        ("DELETE FROM ledger WHERE seq = 5", 6),
        ("UPDATE ledger SET seq = -seq WHERE seq IN (3, 4)", 3),
        ("UPDATE ledger SET at = '2020-01-01T00:00:00+00:00' WHERE seq = 2", 2),
    ],
)
def test_tampering_with_the_database_breaks_verification(
    tmp_path: Path, statement: str, first_bad: int | str
) -> None:
    from arf.sim.faults import demo_scenarios
    from tests.conftest import START

    runtime = make_runtime(tmp_path, ManualClock(START))
    run_demo(runtime, lambda _line: None, demo_scenarios()[:1])
    rows = _ledger_rows(runtime)
    assert verify_ledger(runtime).ok and len(rows) > 10
    if first_bad == "decision":
        first_bad = next(int(str(r[0])) for r in rows if r[3] == "decision.recorded")
    if "seq = -seq" in statement:  # swap entries 3 and 4 by renumbering them
        _sql(runtime, statement)
        _sql(runtime, "UPDATE ledger SET seq = CASE seq WHEN -3 THEN 4 ELSE 3 END WHERE seq < 0")
    else:
        _sql(runtime, statement)
    report = verify_ledger(runtime)
    assert not report.ok and report.first_bad_seq == first_bad, report
    runtime.store.close()


def test_a_plan_edited_in_the_database_after_its_decision_is_refused(tmp_path: Path) -> None:
    from arf.core.records import Diagnosis
    from arf.runtime.demo import DemoDriver
    from arf.sim.faults import bad_deploy
    from tests.conftest import START

    runtime = make_runtime(tmp_path, ManualClock(START))
    driver = DemoDriver(runtime, lambda _line: None)
    bad_deploy(runtime.platform, "checkout", "1.5.0")
    incident_id = drive_to_ready(runtime, driver)  # stop the incident before it executes
    with runtime.store.unit_of_work() as uow:
        assert uow.get_incident(incident_id).state is IncidentState.READY
    # Someone with database access swaps the plan's target version after the decision.
    with runtime.store.engine.connect() as conn:
        record = conn.exec_driver_sql("select record from diagnoses").scalar_one()
    forged = Diagnosis.model_validate_json(record)
    plan = forged.plans[0]
    step = plan.steps[0].model_copy(update={"params": {"to_version": "0.0.1"}})
    forged = forged.model_copy(update={"plans": (plan.model_copy(update={"steps": (step,)}),)})
    _sql(runtime, "update diagnoses set record = ?", forged.model_dump_json())
    driver.orchestrator.run_pending()
    with runtime.store.unit_of_work() as uow:
        incident = uow.get_incident(incident_id)
        kinds = [e.kind for e in uow.ledger_for_incident(incident_id)]
        assert uow.executions_for(incident_id) == []
    assert incident.state is IncidentState.ESCALATED
    assert "changed after its decision" in incident.outcome_reason
    assert "execution.refused" in kinds
    assert runtime.platform.state.services["checkout"].version == "1.5.0"
    runtime.store.close()


def test_every_decision_replays_from_its_ledger_record(demo: tuple[Runtime, DemoReport]) -> None:
    from arf.governance.policy import evaluate

    runtime, _ = demo
    with runtime.store.unit_of_work() as uow:
        records = [e.payload for e in uow.iter_ledger() if e.kind == "decision.recorded"]
    assert len(records) == 8
    for record in records:
        policy_input = record["policy_input"]
        assert isinstance(policy_input, dict) and isinstance(policy_input["steps"], list)
        replayed = evaluate(runtime.policy, policy_input["steps"])  # type: ignore[arg-type]
        recorded = [
            r
            for r in record["matched_rules"]  # type: ignore[union-attr]
            if not str(r).startswith(("risk-threshold", "limit-", "principle-"))
        ]
        assert sorted(f"{m.rule_id}:{m.effect.value}" for m in replayed.matched) == sorted(
            str(r) for r in recorded
        )
        assert str(record["policy_version"]).endswith(runtime.policy.version_hash[:16])


def test_snapshots_carry_similar_past_incidents_with_their_outcomes(
    demo: tuple[Runtime, DemoReport],
) -> None:
    runtime, report = demo
    ids = by_scenario(report)
    with runtime.store.unit_of_work() as uow:
        first = uow.latest_snapshot(ids["bad-deploy"][0])
        compound = uow.latest_snapshot(ids["compound"][0])
    assert first is not None and first.similar_incidents == ()  # nothing came before it
    assert compound is not None
    past = {p.incident_id: p for p in compound.similar_incidents}
    assert ids["bad-deploy"][0] in past and ids["config-drift"][0] in past
    earlier = past[ids["bad-deploy"][0]]
    assert earlier.outcome is Outcome.RESOLVED
    assert earlier.actions == ("rollback_deploy(checkout)",)
    assert compound.token_count <= compound.token_budget
