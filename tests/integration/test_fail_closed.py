"""A ledger that cannot be written stops the lifecycle: no effect without its record."""

from __future__ import annotations

from pathlib import Path

import pytest

from arf.core.clock import ManualClock
from arf.core.records import IncidentState, LedgerEntry
from arf.runtime.demo import DemoDriver
from arf.sim.faults import bad_deploy
from arf.store.sql import SqlUnitOfWork
from tests.conftest import START, make_runtime


def test_a_ledger_write_failure_before_an_effect_prevents_the_effect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = make_runtime(tmp_path, ManualClock(START))
    driver = DemoDriver(runtime, lambda _line: None)
    bad_deploy(runtime.platform, "checkout", "1.5.0")
    original = SqlUnitOfWork.put_ledger_entry

    def failing(self: SqlUnitOfWork, entry: LedgerEntry) -> None:
        if entry.kind == "execution.step":
            raise OSError("disk full")
        original(self, entry)

    monkeypatch.setattr(SqlUnitOfWork, "put_ledger_entry", failing)
    history = list(runtime.platform.state.services["checkout"].release_history)
    with pytest.raises(OSError, match="disk full"):
        for _ in range(40):
            driver.tick()
    assert runtime.platform.state.services["checkout"].release_history == history
    assert runtime.platform.state.applied == {}
    with runtime.store.unit_of_work() as uow:
        (incident,) = uow.list_incidents()
        assert uow.executions_for(incident.incident_id) == []  # rolled back with the entry
    assert incident.state is IncidentState.EXECUTING

    monkeypatch.setattr(SqlUnitOfWork, "put_ledger_entry", original)  # the disk is back
    for _ in range(10):
        driver.tick()
    with runtime.store.unit_of_work() as uow:
        assert uow.get_incident(incident.incident_id).state is IncidentState.RESOLVED
    runtime.store.close()
