"""Autonomy controls through the whole lifecycle: the kill switch, shadow mode, per-service
autonomy grants and one remediation per target, on the simulated platform."""

from __future__ import annotations

from pathlib import Path

import pytest

from arf.core.clock import ManualClock
from arf.core.errors import AuthError, InputError
from arf.core.records import Autonomy, IncidentState, Outcome, Route
from arf.governance.service_catalog import ServiceCatalog
from arf.oversight.identities import Identity
from arf.runtime.audit import verify_ledger
from arf.runtime.container import Runtime, packaged_service_catalog
from arf.runtime.demo import DemoDriver
from arf.runtime.governance_ops import ControlChange, change_controls, get_controls
from arf.sim.faults import bad_deploy
from tests.conftest import START, make_runtime

OPERATOR = Identity("olga", frozenset({"sre"}))
VIEWER = Identity("vic", frozenset({"viewer"}))


def setup(tmp_path: Path) -> tuple[Runtime, DemoDriver]:
    runtime = make_runtime(tmp_path / "home", ManualClock(START))
    return runtime, DemoDriver(runtime, lambda _line: None)


def ticks(driver: DemoDriver, count: int) -> None:
    for _ in range(count):
        driver.tick()


def only_incident(runtime: Runtime) -> tuple[IncidentState, Outcome, str]:
    with runtime.store.unit_of_work() as uow:
        (incident,) = uow.list_incidents()
    return incident.state, incident.outcome, incident.incident_id


def versions(runtime: Runtime, service: str) -> str:
    state = runtime.platform.describe(service)
    assert state is not None
    return str(state["version"])


def test_the_kill_switch_holds_an_approved_plan_until_released(tmp_path: Path) -> None:
    runtime, driver = setup(tmp_path)
    change_controls(runtime, VIEWER, ControlChange(stop=True, reason="incident review"))
    bad_deploy(runtime.platform, "checkout", "1.5.0")
    ticks(driver, 30)
    state, _, incident_id = only_incident(runtime)
    assert state is IncidentState.READY  # decided autonomous, but nothing executes
    assert versions(runtime, "checkout") == "1.5.0"
    with pytest.raises(AuthError, match="may stop execution but not resume"):
        change_controls(runtime, VIEWER, ControlChange(stop=False, reason="done"))
    change_controls(runtime, OPERATOR, ControlChange(stop=False, reason="review finished"))
    ticks(driver, 30)
    state, outcome, _ = only_incident(runtime)
    assert (state, outcome) == (IncidentState.RESOLVED, Outcome.RESOLVED)
    assert versions(runtime, "checkout") != "1.5.0"
    with runtime.store.unit_of_work() as uow:
        kinds = [e.kind for e in uow.iter_ledger()]
    assert kinds.count("controls.changed") == 2
    assert verify_ledger(runtime).ok
    with runtime.store.unit_of_work() as uow:
        steps = [e for e in uow.ledger_for_incident(incident_id) if e.kind == "execution.step"]
    assert steps  # it ran, after the release


def test_a_per_service_kill_switch_stops_only_that_service(tmp_path: Path) -> None:
    runtime, driver = setup(tmp_path)
    change_controls(
        runtime, OPERATOR, ControlChange(stop=True, service="payments", reason="migration")
    )
    assert get_controls(runtime).stopped_services == ("payments",)
    bad_deploy(runtime.platform, "checkout", "1.5.0")
    ticks(driver, 40)
    state, _, _ = only_incident(runtime)
    assert state is IncidentState.RESOLVED  # checkout is not payments
    with pytest.raises(InputError, match="no service"):
        change_controls(runtime, OPERATOR, ControlChange(stop=True, service="nope", reason="x"))
    with pytest.raises(InputError, match="reason"):
        change_controls(runtime, OPERATOR, ControlChange(stop=True, reason=" "))


def test_shadow_mode_decides_records_and_executes_nothing(tmp_path: Path) -> None:
    runtime, driver = setup(tmp_path)
    change_controls(runtime, OPERATOR, ControlChange(shadow=True, reason="first week"))
    bad_deploy(runtime.platform, "checkout", "1.5.0")
    ticks(driver, 40)
    state, outcome, incident_id = only_incident(runtime)
    assert (state, outcome) == (IncidentState.CLOSED, Outcome.SHADOWED)
    assert versions(runtime, "checkout") == "1.5.0"  # nothing ran
    with runtime.store.unit_of_work() as uow:
        decision = uow.latest_decision(incident_id)
        executions = uow.executions_for(incident_id)
        shadow = [
            e for e in uow.ledger_for_incident(incident_id) if e.kind == "shadow.would_execute"
        ]
    assert decision is not None and decision.shadow and decision.route is Route.AUTONOMOUS
    assert executions == []
    assert len(shadow) == 1 and shadow[0].payload["steps"]


def catalog_with(service: str, **update: object) -> ServiceCatalog:
    """The packaged catalog with some fields of one service changed."""
    services = [
        s.model_copy(update=update) if s.name == service else s
        for s in packaged_service_catalog().services()
    ]
    return ServiceCatalog(services)


def test_a_service_granted_acknowledgement_waits_for_a_person(tmp_path: Path) -> None:
    runtime, driver = setup(tmp_path)
    runtime.services = catalog_with("checkout", autonomy=Autonomy.ACKNOWLEDGE)
    bad_deploy(runtime.platform, "checkout", "1.5.0")
    ticks(driver, 30)
    state, _, incident_id = only_incident(runtime)
    assert state is IncidentState.AWAITING_HUMAN
    with runtime.store.unit_of_work() as uow:
        decision = uow.latest_decision(incident_id)
    assert decision is not None and decision.route is Route.ACKNOWLEDGE
    assert "team-payments" in decision.required_roles  # the owning team
    assert "autonomy-grant" in {m.rule_id for m in decision.matched_rules}
    assert versions(runtime, "checkout") == "1.5.0"


def test_a_service_in_shadow_autonomy_is_only_recorded(tmp_path: Path) -> None:
    runtime, driver = setup(tmp_path)
    runtime.services = catalog_with("checkout", autonomy=Autonomy.SHADOW)
    bad_deploy(runtime.platform, "checkout", "1.5.0")
    ticks(driver, 40)
    _, outcome, _ = only_incident(runtime)
    assert outcome is Outcome.SHADOWED
    assert versions(runtime, "checkout") == "1.5.0"


def test_the_person_who_requested_a_remediation_cannot_approve_it(tmp_path: Path) -> None:
    from arf.core.records import Verdict
    from arf.runtime import operations
    from arf.sim.faults import datastore_disk_failure

    runtime, driver = setup(tmp_path)
    rita = Identity("rita", frozenset({"approver"}))
    amir = Identity("amir", frozenset({"approver"}))
    datastore_disk_failure(runtime.platform, "orders-db")
    report = operations.request_remediation(runtime, rita, "orders-db", "writes are failing")
    (incident_id,) = report.opened
    ticks(driver, 30)
    state, _, _ = only_incident(runtime)
    assert state is IncidentState.AWAITING_HUMAN  # an irreversible failover needs approval
    with runtime.store.unit_of_work() as uow:
        assert uow.get_incident(incident_id).requested_by == "rita"
    with pytest.raises(AuthError, match="requested this remediation"):
        operations.answer(runtime, incident_id, rita, Verdict.APPROVE)
    result = operations.answer(runtime, incident_id, amir, Verdict.APPROVE)
    assert result.incident.state in (IncidentState.VERIFYING, IncidentState.RESOLVED)
    with runtime.store.unit_of_work() as uow:
        refused = [e for e in uow.ledger_for_incident(incident_id) if e.kind == "approval.refused"]
    assert len(refused) == 1 and refused[0].payload["identity"] == "rita"
    with pytest.raises(InputError, match="no service"):
        operations.request_remediation(runtime, rita, "nope", "x")


def test_catalog_freeze_windows_budgets_and_action_grants_reach_the_policy(tmp_path: Path) -> None:
    from datetime import timedelta

    from arf.core.records import FreezeWindow

    runtime, driver = setup(tmp_path)
    window = FreezeWindow(start=START, end=START + timedelta(days=1), reason="quarter close")
    runtime.services = catalog_with(
        "checkout",
        freeze_windows=(window,),
        error_budget_remaining=0.0,
        autonomy_by_action={"rollback_deploy": Autonomy.ACKNOWLEDGE},
    )
    bad_deploy(runtime.platform, "checkout", "1.5.0")
    ticks(driver, 30)
    _, _, incident_id = only_incident(runtime)
    with runtime.store.unit_of_work() as uow:
        decision = uow.latest_decision(incident_id)
    assert decision is not None and decision.route is Route.APPROVE
    rules = {m.rule_id for m in decision.matched_rules}
    assert {"change-freeze", "error-budget-exhausted-acknowledge", "autonomy-grant"} <= rules
    steps = decision.policy_input["steps"]
    assert isinstance(steps, list) and isinstance(steps[0], dict)
    target = steps[0]["target"]
    assert isinstance(target, dict)
    assert target["frozen"] is True and target["autonomy"] == "acknowledge"
    factors = {f.name: f.value for f in decision.risk_factors}
    assert factors["error_budget"] == 1.0
