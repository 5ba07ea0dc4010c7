"""Similar-incident memory served from the store through the `IncidentHistory` port."""

from __future__ import annotations

from arf.core.ports import Store
from arf.core.records import Incident, PastIncident
from arf.core.states import TERMINAL_STATES


class StoreHistory:
    """Implements `arf.core.ports.IncidentHistory`: finished incidents that shared services
    with this one, most similar (Jaccard over services) and then most recent first."""

    def __init__(self, store: Store, window: int = 500) -> None:
        self._store = store
        self._window = window  # how many recent finished incidents are considered

    def similar(self, incident: Incident, limit: int) -> list[PastIncident]:
        mine = set(incident.services)
        found: list[PastIncident] = []
        with self._store.unit_of_work() as uow:
            finished = [
                i
                for i in uow.list_incidents(sorted(TERMINAL_STATES))
                if i.incident_id != incident.incident_id and i.opened_at < incident.opened_at
            ][-self._window :]
            for past in finished:
                shared = mine & set(past.services)
                if not shared:
                    continue
                similarity = len(shared) / len(mine | set(past.services))
                diagnosis = uow.latest_diagnosis(past.incident_id)
                decision = uow.latest_decision(past.incident_id)
                top = diagnosis.top_hypothesis() if diagnosis else None
                actions: tuple[str, ...] = ()
                if diagnosis and decision:
                    plan = next((p for p in diagnosis.plans if p.plan_id == decision.plan_id), None)
                    if plan is not None:
                        actions = tuple(f"{s.action}({s.target})" for s in plan.steps)
                found.append(
                    PastIncident(
                        incident_id=past.incident_id,
                        services=past.services,
                        opened_at=past.opened_at,
                        outcome=past.outcome,
                        cause=top.cause if top else past.outcome_reason[:2000],
                        actions=actions,
                        similarity=round(similarity, 4),
                    )
                )
        found.sort(key=lambda p: (-p.similarity, -p.opened_at.timestamp()))
        return found[:limit]
