"""The same schema and code on a real PostgreSQL (127.0.0.1:5432, database `test`).

The demo runs on a fresh database and must produce exactly the ledger SQLite produces: same
entries, same head hash. This checks the store's portability and canonical serialisation.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from arf.core.clock import ManualClock
from arf.core.ids import SequentialIds
from arf.runtime.audit import compliance_of, verify_ledger
from arf.runtime.container import build_runtime
from arf.runtime.demo import run_demo
from arf.runtime.settings import Settings
from arf.sim.platform import SimPlatform, default_state
from arf.store.sql import SqlStore
from tests.conftest import START, make_runtime

ADMIN_URL = os.environ.get(
    "ARF_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = "arf_test_" + uuid.uuid4().hex[:10]
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def test_the_demo_on_postgres_matches_sqlite(tmp_path: Path, postgres_url: str) -> None:
    clock = ManualClock(START)
    store = SqlStore.from_url(postgres_url)
    on_postgres = build_runtime(
        Settings(home=tmp_path / "pg", clock="sim"),
        clock=clock,
        platform=SimPlatform(default_state(7, clock.now().timestamp()), clock),
        ids=SequentialIds(),
        store=store,
    )
    pg_report = run_demo(on_postgres, lambda _line: None)
    on_sqlite = make_runtime(tmp_path / "sqlite", ManualClock(START))
    sqlite_report = run_demo(on_sqlite, lambda _line: None)

    assert [r.outcome for r in pg_report.rows] == [r.outcome for r in sqlite_report.rows]
    pg_chain, sqlite_chain = verify_ledger(on_postgres), verify_ledger(on_sqlite)
    assert pg_chain.ok and pg_chain.entries == sqlite_chain.entries
    assert pg_chain.head_hash == sqlite_chain.head_hash
    assert compliance_of(on_postgres).compliant == 7
    store.close()
    on_sqlite.store.close()


def test_target_leases_on_postgres_with_two_workers(postgres_url: str) -> None:
    """Two stores (two workers) on one database: a target goes to one incident only."""
    from datetime import timedelta

    first, second = SqlStore.from_url(postgres_url), SqlStore.from_url(postgres_url)
    until = START + timedelta(hours=1)
    try:
        with first.unit_of_work() as uow:
            assert uow.claim_targets("INC-A", ["checkout"], START, until) == {}
        with second.unit_of_work() as uow:
            assert uow.claim_targets("INC-B", ["checkout", "auth"], START, until) == {
                "checkout": "INC-A"
            }
        with second.unit_of_work() as uow:
            assert uow.claim_targets("INC-C", ["auth"], START, until) == {}  # B kept nothing
            uow.release_targets("INC-C")
        with first.unit_of_work() as uow:
            uow.release_targets("INC-A")
        with second.unit_of_work() as uow:
            assert uow.claim_targets("INC-B", ["checkout", "auth"], START, until) == {}
    finally:
        first.close()
        second.close()
