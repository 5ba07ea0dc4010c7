"""From a grounded plan to a DecisionEnvelope: policy, risk, limits and the principle floors.

Floors enforced in code whatever the policy says:
- a plan larger than the bundle's blast-radius limit is denied;
- a plan with an irreversible step is never autonomous (at least approval);
- a target missing from the service catalog is treated as critical.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from arf.core.records import (
    ActionSpec,
    BlastRadius,
    Criticality,
    DecisionEnvelope,
    Diagnosis,
    Effect,
    Incident,
    MatchedRule,
    RemediationPlan,
    Route,
)
from arf.governance.policy import PolicyBundle, evaluate
from arf.governance.risk import risk_score
from arf.governance.service_catalog import ServiceCatalog

ROUTE_FOR_EFFECT = {
    Effect.ALLOW: Route.AUTONOMOUS,
    Effect.ACKNOWLEDGE: Route.ACKNOWLEDGE,
    Effect.APPROVE: Route.APPROVE,
    Effect.DENY: Route.DENY,
}


@dataclass(frozen=True)
class DecisionRequest:
    decision_id: str
    incident: Incident
    diagnosis: Diagnosis
    plan: RemediationPlan
    blast_radius: BlastRadius
    signal_count: int
    now: datetime


def build_inputs(
    request: DecisionRequest, specs: Mapping[str, ActionSpec], catalog: ServiceCatalog
) -> list[dict[str, Any]]:
    """One policy input per plan step (documented in docs/policy.md)."""
    plan, incident, diagnosis = request.plan, request.incident, request.diagnosis
    top = diagnosis.top_hypothesis()
    inputs: list[dict[str, Any]] = []
    for step in plan.steps:
        spec = specs[step.action]
        info = catalog.service(step.target)
        inputs.append(
            {
                "action": {
                    "name": spec.name,
                    "risk_class": spec.risk_class.value,
                    "reversible": spec.reversible,
                    "security_sensitive": spec.security_sensitive,
                    "permissions": list(spec.permissions),
                },
                "step": {"target": step.target, "params": dict(step.params)},
                "plan": {
                    "steps": len(plan.steps),
                    "confidence": plan.confidence,
                    "resources": request.blast_radius.resources,
                    "services": request.blast_radius.services,
                    "replicas": request.blast_radius.replicas,
                },
                "target": {
                    "name": step.target,
                    "environment": info.environment if info else incident.environment,
                    "criticality": info.criticality.value if info else Criticality.CRITICAL.value,
                    "owner": info.owner if info else "unknown",
                    "kind": info.kind if info else "resource",
                },
                "diagnosis": {
                    "confidence": plan.confidence,
                    "reasoner": diagnosis.reasoner,
                    "category": top.category.value if top else "unknown",
                },
                "incident": {
                    "severity": incident.severity.value,
                    "services": list(incident.services),
                    "signals": request.signal_count,
                },
                "risk": {"score": 0.0},
                "now": {"hour": request.now.hour, "weekday": request.now.isoweekday()},
            }
        )
    return inputs


def decide(
    request: DecisionRequest,
    bundle: PolicyBundle,
    specs: Mapping[str, ActionSpec],
    catalog: ServiceCatalog,
) -> DecisionEnvelope:
    plan = request.plan
    step_specs: Sequence[ActionSpec] = [specs[s.action] for s in plan.steps]
    criticalities = [
        info.criticality if (info := catalog.service(s.target)) else Criticality.CRITICAL
        for s in plan.steps
    ]
    score, factors = risk_score(step_specs, criticalities, request.blast_radius, plan.confidence)
    inputs = build_inputs(request, specs, catalog)
    for item in inputs:
        item["risk"]["score"] = score
    result = evaluate(bundle, inputs)
    matched = list(result.matched)
    effect = result.effect
    if effect is None:
        if score < bundle.autonomous_below:
            effect = Effect.ALLOW
        elif score < bundle.acknowledge_below:
            effect = Effect.ACKNOWLEDGE
        else:
            effect = Effect.APPROVE
        matched.append(
            MatchedRule(
                rule_id="risk-threshold",
                effect=effect,
                reason=f"no rule matched; risk {score:.2f} against thresholds"
                f" {bundle.autonomous_below}/{bundle.acknowledge_below}",
            )
        )
    if request.blast_radius.resources > bundle.max_resources:
        matched.append(
            MatchedRule(
                rule_id="limit-blast-radius",
                effect=Effect.DENY,
                reason=f"changes {request.blast_radius.resources} resources; the limit is"
                f" {bundle.max_resources}",
            )
        )
        effect = Effect.DENY
    if not all(s.reversible for s in step_specs) and effect.strictness < Effect.APPROVE.strictness:
        matched.append(
            MatchedRule(
                rule_id="principle-irreversible",
                effect=Effect.APPROVE,
                reason="an irreversible action is never autonomous",
            )
        )
        effect = Effect.APPROVE
    route = ROUTE_FOR_EFFECT[effect]
    roles: tuple[str, ...] = ()
    quorum = 0
    expires_at = None
    if route is Route.APPROVE:
        roles = result.roles or bundle.default_roles
        quorum = max(1, result.quorum)
        expires_at = request.now + timedelta(minutes=bundle.approval_expiry_minutes)
    elif route is Route.ACKNOWLEDGE:
        roles = bundle.default_roles
        quorum = 1
        expires_at = request.now + timedelta(minutes=bundle.acknowledge_expiry_minutes)
    return DecisionEnvelope(
        decision_id=request.decision_id,
        incident_id=request.incident.incident_id,
        plan_id=plan.plan_id,
        plan_hash=plan.plan_hash(),
        policy_version=f"{bundle.name}@{bundle.version_hash[:16]}",
        matched_rules=tuple(matched),
        risk_score=score,
        risk_factors=factors,
        route=route,
        required_roles=roles,
        quorum=quorum,
        blast_radius=request.blast_radius,
        max_resources=bundle.max_resources,
        decided_at=request.now,
        expires_at=expires_at,
        policy_input={"steps": inputs},
    )
