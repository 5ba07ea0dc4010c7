"""The per-incident error boundary: an error while advancing one incident never stops others.

An unexpected error while advancing an incident (a poisoned diagnosis, a driver bug, a probe
that raises) is recorded in the ledger as an `incident.fault` entry with the state, the
error's type and its redacted message. The incident is tried again on a later pass; after
`max_faults` faults in one state ARF gives up on it: it is escalated to a person, or, when a
remediation is under way (executing, verifying), rolled back first, which escalates in turn.
If even recording the fault fails (the store is down), the error is logged and the incident is
tried again later; nothing is lost, because nothing was committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from arf.core.ports import UnitOfWork
from arf.core.records import Incident
from arf.core.states import TRANSITION_KIND
from arf.ledger import chain
from arf.runtime.container import Runtime

KIND = "incident.fault"
MAX_ERROR_CHARS = 300

log = logging.getLogger(__name__)

# Gives up on an incident inside the caller's unit of work: escalate it, or roll back first.
GiveUp = Callable[[UnitOfWork, Incident, str], None]


@dataclass(frozen=True)
class FaultRules:
    max_faults: int = 3  # faults in one state before ARF gives the incident to a person


class FaultBoundary:
    def __init__(self, runtime: Runtime, give_up: GiveUp, rules: FaultRules | None = None):
        self._rt = runtime
        self._give_up = give_up
        self._rules = rules or FaultRules()

    def describe(self, exc: BaseException) -> str:
        """The error as one redacted, bounded line (no traceback, no secret it carried)."""
        try:
            message = " ".join(str(exc).split())
            text = f"{exc.__class__.__name__}: {message}" if message else exc.__class__.__name__
            return self._rt.redactor.redact_text(text)[:MAX_ERROR_CHARS]
        except Exception:  # noqa: BLE001 - an error whose text cannot be read is still an error
            return exc.__class__.__name__[:MAX_ERROR_CHARS]

    def store_unavailable(self, exc: BaseException) -> None:
        """The store itself failed: no incident's fault, nothing recorded; retried later."""
        log.warning("the store is unavailable; advancing again later: %s", self.describe(exc))

    def record(self, incident_id: str, exc: BaseException) -> None:
        """Record one fault of an incident; give it up after `max_faults` in one state.

        The fault entry commits on its own, so the count grows even when giving up fails
        (then tried again at the next fault)."""
        error = self.describe(exc)
        log.warning("incident %s: error while advancing it: %s", incident_id, error)
        try:
            with self._rt.store.unit_of_work() as uow:
                incident = uow.get_incident(incident_id)
                count = _faults_in_state(uow, incident_id) + 1
                chain.append(
                    uow,
                    KIND,
                    incident_id,
                    {
                        "state": incident.state.value,
                        "error": error,
                        "fault": count,
                        "max_faults": self._rules.max_faults,
                    },
                    self._rt.clock.now(),
                )
            if count >= self._rules.max_faults:
                reason = (
                    f"ARF could not advance this incident: {count} errors in state"
                    f" {incident.state.value}; the last: {error}"
                )
                with self._rt.store.unit_of_work() as uow:
                    self._give_up(uow, uow.get_incident(incident_id), reason)
                log.error("incident %s: given up after %d faults", incident_id, count)
        except Exception as again:  # noqa: BLE001 - the boundary itself must not raise
            log.error(
                "incident %s: could not record its fault or give it up (%s); tried again later",
                incident_id,
                self.describe(again),
            )


def _faults_in_state(uow: UnitOfWork, incident_id: str) -> int:
    """Faults recorded since the incident's last transition."""
    count = 0
    for entry in reversed(uow.ledger_for_incident(incident_id)):
        if entry.kind == TRANSITION_KIND:
            break
        if entry.kind == KIND:
            count += 1
    return count
