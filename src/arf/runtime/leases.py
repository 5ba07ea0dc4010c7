"""Per-target leases: one remediation executes on a target at a time.

Governance already denies a second remediation while one is in flight on the same target
(the `one-remediation-per-target` rule), but a decision and an execution are moments apart
and several workers may run the lifecycle: the lease is the executor-side guarantee. An
incident claims every target of its plan before it starts and renews the claim before every
step; the claim is all or nothing, expires after `lease_ttl_s` (a crashed worker does not
block a target forever; the same incident resumes its own lease), and is released when the
incident reaches a terminal state.
"""

from __future__ import annotations

from datetime import timedelta

from arf.core.records import RemediationPlan
from arf.ledger import chain
from arf.runtime.container import Runtime


def claim_targets(runtime: Runtime, incident_id: str, plan: RemediationPlan) -> str:
    """Claim or renew the plan's targets; '' when held, else who holds what (recorded on the
    ledger the first time an incident has to wait for a given holder)."""
    now = runtime.clock.now()
    until = now + timedelta(seconds=runtime.settings.lease_ttl_s)
    targets = sorted({step.target for step in plan.steps})
    with runtime.store.unit_of_work() as uow:
        held = uow.claim_targets(incident_id, targets, now, until)
        if not held:
            return ""
        summary = ", ".join(
            f"{target} (held by {holder})" for target, holder in sorted(held.items())
        )
        recent = uow.ledger_for_incident(incident_id)[-3:]
        if not any(
            e.kind == "execution.waiting" and e.payload.get("held") == summary for e in recent
        ):
            chain.append(uow, "execution.waiting", incident_id, {"held": summary}, now)
    return summary
