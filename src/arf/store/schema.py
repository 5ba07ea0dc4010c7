"""The relational schema (SQLAlchemy Core) and its ordered migrations.

The schema is portable: the same tables serve SQLite (embedded default) and PostgreSQL.
Records are kept as canonical JSON text next to the columns that queries need.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
)

metadata = MetaData()

schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("applied_at", String(40), nullable=False),
)

incidents = Table(
    "incidents",
    metadata,
    Column("incident_id", String(200), primary_key=True),
    Column("state", String(40), nullable=False, index=True),
    Column("opened_at", String(40), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("record", Text, nullable=False),
)

signals = Table(
    "signals",
    metadata,
    Column("signal_id", String(200), primary_key=True),
    Column("fingerprint", String(200), nullable=False),
    Column("incident_id", String(200), nullable=True, index=True),
    Column("kind", String(20), nullable=False),
    Column("service", String(200), nullable=True),
    Column("status", String(20), nullable=False),
    Column("observed_at", String(40), nullable=False),
    Column("last_seen_at", String(40), nullable=False),
    Column("resolved_at", String(40), nullable=True),
    Column("occurrences", Integer, nullable=False),
    Column("record", Text, nullable=False),
    Index("ix_signals_fingerprint_status", "fingerprint", "status"),
    Index("ix_signals_service_observed", "service", "observed_at"),
)


def _artifact_table(name: str, key: str) -> Table:
    return Table(
        name,
        metadata,
        Column("row_id", Integer, primary_key=True, autoincrement=True),
        Column(key, String(200), nullable=False, unique=True),
        Column("incident_id", String(200), nullable=False, index=True),
        Column("record", Text, nullable=False),
    )


snapshots = _artifact_table("snapshots", "content_hash")
diagnoses = _artifact_table("diagnoses", "diagnosis_id")
decisions = _artifact_table("decisions", "decision_id")
approvals = _artifact_table("approvals", "approval_id")
executions = _artifact_table("executions", "execution_id")
verifications = _artifact_table("verifications", "verification_id")
notifications = _artifact_table("notifications", "notification_id")

ledger = Table(
    "ledger",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("prev_hash", String(64), nullable=False),
    Column("entry_hash", String(64), nullable=False),
    Column("kind", String(100), nullable=False),
    Column("incident_id", String(200), nullable=True, index=True),
    Column("at", String(40), nullable=False),
    Column("payload", Text, nullable=False),
)


deliveries = Table(
    "deliveries",
    metadata,
    Column("source", String(100), primary_key=True),
    Column("delivery_id", String(200), primary_key=True),
    Column("received_at", String(40), nullable=False),
)

controls = Table(
    "controls",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("record", Text, nullable=False),
)

notification_deliveries = Table(
    "notification_deliveries",
    metadata,
    Column("notification_id", String(200), primary_key=True),
    Column("channel", String(100), primary_key=True),
    Column("status", String(20), nullable=False),  # sent | failed
    Column("attempts", Integer, nullable=False),
    Column("detail", Text, nullable=False),
    Column("at", String(40), nullable=False),
)

target_leases = Table(
    "target_leases",
    metadata,
    Column("target", String(300), primary_key=True),
    Column("incident_id", String(100), nullable=False),
    Column("acquired_at", String(40), nullable=False),
    Column("expires_at", String(40), nullable=False),
)

INITIAL_TABLES = (
    incidents,
    signals,
    snapshots,
    diagnoses,
    decisions,
    approvals,
    executions,
    verifications,
    notifications,
    ledger,
)


def _migration_1(conn: Connection) -> None:
    metadata.create_all(conn, tables=list(INITIAL_TABLES))


def _migration_2(conn: Connection) -> None:
    deliveries.create(conn, checkfirst=True)


def _migration_3(conn: Connection) -> None:
    controls.create(conn, checkfirst=True)


def _migration_4(conn: Connection) -> None:
    notification_deliveries.create(conn, checkfirst=True)


def _migration_5(conn: Connection) -> None:
    target_leases.create(conn, checkfirst=True)


Migration = tuple[int, str, Callable[[Connection], None]]

MIGRATIONS: tuple[Migration, ...] = (
    (1, "initial schema", _migration_1),
    (2, "webhook deliveries seen (replay protection)", _migration_2),
    (3, "operator controls (kill switch, shadow mode)", _migration_3),
    (4, "notification deliveries per channel (outbox)", _migration_4),
    (5, "per-target leases (one remediation executes per target)", _migration_5),
)


def migrate(conn: Connection) -> list[int]:
    """Apply every migration not yet recorded; returns the versions applied."""
    schema_migrations.create(conn, checkfirst=True)
    done = set(conn.execute(select(schema_migrations.c.version)).scalars())
    applied: list[int] = []
    for version, name, apply in MIGRATIONS:
        if version in done:
            continue
        apply(conn)
        conn.execute(
            insert(schema_migrations).values(
                version=version, name=name, applied_at=datetime.now(UTC).isoformat()
            )
        )
        applied.append(version)
    return applied


def current_version(conn: Connection) -> int:
    schema_migrations.create(conn, checkfirst=True)
    versions = list(conn.execute(select(schema_migrations.c.version)).scalars())
    return max(versions, default=0)
