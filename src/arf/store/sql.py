"""The SQL store: SQLite (WAL) by default, any SQLAlchemy URL with the same schema.

A unit of work is one database transaction. On SQLite it starts with BEGIN IMMEDIATE so that
concurrent writers serialise instead of failing when they upgrade a read lock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from hashlib import sha256
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import (
    Connection,
    Engine,
    Table,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from arf.core.canonical import canonical_json
from arf.core.errors import (
    ConcurrentUpdateError,
    ConfigError,
    NotFoundError,
    StoreUnavailableError,
)
from arf.core.ports import SignalMark
from arf.core.records import (
    Approval,
    ContextSnapshot,
    Controls,
    DecisionEnvelope,
    Diagnosis,
    ExecutionRecord,
    Incident,
    IncidentState,
    LedgerEntry,
    Notification,
    Signal,
    SignalKind,
    SignalStatus,
    VerificationResult,
)
from arf.core.states import TERMINAL_STATES
from arf.store import schema

R = TypeVar("R", bound=BaseModel)


def _ts(moment: datetime) -> str:
    return moment.isoformat()


@dataclass(frozen=True)
class StoredSignalRow:
    signal: Signal
    incident_id: str | None
    occurrences: int
    last_seen_at: datetime


class SqlUnitOfWork:
    """Implements `arf.core.ports.UnitOfWork` over one open transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        # The head as this transaction last wrote it; writers are serialised, so it stays true
        # until commit and saves a query per appended entry.
        self._head: LedgerEntry | None = None

    # ------------------------------------------------------------------ incidents
    def find_incident(self, incident_id: str) -> Incident | None:
        row = self._conn.execute(
            select(schema.incidents.c.record).where(schema.incidents.c.incident_id == incident_id)
        ).scalar_one_or_none()
        return None if row is None else Incident.model_validate_json(row)

    def get_incident(self, incident_id: str) -> Incident:
        found = self.find_incident(incident_id)
        if found is None:
            raise NotFoundError(f"no incident with id {incident_id!r}")
        return found

    def list_incidents(
        self,
        states: Sequence[IncidentState] | None = None,
        opened_since: datetime | None = None,
    ) -> list[Incident]:
        query = select(schema.incidents.c.record).order_by(
            schema.incidents.c.opened_at, schema.incidents.c.incident_id
        )
        if states is not None:
            query = query.where(schema.incidents.c.state.in_([s.value for s in states]))
        if opened_since is not None:
            query = query.where(schema.incidents.c.opened_at >= _ts(opened_since))
        return [Incident.model_validate_json(r) for r in self._conn.execute(query).scalars()]

    def insert_incident(self, incident: Incident) -> None:
        self._conn.execute(
            insert(schema.incidents).values(
                incident_id=incident.incident_id,
                state=incident.state.value,
                opened_at=_ts(incident.opened_at),
                revision=incident.revision,
                record=canonical_json(incident),
            )
        )

    def update_incident(self, incident: Incident, expected_revision: int) -> None:
        result = self._conn.execute(
            update(schema.incidents)
            .where(
                schema.incidents.c.incident_id == incident.incident_id,
                schema.incidents.c.revision == expected_revision,
            )
            .values(
                state=incident.state.value,
                revision=incident.revision,
                record=canonical_json(incident),
            )
        )
        if result.rowcount != 1:
            raise ConcurrentUpdateError(
                f"incident {incident.incident_id} changed since revision {expected_revision}"
            )

    # ------------------------------------------------------------------ signals
    def _stored(self, row: Any) -> StoredSignalRow:
        return StoredSignalRow(
            signal=Signal.model_validate_json(row.record),
            incident_id=row.incident_id,
            occurrences=row.occurrences,
            last_seen_at=datetime.fromisoformat(row.last_seen_at),
        )

    def find_firing_signals(self, fingerprints: Sequence[str]) -> dict[str, StoredSignalRow]:
        """The firing signal for each fingerprint that has one (batched lookups)."""
        found: dict[str, StoredSignalRow] = {}
        unique = sorted(set(fingerprints))
        for start in range(0, len(unique), 500):
            rows = self._conn.execute(
                select(schema.signals).where(
                    schema.signals.c.fingerprint.in_(unique[start : start + 500]),
                    schema.signals.c.status == SignalStatus.FIRING.value,
                )
            )
            for row in rows:
                stored = self._stored(row)
                current = found.get(row.fingerprint)
                if current is None or stored.signal.observed_at > current.signal.observed_at:
                    found[row.fingerprint] = stored
        return found

    def firing_signals_from(self, source: str) -> list[StoredSignalRow]:
        """Firing alerts a given source delivered (for sources that report a full picture)."""
        rows = self._conn.execute(
            select(schema.signals).where(
                schema.signals.c.status == SignalStatus.FIRING.value,
                schema.signals.c.kind == "alert",
            )
        )
        stored = [self._stored(row) for row in rows]
        return [s for s in stored if s.signal.source == source]

    def signal_marks(self, fingerprints: Sequence[str]) -> list[SignalMark]:
        found: list[SignalMark] = []
        unique = sorted(set(fingerprints))
        columns = schema.signals.c
        for start in range(0, len(unique), 500):
            rows = self._conn.execute(
                select(
                    columns.signal_id, columns.fingerprint, columns.status, columns.observed_at
                ).where(columns.fingerprint.in_(unique[start : start + 500]))
            )
            found.extend(
                SignalMark(
                    row.signal_id,
                    row.fingerprint,
                    SignalStatus(row.status),
                    datetime.fromisoformat(row.observed_at),
                )
                for row in rows
            )
        return found

    def insert_signals(self, items: Sequence[tuple[Signal, str | None]]) -> None:
        if items:
            self._conn.execute(insert(schema.signals), [self._signal_row(s, i) for s, i in items])

    def record_repeats(self, counts: Mapping[str, int], seen_at: datetime) -> None:
        if counts:
            self._conn.execute(
                update(schema.signals)
                .where(schema.signals.c.signal_id == bindparam("sid"))
                .values(
                    occurrences=schema.signals.c.occurrences + bindparam("extra"),
                    last_seen_at=_ts(seen_at),
                ),
                [{"sid": sid, "extra": n} for sid, n in counts.items()],
            )

    def resolve_signals(self, signal_ids: Sequence[str], resolved_at: datetime) -> None:
        if signal_ids:
            self._conn.execute(
                update(schema.signals)
                .where(schema.signals.c.signal_id == bindparam("sid"))
                .values(status=SignalStatus.RESOLVED.value, resolved_at=_ts(resolved_at)),
                [{"sid": sid} for sid in signal_ids],
            )

    def _signal_row(self, signal: Signal, incident_id: str | None) -> dict[str, object]:
        return {
            "signal_id": signal.signal_id,
            "fingerprint": signal.fingerprint,
            "incident_id": incident_id,
            "kind": signal.kind.value,
            "service": signal.service or signal.resource,
            "status": signal.status.value,
            "observed_at": _ts(signal.observed_at),
            "last_seen_at": _ts(signal.received_at),
            "resolved_at": (
                _ts(signal.received_at) if signal.status is SignalStatus.RESOLVED else None
            ),
            "occurrences": 1,
            # pydantic's serialiser, not canonical JSON: nothing hashes this text but the
            # retention digest, which reads it back as stored (a storm writes it 10^5 times)
            "record": signal.model_dump_json(),
        }

    def claim_delivery(self, source: str, delivery_id: str, at: datetime) -> bool:
        """Record a webhook delivery id; False when it was seen before (a replay)."""
        seen = self._conn.execute(
            select(schema.deliveries.c.delivery_id).where(
                schema.deliveries.c.source == source,
                schema.deliveries.c.delivery_id == delivery_id,
            )
        ).first()
        if seen is not None:
            return False
        self._conn.execute(
            insert(schema.deliveries).values(
                source=source, delivery_id=delivery_id, received_at=_ts(at)
            )
        )
        return True

    def signals_for_incident(self, incident_id: str) -> list[StoredSignalRow]:
        rows = self._conn.execute(
            select(schema.signals)
            .where(schema.signals.c.incident_id == incident_id)
            .order_by(schema.signals.c.observed_at, schema.signals.c.signal_id)
        )
        return [self._with_status(row) for row in rows]

    def fingerprints_of(self, incident_ids: Sequence[str]) -> dict[str, str]:
        """The fingerprint of every signal of these incidents -> its incident (one query)."""
        if not incident_ids:
            return {}
        rows = self._conn.execute(
            select(schema.signals.c.fingerprint, schema.signals.c.incident_id)
            .where(schema.signals.c.incident_id.in_(list(incident_ids)))
            .order_by(schema.signals.c.observed_at)
        )
        found: dict[str, str] = {}
        for fingerprint, incident_id in rows:
            found.setdefault(fingerprint, incident_id)
        return found

    def _with_status(self, row: Any) -> StoredSignalRow:
        stored = self._stored(row)
        if row.status != stored.signal.status.value:
            stored = StoredSignalRow(
                signal=stored.signal.model_copy(update={"status": SignalStatus(row.status)}),
                incident_id=stored.incident_id,
                occurrences=stored.occurrences,
                last_seen_at=stored.last_seen_at,
            )
        return stored

    def signals_between(
        self,
        services: Sequence[str],
        since: datetime,
        until: datetime,
        kinds: Sequence[SignalKind] | None = None,
    ) -> list[StoredSignalRow]:
        query = select(schema.signals).where(
            schema.signals.c.service.in_(list(services)),
            schema.signals.c.last_seen_at >= _ts(since),
            schema.signals.c.observed_at <= _ts(until),
        )
        if kinds is not None:
            query = query.where(schema.signals.c.kind.in_([k.value for k in kinds]))
        rows = self._conn.execute(
            query.order_by(schema.signals.c.observed_at, schema.signals.c.signal_id)
        )
        return [self._with_status(row) for row in rows]

    def count_signals(self) -> int:
        return int(
            self._conn.execute(select(func.count()).select_from(schema.signals)).scalar_one()
        )

    def expire_signals(self, before: datetime, remove: bool = True) -> list[tuple[str, str]]:
        """Signals last seen before `before` that no active incident needs (none, or a terminal
        one): (signal id, SHA-256 of the stored record) of each, deleted unless `remove` is
        False. The caller records the digests in the ledger in the same transaction."""
        terminal = [state.value for state in TERMINAL_STATES]
        active = select(schema.incidents.c.incident_id).where(
            schema.incidents.c.state.not_in(terminal)
        )
        rows = self._conn.execute(
            select(schema.signals.c.signal_id, schema.signals.c.record)
            .where(schema.signals.c.last_seen_at < _ts(before))
            .where(
                or_(
                    schema.signals.c.incident_id.is_(None),
                    schema.signals.c.incident_id.not_in(active),
                )
            )
            .order_by(schema.signals.c.signal_id)
        ).all()
        if remove:
            ids = [row.signal_id for row in rows]
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                self._conn.execute(
                    delete(schema.signals).where(schema.signals.c.signal_id.in_(chunk))
                )
        return [(row.signal_id, sha256(row.record.encode("utf-8")).hexdigest()) for row in rows]

    # ------------------------------------------------------------------ artifacts
    def _put(self, table: Table, key: str, key_value: str, incident_id: str, rec: Any) -> None:
        self._conn.execute(
            insert(table).values(
                {key: key_value, "incident_id": incident_id, "record": canonical_json(rec)}
            )
        )

    def _all(self, table: Table, incident_id: str, model: type[R]) -> list[R]:
        rows = self._conn.execute(
            select(table.c.record)
            .where(table.c.incident_id == incident_id)
            .order_by(table.c.row_id)
        ).scalars()
        return [model.model_validate_json(r) for r in rows]

    def _latest(self, table: Table, incident_id: str, model: type[R]) -> R | None:
        row = self._conn.execute(
            select(table.c.record)
            .where(table.c.incident_id == incident_id)
            .order_by(table.c.row_id.desc())
            .limit(1)
        ).scalar_one_or_none()
        return None if row is None else model.model_validate_json(row)

    def put_snapshot(self, snapshot: ContextSnapshot) -> None:
        digest = snapshot.content_hash()
        exists = self._conn.execute(
            select(schema.snapshots.c.row_id).where(schema.snapshots.c.content_hash == digest)
        ).first()
        if exists is None:  # identical content is the same snapshot: write once
            self._put(schema.snapshots, "content_hash", digest, snapshot.incident_id, snapshot)

    def latest_snapshot(self, incident_id: str) -> ContextSnapshot | None:
        return self._latest(schema.snapshots, incident_id, ContextSnapshot)

    def put_diagnosis(self, diagnosis: Diagnosis) -> None:
        self._put(
            schema.diagnoses,
            "diagnosis_id",
            diagnosis.diagnosis_id,
            diagnosis.incident_id,
            diagnosis,
        )

    def latest_diagnosis(self, incident_id: str) -> Diagnosis | None:
        return self._latest(schema.diagnoses, incident_id, Diagnosis)

    def put_decision(self, decision: DecisionEnvelope) -> None:
        self._put(
            schema.decisions,
            "decision_id",
            decision.decision_id,
            decision.incident_id,
            decision,
        )

    def latest_decision(self, incident_id: str) -> DecisionEnvelope | None:
        return self._latest(schema.decisions, incident_id, DecisionEnvelope)

    def decisions_for(self, incident_id: str) -> list[DecisionEnvelope]:
        """An incident's decisions, oldest first (more than one after late evidence)."""
        return self._all(schema.decisions, incident_id, DecisionEnvelope)

    def decisions_since(self, since: datetime) -> list[DecisionEnvelope]:
        """Every stored decision made at or after `since`, oldest first (a scan: for offline
        tooling such as `arf policy simulate`, not the hot path)."""
        rows = self._conn.execute(
            select(schema.decisions.c.record).order_by(schema.decisions.c.row_id)
        ).scalars()
        found = (DecisionEnvelope.model_validate_json(r) for r in rows)
        return [d for d in found if d.decided_at >= since]

    # ------------------------------------------------------------------ operator controls
    def get_controls(self) -> Controls:
        row = self._conn.execute(
            select(schema.controls.c.record).where(schema.controls.c.name == "controls")
        ).scalar_one_or_none()
        return Controls() if row is None else Controls.model_validate_json(row)

    def put_controls(self, controls: Controls) -> None:
        exists = self._conn.execute(
            select(schema.controls.c.name).where(schema.controls.c.name == "controls")
        ).first()
        record = canonical_json(controls)
        if exists is None:
            self._conn.execute(insert(schema.controls).values(name="controls", record=record))
        else:
            self._conn.execute(
                update(schema.controls)
                .where(schema.controls.c.name == "controls")
                .values(record=record)
            )

    # ------------------------------------------------------------------ target leases
    def claim_targets(
        self, incident_id: str, targets: Sequence[str], now: datetime, until: datetime
    ) -> dict[str, str]:
        """Hold every target for `incident_id` until `until`, or none of them: returns the
        targets another incident holds (empty when the claim succeeded). A lease of the same
        incident is renewed; an expired one is taken over. Each row changes only through a
        conditional statement, so two workers cannot both win a target."""
        table = schema.target_leases
        wanted = sorted(set(targets))
        claimed: list[str] = []
        held: dict[str, str] = {}
        for target in wanted:
            taken = self._conn.execute(
                update(table)
                .where(
                    table.c.target == target,
                    (table.c.incident_id == incident_id) | (table.c.expires_at <= _ts(now)),
                )
                .values(incident_id=incident_id, acquired_at=_ts(now), expires_at=_ts(until))
            ).rowcount
            if not taken:
                holder = self._conn.execute(
                    select(table.c.incident_id).where(table.c.target == target)
                ).scalar_one_or_none()
                if holder is None:
                    self._conn.execute(
                        insert(table).values(
                            target=target,
                            incident_id=incident_id,
                            acquired_at=_ts(now),
                            expires_at=_ts(until),
                        )
                    )
                else:
                    held[target] = holder
                    continue
            claimed.append(target)
        if held and claimed:  # all or nothing: give back what this call took
            self._conn.execute(
                delete(table).where(table.c.incident_id == incident_id, table.c.target.in_(claimed))
            )
        return held

    def release_targets(self, incident_id: str) -> None:
        self._conn.execute(
            delete(schema.target_leases).where(schema.target_leases.c.incident_id == incident_id)
        )

    def put_approval(self, approval: Approval) -> None:
        self._put(
            schema.approvals,
            "approval_id",
            approval.approval_id,
            approval.incident_id,
            approval,
        )

    def approvals_for(self, incident_id: str) -> list[Approval]:
        return self._all(schema.approvals, incident_id, Approval)

    def put_execution(self, record: ExecutionRecord) -> None:
        self._put(
            schema.executions, "execution_id", record.execution_id, record.incident_id, record
        )

    def executions_for(self, incident_id: str) -> list[ExecutionRecord]:
        return self._all(schema.executions, incident_id, ExecutionRecord)

    def put_verification(self, result: VerificationResult) -> None:
        self._put(
            schema.verifications,
            "verification_id",
            result.verification_id,
            result.incident_id,
            result,
        )

    def verifications_for(self, incident_id: str) -> list[VerificationResult]:
        return self._all(schema.verifications, incident_id, VerificationResult)

    def put_notification(self, notification: Notification) -> None:
        self._put(
            schema.notifications,
            "notification_id",
            notification.notification_id,
            notification.incident_id,
            notification,
        )

    def notifications_for(self, incident_id: str) -> list[Notification]:
        return self._all(schema.notifications, incident_id, Notification)

    def pending_notifications(
        self, channel: str, max_attempts: int, limit: int = 100
    ) -> list[tuple[Notification, int]]:
        """Notifications not yet sent on `channel` and tried fewer than `max_attempts` times,
        oldest first, with the attempts so far."""
        notes, done = schema.notifications, schema.notification_deliveries
        joined = notes.outerjoin(
            done, (done.c.notification_id == notes.c.notification_id) & (done.c.channel == channel)
        )
        rows = self._conn.execute(
            select(notes.c.record, done.c.attempts)
            .select_from(joined)
            .where(
                (done.c.status.is_(None))
                | ((done.c.status == "failed") & (done.c.attempts < max_attempts))
            )
            .order_by(notes.c.row_id)
            .limit(limit)
        ).all()
        return [(Notification.model_validate_json(r[0]), int(r[1] or 0)) for r in rows]

    def record_delivery(
        self, notification_id: str, channel: str, sent: bool, detail: str, at: datetime
    ) -> int:
        """Record one delivery attempt; returns the attempts so far."""
        table = schema.notification_deliveries
        key = (table.c.notification_id == notification_id) & (table.c.channel == channel)
        attempts = self._conn.execute(select(table.c.attempts).where(key)).scalar_one_or_none()
        values = {
            "status": "sent" if sent else "failed",
            "attempts": (attempts or 0) + 1,
            "detail": detail[:2000],
            "at": _ts(at),
        }
        if attempts is None:
            self._conn.execute(
                insert(table).values(notification_id=notification_id, channel=channel, **values)
            )
        else:
            self._conn.execute(update(table).where(key).values(**values))
        return int(values["attempts"])

    # ------------------------------------------------------------------ ledger
    def _entry(self, row: Any) -> LedgerEntry:
        return LedgerEntry(
            seq=row.seq,
            prev_hash=row.prev_hash,
            entry_hash=row.entry_hash,
            kind=row.kind,
            incident_id=row.incident_id,
            at=datetime.fromisoformat(row.at),
            payload=json.loads(row.payload),
        )

    def ledger_head(self) -> LedgerEntry | None:
        if self._head is not None:
            return self._head
        row = self._conn.execute(
            select(schema.ledger).order_by(schema.ledger.c.seq.desc()).limit(1)
        ).first()
        return None if row is None else self._entry(row)

    def put_ledger_entry(self, entry: LedgerEntry) -> None:
        self._conn.execute(
            insert(schema.ledger).values(
                seq=entry.seq,
                prev_hash=entry.prev_hash,
                entry_hash=entry.entry_hash,
                kind=entry.kind,
                incident_id=entry.incident_id,
                at=_ts(entry.at),
                payload=canonical_json(entry.payload),
            )
        )
        self._head = entry

    def iter_ledger(self) -> Iterator[LedgerEntry]:
        rows = self._conn.execute(select(schema.ledger).order_by(schema.ledger.c.seq))
        for row in rows:
            yield self._entry(row)

    def ledger_for_incident(self, incident_id: str) -> list[LedgerEntry]:
        rows = self._conn.execute(
            select(schema.ledger)
            .where(schema.ledger.c.incident_id == incident_id)
            .order_by(schema.ledger.c.seq)
        )
        return [self._entry(row) for row in rows]


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


class SqlStore:
    """Implements `arf.core.ports.Store`."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        try:
            with engine.begin() as conn:
                schema.migrate(conn)
        except SQLAlchemyError as exc:
            raise ConfigError(f"cannot open the database at {engine.url}: {exc}") from exc

    @classmethod
    def sqlite(cls, path: Path) -> SqlStore:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(f"sqlite+pysqlite:///{path}")
        # Let SQLAlchemy stop emitting its own BEGIN; we issue BEGIN IMMEDIATE ourselves.
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "connect", _disable_pysqlite_transactions)
        event.listen(engine, "begin", _sqlite_begin)
        return cls(engine)

    @classmethod
    def from_url(cls, url: str) -> SqlStore:
        if url.startswith("sqlite"):
            raise ConfigError("use SqlStore.sqlite(path) for SQLite databases")
        return cls(create_engine(url))

    @property
    def engine(self) -> Engine:
        return self._engine

    @contextmanager
    def unit_of_work(self) -> Iterator[SqlUnitOfWork]:
        try:
            with self._engine.begin() as conn:
                yield SqlUnitOfWork(conn)
        except OperationalError as exc:  # locked, unreachable, out of connections
            raise StoreUnavailableError(
                f"the store is unavailable: {str(exc.orig or exc).splitlines()[0][:200]}"
            ) from exc

    def close(self) -> None:
        self._engine.dispose()


def _disable_pysqlite_transactions(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None
