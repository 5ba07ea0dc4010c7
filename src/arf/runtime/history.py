"""What governance and reasoning remember: similar past incidents (the `IncidentHistory` port)
and recent remediation runs (the policy input's `history`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from arf.core.ports import Store, UnitOfWork
from arf.core.records import (
    ActionRun,
    DecisionEnvelope,
    Incident,
    IncidentState,
    Outcome,
    PastIncident,
    Route,
    StepKind,
)
from arf.core.states import TERMINAL_STATES
from arf.governance.calibration import provenance
from arf.oversight.explain import IncidentRecords

S = IncidentState
# A remediation is in flight from its decision until it is verified, rolled back or escalated.
IN_FLIGHT = frozenset(
    {S.DECIDED, S.AWAITING_HUMAN, S.READY, S.EXECUTING, S.VERIFYING, S.ROLLING_BACK}
)


class StoreHistory:
    """Implements `arf.core.ports.IncidentHistory`: finished incidents that shared services
    with this one, most similar (Jaccard over services) and then most recent first."""

    def __init__(self, store: Store, window: int = 500) -> None:
        self._store = store
        self._window = window  # how many recent finished incidents are considered

    def similar(self, incident: Incident, limit: int) -> list[PastIncident]:
        mine = set(incident.services)
        with self._store.unit_of_work() as uow:
            finished = [
                i
                for i in uow.list_incidents(sorted(TERMINAL_STATES))
                if i.incident_id != incident.incident_id and i.opened_at < incident.opened_at
            ][-self._window :]
            ranked: list[tuple[float, Incident]] = []
            for past in finished:
                shared = mine & set(past.services)
                if shared:
                    ranked.append((len(shared) / len(mine | set(past.services)), past))
            ranked.sort(key=lambda r: (-round(r[0], 4), -r[1].opened_at.timestamp()))
            # only the incidents that are kept need their diagnosis and decision read
            return [self._past(uow, past, similarity) for similarity, past in ranked[:limit]]

    @staticmethod
    def _past(uow: UnitOfWork, past: Incident, similarity: float) -> PastIncident:
        diagnosis = uow.latest_diagnosis(past.incident_id)
        decision = uow.latest_decision(past.incident_id)
        top = diagnosis.top_hypothesis() if diagnosis else None
        actions: tuple[str, ...] = ()
        if diagnosis and decision:
            plan = diagnosis.plan(decision.plan_id)
            if plan is not None:
                actions = tuple(f"{s.action}({s.target})" for s in plan.steps)
        return PastIncident(
            incident_id=past.incident_id,
            services=past.services,
            opened_at=past.opened_at,
            outcome=past.outcome,
            cause=top.cause if top else past.outcome_reason[:2000],
            actions=actions,
            similarity=round(similarity, 4),
        )


class RunHistory:
    """Recent remediation steps (`ActionRun`) for governance's `history` input, from stored
    decisions, plans and executions. Finished incidents never change, so what was derived for
    an incident is kept until its revision moves."""

    def __init__(self, store: Store, window: timedelta) -> None:
        self._store = store
        self._window = window
        self._seen: dict[str, tuple[int, tuple[ActionRun, ...]]] = {}

    def runs(self, now: datetime) -> list[ActionRun]:
        found: list[ActionRun] = []
        with self._store.unit_of_work() as uow:
            for incident in uow.list_incidents(opened_since=now - self._window):
                cached = self._seen.get(incident.incident_id)
                if cached is None or cached[0] != incident.revision:
                    cached = (incident.revision, self._derive(uow, incident))
                    self._seen[incident.incident_id] = cached
                found.extend(cached[1])
        return found

    def _derive(self, uow: UnitOfWork, incident: Incident) -> tuple[ActionRun, ...]:
        decision = uow.latest_decision(incident.incident_id)
        if decision is None or decision.route is Route.DENY or decision.shadow:
            return ()
        diagnosis = uow.latest_diagnosis(incident.incident_id)
        plan = diagnosis.plan(decision.plan_id) if diagnosis else None
        if plan is None:
            return ()
        executed = [
            r for r in uow.executions_for(incident.incident_id) if r.kind is StepKind.FORWARD
        ]
        if incident.state in IN_FLIGHT:
            outcome = "in_progress"
        elif not executed:
            return ()  # decided but never run: rejected, expired or refused
        elif incident.outcome is Outcome.RESOLVED:
            outcome = "verified"
        elif incident.outcome is Outcome.ROLLED_BACK:
            outcome = "rolled_back"
        else:
            outcome = "failed"
        started = min((r.at for r in executed), default=decision.decided_at)
        runs = []
        kinds = _target_kinds(decision)
        source = provenance(diagnosis, plan) if diagnosis else ""
        for index, step in enumerate(plan.steps):
            kind = kinds[index] if index < len(kinds) else "resource"
            runs.append(
                ActionRun(
                    incident_id=incident.incident_id,
                    action=step.action,
                    target=step.target,
                    target_kind=kind,
                    route=decision.route,
                    at=started,
                    outcome=outcome,
                    plan_confidence=plan.confidence,
                    provenance=source,
                )
            )
        return tuple(runs)


def incident_records(store: Store, incident_id: str) -> IncidentRecords:
    """What an explanation of the incident draws on, read in one transaction."""
    with store.unit_of_work() as uow:
        return IncidentRecords(
            incident=uow.get_incident(incident_id),
            snapshot=uow.latest_snapshot(incident_id),
            diagnosis=uow.latest_diagnosis(incident_id),
            decision=uow.latest_decision(incident_id),
            approvals=uow.approvals_for(incident_id),
            executions=uow.executions_for(incident_id),
            verifications=uow.verifications_for(incident_id),
        )


def _target_kinds(decision: DecisionEnvelope) -> list[str]:
    """Each step's target kind as the decision recorded it (service, datastore, resource)."""
    steps = decision.policy_input.get("steps")
    kinds = []
    for item in steps if isinstance(steps, list) else []:
        target = item.get("target") if isinstance(item, dict) else None
        kind = target.get("kind") if isinstance(target, dict) else None
        kinds.append(kind if isinstance(kind, str) and kind else "resource")
    return kinds
