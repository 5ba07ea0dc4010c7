"""A ledger that cannot be written stops the lifecycle: no effect without its record. The
failure is one incident's fault (recorded, retried), and a person takes over if it lasts."""

from __future__ import annotations

from pathlib import Path

import pytest

from arf.core.clock import ManualClock
from arf.core.records import IncidentState, LedgerEntry
from arf.runtime.container import Runtime
from arf.runtime.demo import DemoDriver
from arf.runtime.faults import KIND as FAULT_KIND
from arf.sim.faults import bad_deploy
from arf.store.sql import SqlUnitOfWork
from tests.conftest import START, make_runtime

ORIGINAL = SqlUnitOfWork.put_ledger_entry


def _failing(self: SqlUnitOfWork, entry: LedgerEntry) -> None:
    if entry.kind == "execution.step":
        raise OSError("disk full")
    ORIGINAL(self, entry)


def _faults(runtime: Runtime) -> list[LedgerEntry]:
    with runtime.store.unit_of_work() as uow:
        return [
            entry
            for incident in uow.list_incidents()
            for entry in uow.ledger_for_incident(incident.incident_id)
            if entry.kind == FAULT_KIND
        ]


def _until_first_fault(runtime: Runtime, driver: DemoDriver) -> None:
    for _ in range(40):
        driver.tick()  # never raises: the error is the incident's, not the loop's
        if _faults(runtime):
            return
    raise AssertionError("the ledger failure was never recorded as a fault")


def _nothing_applied(runtime: Runtime, history: list[str]) -> IncidentState:
    assert runtime.platform.state.services["checkout"].release_history == history
    assert runtime.platform.state.applied == {}
    with runtime.store.unit_of_work() as uow:
        (incident,) = uow.list_incidents()
        assert uow.executions_for(incident.incident_id) == []  # rolled back with the entry
    return incident.state


def _failing_ledger_at_execution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Runtime, DemoDriver, list[str]]:
    """A bad deploy, and a ledger that refuses execution records: run to the first fault."""
    runtime = make_runtime(tmp_path, ManualClock(START))
    driver = DemoDriver(runtime, lambda _line: None)
    bad_deploy(runtime.platform, "checkout", "1.5.0")
    history = list(runtime.platform.state.services["checkout"].release_history)
    monkeypatch.setattr(SqlUnitOfWork, "put_ledger_entry", _failing)
    _until_first_fault(runtime, driver)
    return runtime, driver, history


def test_a_ledger_write_failure_before_an_effect_prevents_the_effect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime, driver, history = _failing_ledger_at_execution(tmp_path, monkeypatch)
    driver.tick()
    assert _nothing_applied(runtime, history) is IncidentState.EXECUTING
    faults = _faults(runtime)
    assert [f.payload["fault"] for f in faults] == [1, 2]
    assert faults[0].payload["state"] == "executing"
    assert faults[0].payload["error"] == "OSError: disk full"

    monkeypatch.setattr(SqlUnitOfWork, "put_ledger_entry", ORIGINAL)  # the disk is back
    for _ in range(10):
        driver.tick()
    with runtime.store.unit_of_work() as uow:
        (incident,) = uow.list_incidents()
    assert incident.state is IncidentState.RESOLVED
    runtime.store.close()


def test_a_ledger_that_stays_unwritable_gives_the_incident_to_a_person(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime, driver, history = _failing_ledger_at_execution(tmp_path, monkeypatch)
    for _ in range(10):
        driver.tick()
    assert _nothing_applied(runtime, history) is IncidentState.ESCALATED
    assert [f.payload["fault"] for f in _faults(runtime)] == [1, 2, 3]
    with runtime.store.unit_of_work() as uow:
        (incident,) = uow.list_incidents()
    assert "3 errors in state executing" in incident.outcome_reason
    assert "nothing was changed" in incident.outcome_reason
    runtime.store.close()
