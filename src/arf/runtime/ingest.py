"""Ingestion: parse a delivery, deduplicate, correlate into incidents, persist — one transaction.

A delivery is stored whole or not at all: a crash mid-way leaves nothing half-done. Ledger
entries record each incident opened and each signal attached to an incident (by digest).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pydantic import JsonValue

from arf.core.errors import InputError
from arf.core.ports import UnitOfWork
from arf.core.records import (
    STARTS_AT,
    Incident,
    IncidentState,
    Signal,
    SignalKind,
    SignalStatus,
)
from arf.core.states import ACTIVE_STATES
from arf.ledger import chain
from arf.runtime.container import Runtime
from arf.signals.alertmanager import ParseResult
from arf.signals.correlate import absorb, choose_incident, opens_incident, target_of
from arf.signals.formats import FormatTable, ParseOptions
from arf.signals.manual import requester_of
from arf.signals.normalise import fingerprint

EPISODIC_KINDS = frozenset({SignalKind.EVENT, SignalKind.LOG})
# Kinds whose signals fire and resolve (a resolution ends the firing signal of its fingerprint).
STATEFUL_KINDS = frozenset({SignalKind.ALERT, SignalKind.FINDING, SignalKind.EVENT})
# Kinds that always open (or join) an incident; the others only when `opens_incident` says so.
OPENING_KINDS = frozenset({SignalKind.ALERT, SignalKind.FINDING})


@dataclass
class IngestReport:
    accepted: int = 0
    duplicates: int = 0
    resolved: int = 0
    unmatched_resolutions: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    opened: list[str] = field(default_factory=list)
    attached: list[str] = field(default_factory=list)
    replayed: bool = False

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


def read_payload_file(path: Path, fmt: str | None, formats: FormatTable) -> tuple[str, JsonValue]:
    """The format and payload of a file: `fmt` if given (checked against the registry), a
    text format its ending means (`.log`), else JSON whose format is detected."""
    named = formats.get(fmt) if fmt is not None else formats.for_suffix(path.suffix)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text") from exc
    if named is not None and named.text:
        return named.name, text
    try:
        payload: JsonValue = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    return (named or formats.detect(payload)).name, payload


class Ingestor:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    def parse(
        self, fmt: str, payload: JsonValue, options: ParseOptions | None = None
    ) -> ParseResult:
        """A delivery parsed by its registered format (unknown name: InputError)."""
        chosen = self._rt.formats.get(fmt)
        return chosen.parse(payload, self._rt.clock.now(), options or ParseOptions())

    def ingest(
        self,
        fmt: str,
        payload: JsonValue,
        delivery: tuple[str, str] | None = None,
        options: ParseOptions | None = None,
    ) -> IngestReport:
        """Parse, redact and store one delivery. With `delivery` (source, id), a delivery id
        seen before is a replay: nothing is stored and the report says so."""
        return self.ingest_parsed(self.parse(fmt, payload, options), delivery)

    def ingest_parsed(
        self, parsed: ParseResult, delivery: tuple[str, str] | None = None
    ) -> IngestReport:
        """Redact and store signals that were already parsed (see `ingest`)."""
        report = IngestReport(rejected=list(parsed.rejected))
        redacted: list[Signal] = []
        for index, signal in enumerate(parsed.signals):
            try:  # a signal that cannot be redacted is not stored at all
                redacted.append(self._rt.redactor.redact_signal(signal))
            except Exception as exc:  # noqa: BLE001 - refuse the item, keep the batch
                report.rejected.append((index, f"redaction failed: {exc.__class__.__name__}"))
        with self._rt.store.unit_of_work() as uow:
            if delivery is not None and not uow.claim_delivery(*delivery, self._rt.clock.now()):
                report.replayed = True
                return report
            if redacted:
                self.store_signals(uow, redacted, report)
        return report

    def store_signals(
        self, uow: UnitOfWork, signals: Sequence[Signal], report: IngestReport
    ) -> None:
        """Deduplicate, correlate and persist one delivery's (already redacted) signals.

        One lookup of firing fingerprints, one of what else is known of the delivery's
        fingerprints, and one read of the active incidents per delivery;
        bulk inserts and updates; one ledger entry per incident opened and per incident that
        received signals (listing each signal's id and payload digest).
        """
        now = self._rt.clock.now()
        firing = dict(uow.find_firing_signals([s.fingerprint for s in signals]))
        # Signals whose fingerprint is not firing may still have been seen: stored earlier and
        # resolved since, or an instance older than one already over (a retried, out-of-order
        # or HA-duplicated delivery). Either is a repeat, never a second row or a new incident.
        asked = [
            s.fingerprint
            for s in signals
            if s.fingerprint not in firing
            or s.status is SignalStatus.RESOLVED
            or s.kind in EPISODIC_KINDS
        ]
        known_ids: set[str] = set()
        ended: dict[str, datetime] = {}  # per fingerprint, the latest start known to be over
        for mark in uow.signal_marks(asked):
            known_ids.add(mark.signal_id)
            if mark.status is SignalStatus.RESOLVED and mark.fingerprint not in firing:
                _note_end(ended, mark.fingerprint, mark.observed_at)
        active = {i.incident_id: i for i in uow.list_incidents(sorted(ACTIVE_STATES))}
        revisions = {incident_id: i.revision for incident_id, i in active.items()}
        held: dict[str, Incident] | None = None  # read only when a signal would open one
        changed: dict[str, list[datetime]] = {}  # change times per service, read when needed
        opened: list[Incident] = []
        batch_firing: dict[str, Signal] = {}
        new_rows: list[tuple[Signal, str | None]] = []
        repeats: Counter[str] = Counter()
        resolved: list[str] = []
        attached: dict[str, list[Signal]] = {}
        for signal in signals:
            fingerprint = signal.fingerprint
            if signal.status is SignalStatus.RESOLVED and signal.kind in STATEFUL_KINDS:
                stored = firing.get(fingerprint)
                current = stored.signal if stored else batch_firing.get(fingerprint)
                if current is not None and current.observed_at <= signal.observed_at:
                    firing.pop(fingerprint, None)
                    batch_firing.pop(fingerprint, None)
                    resolved.append(current.signal_id)
                    known_ids.add(current.signal_id)
                    report.resolved += 1
                    if current.observed_at < signal.observed_at and signal.signal_id not in (
                        known_ids
                    ):
                        # The end of a later instance than the one stored: remembered too, so a
                        # late delivery of that instance's firing is known to be over.
                        known_ids.add(signal.signal_id)
                        new_rows.append((signal, None))
                elif signal.signal_id in known_ids:
                    report.duplicates += 1  # this resolution was stored before
                    continue
                else:
                    # The end of an instance never seen firing here (its firing delivery is
                    # late or lost): remembered, so that a late firing does not open an incident.
                    known_ids.add(signal.signal_id)
                    new_rows.append((signal, None))
                    report.unmatched_resolutions += 1
                _note_end(ended, fingerprint, signal.observed_at)
                continue
            earlier = firing.get(fingerprint)
            if (
                earlier is not None
                and earlier.signal.kind in EPISODIC_KINDS
                and now - earlier.last_seen_at > self._rt.correlation.window
            ):
                earlier = None  # an event or log line seen again after a quiet spell is new
                firing.pop(fingerprint, None)
            before = earlier.signal if earlier else batch_firing.get(fingerprint)
            if before is not None and _restarted(before, signal):
                # The alert ended and fired again (a later start): the older instance is over,
                # and this one is new.
                resolved.append(before.signal_id)
                known_ids.add(before.signal_id)
                firing.pop(fingerprint, None)
                batch_firing.pop(fingerprint, None)
                earlier = None
            if earlier is not None or fingerprint in batch_firing:
                repeats[
                    earlier.signal.signal_id if earlier else batch_firing[fingerprint].signal_id
                ] += 1
                report.duplicates += 1
                continue
            if signal.signal_id in known_ids or (
                signal.kind in STATEFUL_KINDS
                and signal.status is SignalStatus.FIRING
                and fingerprint in ended
                and signal.observed_at <= ended[fingerprint]
            ):
                report.duplicates += 1  # stored before, or an instance already over
                continue
            known_ids.add(signal.signal_id)
            if signal.kind not in OPENING_KINDS and not opens_incident(
                signal, self._rt.correlation
            ):
                # Changes, logs and minor events do not open incidents; context finds them.
                if signal.status is SignalStatus.FIRING:
                    batch_firing[fingerprint] = signal
                new_rows.append((signal, None))
                report.accepted += 1
                continue
            incident_id: str | None = None
            if opens_incident(signal, self._rt.correlation):
                chosen = choose_incident(
                    signal, list(active.values()), self._rt.services, self._rt.correlation
                )
                if chosen is None and held is None:
                    held = self._held_fingerprints(uow, now)
                owner = held.get(fingerprint) if chosen is None and held else None
                if owner is not None and self._changed_since(uow, signal, owner, changed):
                    owner = None  # a change since the escalation: maybe a new fault, not a flap
                if chosen is None and owner is not None:
                    chosen = active.get(owner.incident_id, owner)
                    revisions.setdefault(owner.incident_id, owner.revision)
                if chosen is None:
                    incident = self._new_incident(signal, now)
                    opened.append(incident)
                    report.opened.append(incident.incident_id)
                else:
                    incident = absorb(chosen, signal, now)
                    report.attached.append(incident.incident_id)
                active[incident.incident_id] = incident
                incident_id = incident.incident_id
                attached.setdefault(incident_id, []).append(signal)
            batch_firing[fingerprint] = signal
            new_rows.append((signal, incident_id))
            report.accepted += 1
        for first_version in opened:
            incident = active[first_version.incident_id]  # with what joined it in this batch
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
        opened_ids = {i.incident_id for i in opened}
        uow.insert_signals(new_rows)
        uow.record_repeats(repeats, now)
        uow.resolve_signals(resolved, now)
        for incident_id, joined in attached.items():
            incident = active[incident_id]
            if incident_id not in opened_ids:
                original = revisions[incident_id]
                final = incident.model_copy(update={"revision": original + 1})
                uow.update_incident(final, original)
            chain.append(
                uow,
                "signals.attached",
                incident_id,
                {
                    "count": len(joined),
                    "signals": [
                        {"signal_id": s.signal_id, "payload_digest": s.payload_digest}
                        for s in joined
                    ],
                },
                now,
            )

    def _held_fingerprints(self, uow: UnitOfWork, now: datetime) -> dict[str, Incident]:
        """Fingerprints of the signals of incidents escalated to a person whose symptoms are
        recent (within the correlation rules' escalation hold)."""
        hold = self._rt.correlation.escalation_hold
        held: dict[str, Incident] = {}
        recent = {
            i.incident_id: i
            for i in uow.list_incidents([IncidentState.ESCALATED], opened_since=now - 4 * hold)
            if now - i.last_signal_at <= hold
        }
        for seen, incident_id in uow.fingerprints_of(sorted(recent)).items():
            held[seen] = recent[incident_id]
        return held

    def _changed_since(
        self,
        uow: UnitOfWork,
        signal: Signal,
        owner: Incident,
        changed: dict[str, list[datetime]],
    ) -> bool:
        """Whether the signal's service changed (a deploy, a configuration or scale change)
        after `owner` was escalated (its last transition): then a symptom that returns is
        treated as possibly new and opens an incident of its own instead of joining."""
        service = target_of(signal)
        if service is None:
            return False
        times = changed.get(service)
        if times is None:
            since = self._rt.clock.now() - self._rt.correlation.escalation_hold
            times = changed[service] = [
                s.signal.observed_at
                for s in uow.signals_between(
                    [service], since, self._rt.clock.now(), [SignalKind.CHANGE]
                )
            ]
        return any(at > owner.updated_at for at in times)

    def _new_incident(self, signal: Signal, now: datetime) -> Incident:
        return Incident(
            incident_id="INC-" + fingerprint(signal.fingerprint, now.isoformat())[:8].upper(),
            state=IncidentState.OPEN,
            title=signal.title[:200],
            services=(target_of(signal) or "unknown",),
            environment=signal.environment,
            severity=signal.severity,
            opened_at=now,
            updated_at=now,
            impact_started_at=min(signal.observed_at, now),
            last_signal_at=now,
            requested_by=requester_of(signal),
        )


def _note_end(ended: dict[str, datetime], fingerprint: str, start: datetime) -> None:
    """Remember the latest start of an instance of `fingerprint` known to be over."""
    if fingerprint not in ended or start > ended[fingerprint]:
        ended[fingerprint] = start


def _restarted(before: Signal, signal: Signal) -> bool:
    """Whether an alert with an explicit start time started again after `before` started."""
    return (
        signal.kind is SignalKind.ALERT
        and STARTS_AT in before.attributes
        and STARTS_AT in signal.attributes
        and signal.observed_at > before.observed_at
    )


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
