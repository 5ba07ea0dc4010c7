"""Approval rules: bound to the plan hash, by people with the role, quorum over distinct people.

An acknowledgement needs one person holding any of the listed roles (the owning team or
on-call). An approval needs `quorum` distinct people and, between them, every listed role: a
plan that needs `[approver, security]` is not approved by two approvers without security.

Checks are values: `check_approval` returns the reason an approval is refused, or None.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from arf.core.records import Approval, DecisionEnvelope, Route, Verdict
from arf.oversight.identities import Identity


def check_approval(
    decision: DecisionEnvelope,
    existing: Sequence[Approval],
    identity: Identity,
    plan_hash: str,
    now: datetime,
    requested_by: str | None = None,
) -> str | None:
    if decision.route not in (Route.APPROVE, Route.ACKNOWLEDGE):
        return f"the decision's route is {decision.route.value}: nothing to approve"
    if identity.is_system:
        return "ARF's own identity cannot approve"
    if requested_by is not None and identity.name == requested_by:
        return f"{identity.name} requested this remediation and cannot approve it"
    if plan_hash != decision.plan_hash:
        return "the approval names a different plan than the one decided (plan hash mismatch)"
    if decision.expires_at is not None and now > decision.expires_at:
        return "the decision expired; the incident was or will be escalated"
    if decision.required_roles and not identity.roles & set(decision.required_roles):
        return f"{identity.name} lacks a required role ({', '.join(decision.required_roles)})"
    if any(a.approver == identity.name and a.decision_id == decision.decision_id for a in existing):
        return f"{identity.name} already answered this request (replayed approval)"
    return None


def approvers(decision: DecisionEnvelope, approvals: Sequence[Approval]) -> set[str]:
    """Distinct people whose approval counts for this decision."""
    return {
        a.approver
        for a in approvals
        if a.verdict is Verdict.APPROVE
        and a.decision_id == decision.decision_id
        and a.plan_hash == decision.plan_hash
    }


def missing_roles(decision: DecisionEnvelope, approvals: Sequence[Approval]) -> set[str]:
    """Required roles no counted approver holds yet (empty for an acknowledgement once anyone
    with a listed role answered)."""
    counted = [
        a
        for a in approvals
        if a.verdict is Verdict.APPROVE
        and a.decision_id == decision.decision_id
        and a.plan_hash == decision.plan_hash
    ]
    held = {role for a in counted for role in a.roles}
    required = set(decision.required_roles)
    if decision.route is Route.ACKNOWLEDGE:
        return set() if (held & required or not required) and counted else required
    return required - held


def quorum_met(decision: DecisionEnvelope, approvals: Sequence[Approval]) -> bool:
    if len(approvers(decision, approvals)) < max(1, decision.quorum):
        return False
    return not missing_roles(decision, approvals)


def rejected(decision: DecisionEnvelope, approvals: Sequence[Approval]) -> Approval | None:
    for approval in approvals:
        if approval.verdict is Verdict.REJECT and approval.decision_id == decision.decision_id:
            return approval
    return None


def operations(decision: DecisionEnvelope) -> list[tuple[object, object, object]]:
    """What a decision's plan would run, step by step: (action, target, params), read from the
    recorded policy input (a new diagnosis of the same fault words its rationale and
    confidence differently, so its plan hash differs even when the operations do not)."""
    steps = decision.policy_input.get("steps")
    if not isinstance(steps, list):
        return []
    found: list[tuple[object, object, object]] = []
    for item in steps:
        action = item.get("action") if isinstance(item, dict) else None
        step = item.get("step") if isinstance(item, dict) else None
        if not isinstance(action, dict) or not isinstance(step, dict):
            return []  # not a policy input this code wrote: treat as different
        found.append((action.get("name"), step.get("target"), step.get("params")))
    return found


def repeats_request(
    previous: DecisionEnvelope | None, decision: DecisionEnvelope, approvals: Sequence[Approval]
) -> bool:
    """Whether `decision` asks the same people to allow the same operations as an earlier
    request nobody has answered yet (late evidence re-decided the incident and the fix did
    not change): the person already holds that request and is not paged again. Approvals
    still bind to the new decision and its plan hash."""
    if previous is None or previous.route not in (Route.APPROVE, Route.ACKNOWLEDGE):
        return False
    ops = operations(decision)
    return (
        previous.route == decision.route
        and previous.required_roles == decision.required_roles
        and previous.quorum == decision.quorum
        and bool(ops)
        and operations(previous) == ops
        and not any(a.decision_id == previous.decision_id for a in approvals)
    )
