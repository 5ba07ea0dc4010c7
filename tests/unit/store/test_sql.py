from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from arf.core.errors import ConcurrentUpdateError, NotFoundError
from arf.core.records import Incident, IncidentState
from arf.ledger.chain import append, verify_chain
from arf.store import schema
from arf.store.sql import SqlStore
from arf.testing.fakes import make_incident

AT = datetime(2026, 1, 1, tzinfo=UTC)


def incident(incident_id: str = "INC-1") -> Incident:
    return make_incident(AT, incident_id=incident_id)


def test_wal_mode_and_migrations_are_idempotent(tmp_path: Path) -> None:
    store = SqlStore.sqlite(tmp_path / "a.db")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert schema.current_version(conn) == schema.MIGRATIONS[-1][0]
    store.close()
    again = SqlStore.sqlite(tmp_path / "a.db")  # re-opening applies nothing twice
    with again.engine.connect() as conn:
        rows = conn.execute(text("select count(*) from schema_migrations")).scalar()
        assert rows == len(schema.MIGRATIONS)
    again.close()


def test_a_failed_unit_of_work_leaves_nothing(tmp_path: Path) -> None:
    store = SqlStore.sqlite(tmp_path / "a.db")
    with pytest.raises(RuntimeError), store.unit_of_work() as uow:
        uow.insert_incident(incident())
        append(uow, "incident.opened", "INC-1", {"x": 1}, AT)
        raise RuntimeError("crash before commit")
    with store.unit_of_work() as uow:
        assert uow.find_incident("INC-1") is None
        assert uow.ledger_head() is None
    store.close()


def test_state_and_ledger_commit_together(tmp_path: Path) -> None:
    store = SqlStore.sqlite(tmp_path / "a.db")
    with store.unit_of_work() as uow:
        uow.insert_incident(incident())
        append(uow, "incident.opened", "INC-1", {"x": 1}, AT)
    with store.unit_of_work() as uow:
        assert uow.get_incident("INC-1").state is IncidentState.OPEN
        assert verify_chain(uow.iter_ledger()).entries == 1
    store.close()


def test_optimistic_concurrency_refuses_a_stale_write(tmp_path: Path) -> None:
    store = SqlStore.sqlite(tmp_path / "a.db")
    with store.unit_of_work() as uow:
        uow.insert_incident(incident())
    changed = incident().model_copy(update={"state": IncidentState.CONTEXT_READY, "revision": 1})
    with store.unit_of_work() as uow:
        uow.update_incident(changed, expected_revision=0)
    with pytest.raises(ConcurrentUpdateError), store.unit_of_work() as uow:
        uow.update_incident(changed, expected_revision=0)
    store.close()


def test_unknown_incident_is_a_not_found_error(tmp_path: Path) -> None:
    store = SqlStore.sqlite(tmp_path / "a.db")
    with pytest.raises(NotFoundError, match="INC-404"), store.unit_of_work() as uow:
        uow.get_incident("INC-404")
    store.close()
