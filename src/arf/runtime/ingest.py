"""Ingestion: parse a delivery, deduplicate, correlate into incidents, persist — one transaction.

A delivery is stored whole or not at all: a crash mid-way leaves nothing half-done. Ledger
entries record each incident opened and each signal attached to an incident (by digest).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import JsonValue

from arf.core.errors import InputError
from arf.core.ports import UnitOfWork
from arf.core.records import Incident, IncidentState, Signal, SignalStatus
from arf.core.states import ACTIVE_STATES
from arf.ledger import chain
from arf.runtime.container import Runtime
from arf.signals import alertmanager, changes, checkov, logs
from arf.signals.alertmanager import ParseResult
from arf.signals.correlate import absorb, choose_incident, opens_incident, target_of
from arf.signals.normalise import fingerprint

FORMATS = ("alertmanager", "cloudevent", "checkov", "logs")


@dataclass
class IngestReport:
    accepted: int = 0
    duplicates: int = 0
    resolved: int = 0
    unmatched_resolutions: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    opened: list[str] = field(default_factory=list)
    attached: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [
            f"{self.accepted} new signal(s)",
            f"{self.duplicates} repeat(s)",
            f"{self.resolved} resolved",
        ]
        if self.opened:
            parts.append(f"opened {', '.join(self.opened)}")
        if self.rejected:
            parts.append(f"{len(self.rejected)} rejected")
        return "; ".join(parts)


def detect_format(payload: object) -> str:
    if alertmanager.looks_like_alertmanager(payload):
        return "alertmanager"
    if changes.looks_like_cloudevent(payload):
        return "cloudevent"
    if checkov.looks_like_checkov(payload):
        return "checkov"
    raise InputError(
        "cannot tell the payload's format (expected an Alertmanager webhook, a CloudEvent or"
        " Checkov JSON); pass --format"
    )


def read_payload_file(path: Path, fmt: str | None) -> tuple[str, JsonValue]:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text") from exc
    if fmt == "logs" or (fmt is None and path.suffix in (".jsonl", ".log")):
        return "logs", text
    try:
        payload: JsonValue = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    return fmt or detect_format(payload), payload


class Ingestor:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    def parse(self, fmt: str, payload: JsonValue) -> ParseResult:
        now = self._rt.clock.now()
        if fmt == "alertmanager":
            return alertmanager.parse_webhook(payload, now)
        if fmt == "cloudevent":
            return ParseResult((changes.parse_change_event(payload, now),))
        if fmt == "checkov":
            return checkov.parse_report(payload, now)
        if fmt == "logs":
            if not isinstance(payload, str):
                raise InputError("logs: expected JSON lines as text")
            return logs.parse_lines(payload.splitlines(), now)
        raise InputError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")

    def ingest(self, fmt: str, payload: JsonValue) -> IngestReport:
        parsed = self.parse(fmt, payload)
        report = IngestReport(rejected=list(parsed.rejected))
        if not parsed.signals:
            return report
        redacted: list[Signal] = []
        for index, signal in enumerate(parsed.signals):
            try:  # a signal that cannot be redacted is not stored at all
                redacted.append(self._rt.redactor.redact_signal(signal))
            except Exception as exc:  # noqa: BLE001 - refuse the item, keep the batch
                report.rejected.append((index, f"redaction failed: {exc.__class__.__name__}"))
        with self._rt.store.unit_of_work() as uow:
            for signal in redacted:
                self._one(uow, signal, report)
        return report

    def _one(self, uow: UnitOfWork, signal: Signal, report: IngestReport) -> None:
        now = self._rt.clock.now()
        existing = uow.find_firing_signal(signal.fingerprint)
        if signal.status is SignalStatus.RESOLVED and signal.kind.value in ("alert", "finding"):
            if existing is None:
                report.unmatched_resolutions += 1
                return
            uow.resolve_signal(existing.signal.signal_id, now)
            report.resolved += 1
            return
        if existing is not None:
            uow.record_repeat(existing.signal.signal_id, now)
            report.duplicates += 1
            return
        if signal.kind.value not in ("alert", "finding"):
            # Changes and logs never open incidents; context assembly finds them by service.
            if uow.signal_exists(signal.signal_id):  # the same delivery again: store once
                report.duplicates += 1
                return
            uow.insert_signal(signal, None)
            report.accepted += 1
            return
        incident_id: str | None = None
        if opens_incident(signal, self._rt.correlation):
            candidates = uow.list_incidents(sorted(ACTIVE_STATES))
            chosen = choose_incident(signal, candidates, self._rt.services, self._rt.correlation)
            incident = (
                self._attach(uow, chosen, signal) if chosen is not None else self._open(uow, signal)
            )
            incident_id = incident.incident_id
            (report.attached if chosen else report.opened).append(incident_id)
        uow.insert_signal(signal, incident_id)
        if incident_id is not None:
            chain.append(
                uow,
                "signal.attached",
                incident_id,
                {
                    "signal_id": signal.signal_id,
                    "fingerprint": signal.fingerprint,
                    "payload_digest": signal.payload_digest,
                    "title": signal.title[:200],
                },
                now,
            )
        report.accepted += 1

    def _open(self, uow: UnitOfWork, signal: Signal) -> Incident:
        now = self._rt.clock.now()
        target = target_of(signal) or "unknown"
        incident = Incident(
            incident_id="INC-" + fingerprint(signal.fingerprint, now.isoformat())[:8].upper(),
            state=IncidentState.OPEN,
            title=signal.title[:200],
            services=(target,),
            environment=signal.environment,
            severity=signal.severity,
            opened_at=now,
            updated_at=now,
            impact_started_at=min(signal.observed_at, now),
            last_signal_at=now,
        )
        uow.insert_incident(incident)
        chain.append(
            uow,
            "incident.opened",
            incident.incident_id,
            {
                "title": incident.title,
                "services": list(incident.services),
                "severity": incident.severity.value,
                "environment": incident.environment,
                "impact_started_at": incident.impact_started_at.isoformat(),
            },
            now,
        )
        return incident

    def _attach(self, uow: UnitOfWork, incident: Incident, signal: Signal) -> Incident:
        changed = absorb(incident, signal.model_copy(update={"received_at": self._rt.clock.now()}))
        if changed != incident:
            changed = changed.model_copy(update={"revision": incident.revision + 1})
            uow.update_incident(changed, incident.revision)
        return changed


def ingest_many(runtime: Runtime, deliveries: Sequence[tuple[str, JsonValue]]) -> IngestReport:
    total = IngestReport()
    ingestor = Ingestor(runtime)
    for fmt, payload in deliveries:
        report = ingestor.ingest(fmt, payload)
        total.accepted += report.accepted
        total.duplicates += report.duplicates
        total.resolved += report.resolved
        total.rejected += report.rejected
        total.opened += report.opened
        total.attached += report.attached
    return total
