"""Fakes shared by tests."""

from __future__ import annotations

from datetime import datetime

from arf.core.records import Incident, IncidentState, LedgerEntry, Severity


class MemoryLedgerSink:
    """A `LedgerSink` that keeps entries in a list."""

    def __init__(self) -> None:
        self.entries: list[LedgerEntry] = []

    def ledger_head(self) -> LedgerEntry | None:
        return self.entries[-1] if self.entries else None

    def put_ledger_entry(self, entry: LedgerEntry) -> None:
        self.entries.append(entry)


def make_incident(
    at: datetime,
    state: IncidentState = IncidentState.OPEN,
    services: tuple[str, ...] = ("svc",),
    incident_id: str = "INC-1",
) -> Incident:
    return Incident(
        incident_id=incident_id,
        state=state,
        title="t",
        services=services,
        environment="production",
        severity=Severity.HIGH,
        opened_at=at,
        updated_at=at,
        impact_started_at=at,
        last_signal_at=at,
    )
