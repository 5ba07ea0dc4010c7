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
