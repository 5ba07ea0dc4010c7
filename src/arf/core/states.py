"""The incident state machine: one table of allowed transitions, one function that applies it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from arf.core.errors import IllegalTransitionError
from arf.core.records import Incident, IncidentState, Outcome, Transition

S = IncidentState

# The ledger entry kind of one state change (written with the change, in its transaction).
TRANSITION_KIND = "incident.transition"

ALLOWED_TRANSITIONS: Mapping[IncidentState, frozenset[IncidentState]] = {
    S.OPEN: frozenset({S.CONTEXT_READY, S.CLOSED, S.ESCALATED}),
    S.CONTEXT_READY: frozenset({S.DIAGNOSED, S.ESCALATED}),
    S.DIAGNOSED: frozenset({S.DECIDED, S.CLOSED, S.ESCALATED, S.CONTEXT_READY}),
    S.DECIDED: frozenset({S.READY, S.AWAITING_HUMAN, S.ESCALATED, S.CLOSED}),
    S.AWAITING_HUMAN: frozenset({S.READY, S.ESCALATED, S.CONTEXT_READY}),
    S.READY: frozenset({S.EXECUTING, S.ESCALATED}),
    S.EXECUTING: frozenset({S.VERIFYING, S.ROLLING_BACK}),
    S.VERIFYING: frozenset({S.RESOLVED, S.ROLLING_BACK}),
    S.ROLLING_BACK: frozenset({S.ESCALATED}),
    S.RESOLVED: frozenset({S.CLOSED}),
    S.ESCALATED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
}

TERMINAL_STATES = frozenset({S.RESOLVED, S.ESCALATED, S.CLOSED})

# States in which the control plane itself has work to do (as opposed to waiting for a person).
ACTIVE_STATES = frozenset(set(IncidentState) - TERMINAL_STATES)

_OUTCOME_ON_ENTRY: Mapping[IncidentState, Outcome] = {
    S.RESOLVED: Outcome.RESOLVED,
    S.ESCALATED: Outcome.ESCALATED,
}


def is_allowed(from_state: IncidentState, to_state: IncidentState) -> bool:
    return to_state in ALLOWED_TRANSITIONS[from_state]


def transition(
    incident: Incident,
    to_state: IncidentState,
    *,
    reason: str,
    at: datetime,
    actor: str,
    outcome: Outcome | None = None,
) -> tuple[Incident, Transition]:
    """Apply one state change. Pure: returns the new incident and the transition record.

    An illegal transition raises `IllegalTransitionError` and changes nothing.
    """
    if not is_allowed(incident.state, to_state):
        raise IllegalTransitionError(
            f"incident {incident.incident_id}: {incident.state.value} -> {to_state.value}"
            " is not an allowed transition"
        )
    new_outcome = outcome or _OUTCOME_ON_ENTRY.get(to_state, incident.outcome)
    update: dict[str, object] = {
        "state": to_state,
        "updated_at": at,
        "revision": incident.revision + 1,
        "outcome": new_outcome,
        "outcome_reason": reason if to_state in TERMINAL_STATES else incident.outcome_reason,
    }
    if to_state is S.RESOLVED:
        update["resolved_at"] = at
    changed = incident.model_copy(update=update)
    record = Transition(
        incident_id=incident.incident_id,
        from_state=incident.state,
        to_state=to_state,
        reason=reason[:2000],
        at=at,
        actor=actor,
    )
    return changed, record
