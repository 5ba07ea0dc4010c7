"""The six SRE metrics, computed from stored timestamps and records.

- MTTD: mean of (incident opened - impact started), impact start being the earliest
  observation among the incident's signals (an alert's startsAt).
- MTTR: mean of (resolved - impact started) over incidents ARF resolved.
- Toil: human minutes per incident, from what reached a person (see `ToilModel`).
- False remediation rate: executed remediations that failed verification or were rolled back,
  over all executed remediations.
- Alert fatigue: notifications that reached a person per resolved incident; raw alert
  deliveries per incident beside it.
- Governance compliance rate: from the independent ledger pass (`arf.runtime.audit`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from statistics import fmean

from arf.core.records import (
    Outcome,
    ProbeVerdict,
    SignalKind,
    StepKind,
    StepStatus,
)
from arf.runtime.audit import compliance_of
from arf.runtime.container import Runtime


@dataclass(frozen=True)
class ToilModel:
    """Minutes of human work per thing that reaches a person. Assumptions, stated openly:
    a quick acknowledgement, an approval read with its explanation, and an escalation that a
    person must investigate by hand."""

    minutes: Mapping[str, float] = field(
        default_factory=lambda: {
            "acknowledge_request": 3.0,
            "approve_request": 10.0,
            "escalation": 45.0,
        }
    )
    default_minutes: float = 10.0

    def cost(self, kind: str) -> float:
        return self.minutes.get(kind, self.default_minutes)


@dataclass(frozen=True)
class IncidentTimeline:
    incident_id: str
    impact_started_at: datetime
    opened_at: datetime
    resolved_at: datetime | None
    outcome: Outcome
    executed: bool
    failed_remediation: bool
    notifications: tuple[str, ...]
    raw_alerts: int


@dataclass(frozen=True)
class Metrics:
    incidents: int
    resolved: int
    mttd_s: float | None
    mttr_s: float | None
    toil_minutes_per_incident: float | None
    false_remediation_rate: float | None
    notifications_per_resolved: float | None
    raw_alerts_per_incident: float | None
    compliance_rate: float | None


def compute(
    timelines: Sequence[IncidentTimeline],
    compliance_rate: float | None,
    toil: ToilModel | None = None,
) -> Metrics:
    model = toil or ToilModel()
    count = len(timelines)
    resolved = [t for t in timelines if t.outcome is Outcome.RESOLVED and t.resolved_at]
    executed = [t for t in timelines if t.executed]
    detect = [(t.opened_at - t.impact_started_at).total_seconds() for t in timelines]
    repair = [
        (t.resolved_at - t.impact_started_at).total_seconds()
        for t in resolved
        if t.resolved_at is not None
    ]
    notifications = sum(len(t.notifications) for t in timelines)
    human = sum(model.cost(kind) for t in timelines for kind in t.notifications)
    return Metrics(
        incidents=count,
        resolved=len(resolved),
        mttd_s=fmean(detect) if detect else None,
        mttr_s=fmean(repair) if repair else None,
        toil_minutes_per_incident=human / count if count else None,
        false_remediation_rate=(
            sum(1 for t in executed if t.failed_remediation) / len(executed) if executed else None
        ),
        notifications_per_resolved=notifications / len(resolved) if resolved else None,
        raw_alerts_per_incident=(sum(t.raw_alerts for t in timelines) / count if count else None),
        compliance_rate=compliance_rate,
    )


def timelines_from_store(runtime: Runtime) -> list[IncidentTimeline]:
    out: list[IncidentTimeline] = []
    with runtime.store.unit_of_work() as uow:
        for incident in uow.list_incidents():
            executions = uow.executions_for(incident.incident_id)
            verifications = uow.verifications_for(incident.incident_id)
            executed = any(
                e.kind is StepKind.FORWARD and e.status is StepStatus.SUCCEEDED for e in executions
            )
            failed = executed and (
                incident.outcome is Outcome.ROLLED_BACK
                or any(v.verdict is not ProbeVerdict.CONVERGED for v in verifications)
            )
            alerts = sum(
                s.occurrences
                for s in uow.signals_for_incident(incident.incident_id)
                if s.signal.kind is SignalKind.ALERT
            )
            out.append(
                IncidentTimeline(
                    incident_id=incident.incident_id,
                    impact_started_at=incident.impact_started_at,
                    opened_at=incident.opened_at,
                    resolved_at=incident.resolved_at,
                    outcome=incident.outcome,
                    executed=executed,
                    failed_remediation=failed,
                    notifications=tuple(
                        n.kind for n in uow.notifications_for(incident.incident_id)
                    ),
                    raw_alerts=alerts,
                )
            )
    return out


def metrics_of(runtime: Runtime, toil: ToilModel | None = None) -> Metrics:
    return compute(timelines_from_store(runtime), compliance_of(runtime).rate, toil)
