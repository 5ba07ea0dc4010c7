"""A decision waits while another incident's remediation is in flight on one of its targets.

Two incidents can point at one root (they opened in the same moment, or a later symptom
arrived after the first incident's window closed). The second plan would hit the policy's
`one-remediation-per-target` and escalate to a person, although the first remediation may be
about to fix it. Instead the second incident stays `diagnosed`, its ledger says whom it waits
for (`decision.deferred`, once per set of holders and snapshot version), and when the holders
are done it is reassessed on a new snapshot of the world they left (back to `context_ready`,
within `ContextRules.max_versions`), so a fault already fixed closes as such instead of being
"fixed" twice. Who holds a target is `governance.decide.in_flight_holders`, the count the
policy rule reads; the rule stays as the floor for whatever still collides.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from arf.core.records import ContextSnapshot
from arf.ledger import chain
from arf.runtime.container import Runtime

KIND = "decision.deferred"


def record_deferral(
    rt: Runtime, incident_id: str, snapshot: ContextSnapshot, busy: dict[str, list[str]]
) -> None:
    """Write `decision.deferred` unless the latest one already says the same."""
    payload = {
        "waiting_for": sorted(busy),
        "targets": sorted({t for targets in busy.values() for t in targets}),
        "snapshot_version": snapshot.version,
    }
    with rt.store.unit_of_work() as uow:
        earlier = [e.payload for e in uow.ledger_for_incident(incident_id) if e.kind == KIND]
        if not earlier or earlier[-1] != payload:
            chain.append(uow, KIND, incident_id, payload, rt.clock.now())


def after_deferral(
    rt: Runtime, incident_id: str, snapshot: ContextSnapshot
) -> Literal["decide", "settle", "reassess"]:
    """What to do with an incident no longer blocked: "decide" (it never waited since
    `snapshot`, or no new version is left), "settle" (what it waited for ended less than
    `settle_s` ago: its own symptoms may still be clearing), or "reassess"."""
    if snapshot.version >= rt.context_rules.max_versions:
        return "decide"
    with rt.store.unit_of_work() as uow:
        waited = [
            e.payload
            for e in uow.ledger_for_incident(incident_id)
            if e.kind == KIND and e.payload.get("snapshot_version") == snapshot.version
        ]
        if not waited:
            return "decide"
        names = {str(i) for p in waited for i in _names(p.get("waiting_for"))}
        ended = [uow.get_incident(i).updated_at for i in sorted(names)]
    settle = timedelta(seconds=rt.settings.group_wait_s)
    if ended and rt.clock.now() - max(ended) < settle:
        return "settle"
    return "reassess"


def _names(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []
