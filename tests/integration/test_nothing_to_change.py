"""A step whose target already shows what it would leave is not sent (and not rolled back);
a step its preconditions refuse changes nothing and escalates as such, not as a rollback."""

from __future__ import annotations

from pathlib import Path

from arf.core.clock import ManualClock
from arf.core.records import IncidentState, Outcome, StepKind, StepStatus
from arf.runtime.container import Runtime
from arf.runtime.demo import DemoDriver
from arf.sim.faults import config_drift, memory_exhaustion, repair
from tests.conftest import START, make_runtime
from tests.integration.driving import drive_to_ready

S = IncidentState


def _finish(runtime: Runtime, driver: DemoDriver, incident_id: str) -> None:
    for _ in range(40):
        driver.tick()
        with runtime.store.unit_of_work() as uow:
            if uow.get_incident(incident_id).state in (S.RESOLVED, S.ESCALATED):
                return
    raise AssertionError("the incident did not finish")


def test_a_fix_someone_already_made_is_not_sent_again_and_the_incident_resolves(
    tmp_path: Path,
) -> None:
    runtime = make_runtime(tmp_path, ManualClock(START))
    driver = DemoDriver(runtime, lambda _line: None)
    fault = config_drift(runtime.platform, "payments", "db_pool_size", "2")
    incident_id = drive_to_ready(runtime, driver)
    repair(runtime.platform, fault)  # a person reverts it by hand before ARF gets to it
    sent_before = dict(runtime.platform.state.applied)

    _finish(runtime, driver, incident_id)
    with runtime.store.unit_of_work() as uow:
        incident = uow.get_incident(incident_id)
        executions = uow.executions_for(incident_id)
    assert incident.state is S.RESOLVED and incident.outcome is Outcome.RESOLVED
    [forward] = [e for e in executions if e.kind is StepKind.FORWARD]
    assert forward.status is StepStatus.SKIPPED
    assert "nothing sent: payments already shows '20'" in forward.detail
    assert not [e for e in executions if e.kind is StepKind.ROLLBACK]
    assert runtime.platform.state.applied == sent_before  # no operation reached the platform
    runtime.store.close()


def test_a_step_its_preconditions_refuse_changes_nothing_and_escalates_as_such(
    tmp_path: Path,
) -> None:
    """The target changed between the decision and the execution: the step is refused when
    it runs, nothing is sent, and the incident escalates as such (not as a rollback)."""
    runtime = make_runtime(tmp_path, ManualClock(START))
    driver = DemoDriver(runtime, lambda _line: None)
    memory_exhaustion(runtime.platform, "inventory", 8000)
    incident_id = drive_to_ready(runtime, driver)  # decided: double the 512 MiB limit
    runtime.platform.state.services["inventory"].memory_limit_mb = 5000  # someone raised it
    before = runtime.platform.state.services["inventory"].memory_limit_mb

    _finish(runtime, driver, incident_id)
    with runtime.store.unit_of_work() as uow:
        incident = uow.get_incident(incident_id)
        executions = uow.executions_for(incident_id)
    assert incident.state is S.ESCALATED
    assert incident.outcome is Outcome.ESCALATED  # not "rolled back": nothing ran
    assert incident.outcome_reason.startswith("nothing was changed: increase_memory_limit")
    assert "would exceed 8192 MiB" in incident.outcome_reason
    assert [e.status for e in executions] == [StepStatus.FAILED]
    assert runtime.platform.state.services["inventory"].memory_limit_mb == before
    runtime.store.close()


def test_a_plan_its_preconditions_refuse_already_is_never_put_to_anyone(
    tmp_path: Path,
) -> None:
    runtime = make_runtime(tmp_path, ManualClock(START))
    driver = DemoDriver(runtime, lambda _line: None)
    runtime.platform.state.services["inventory"].memory_limit_mb = 5000
    memory_exhaustion(runtime.platform, "inventory", 8000)  # doubling would pass the cap
    for _ in range(30):
        driver.tick()
    with runtime.store.unit_of_work() as uow:
        [incident] = [i for i in uow.list_incidents() if "inventory" in i.services]
        kinds = [e.kind for e in uow.ledger_for_incident(incident.incident_id)]
        executions = uow.executions_for(incident.incident_id)
    assert incident.state is S.ESCALATED
    assert incident.outcome_reason.startswith("no plan can run on its targets as they are now")
    assert "increase_memory_limit on inventory: the new limit would exceed 8192 MiB" in (
        incident.outcome_reason
    )
    assert "decision.recorded" not in kinds and executions == []
    assert runtime.platform.state.services["inventory"].memory_limit_mb == 5000
    runtime.store.close()
