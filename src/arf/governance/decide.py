"""From a grounded plan to a DecisionEnvelope: policy, risk, limits, autonomy and history.

`decide` is pure: everything it needs (the catalog, the recent remediation history, the
operator controls, the time) comes in the request; the same request always gives the same
decision, and the policy input it evaluated is stored in the envelope for replay.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import JsonValue

from arf.core.canonical import canonical_json
from arf.core.records import (
    ActionRun,
    ActionSpec,
    Autonomy,
    BlastRadius,
    Controls,
    Criticality,
    DecisionEnvelope,
    Diagnosis,
    Incident,
    PlanStep,
    RemediationPlan,
    Route,
)
from arf.governance.calibration import (
    FINISHED,
    Calibrated,
    CalibrationRules,
    calibrate,
    plan_outcomes,
    provenance,
)
from arf.governance.policy import ROUTE_FOR_EFFECT, PolicyBundle, route
from arf.governance.risk import RiskInputs, risk_score
from arf.governance.service_catalog import ServiceCatalog


@dataclass(frozen=True)
class DecisionRequest:
    decision_id: str
    incident: Incident
    diagnosis: Diagnosis
    plan: RemediationPlan
    blast_radius: BlastRadius
    signal_count: int
    now: datetime
    history: Sequence[ActionRun] = ()  # recent remediation steps, any incident
    controls: Controls = field(default_factory=Controls)


def params_text(value: JsonValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    try:
        return canonical_json(value)
    except ValueError:  # NaN or infinity inside a list or map
        return str(value)


def agreement(diagnosis: Diagnosis, plan: RemediationPlan) -> float:
    """Share of the reasoners that answered which put the plan's hypothesis forward (1.0 when a
    single reasoner answered)."""
    answered = {r for h in diagnosis.hypotheses for r in h.reasoners}
    if len(answered) < 2:
        return 1.0
    backing: set[str] = set()
    for hypothesis in diagnosis.hypotheses:
        if hypothesis.hypothesis_id in plan.hypothesis_ids:
            backing |= set(hypothesis.reasoners)
    return round(len(backing) / len(answered), 4)


def in_flight_holders(
    runs: Sequence[ActionRun], incident_id: str, targets: Iterable[str]
) -> dict[str, list[str]]:
    """Other incidents with a remediation in flight on any of `targets`, with those targets
    (what `one-remediation-per-target` counts, and what a deferred decision waits for)."""
    wanted = set(targets)
    found: dict[str, list[str]] = {}
    for run in runs:
        if run.outcome != "in_progress" or run.incident_id == incident_id:
            continue
        if run.target in wanted and run.target not in found.get(run.incident_id, []):
            found.setdefault(run.incident_id, []).append(run.target)
    return found


def step_history(
    runs: Sequence[ActionRun],
    step: PlanStep,
    target_kind: str,
    incident_id: str,
    now: datetime,
) -> dict[str, Any]:
    """What the policy input's `history` section says about one step."""
    others = [r for r in runs if r.incident_id != incident_id and r.at <= now]
    on_target = [r for r in others if r.target == step.target]
    same_action = [
        r
        for r in others
        if r.action == step.action
        and r.target_kind == target_kind
        and r.outcome in FINISHED
        and r.at >= now - timedelta(days=30)
    ]
    failures = sum(1 for r in same_action if r.outcome != "verified")
    return {
        "target_runs_24h": sum(1 for r in on_target if r.at >= now - timedelta(hours=24)),
        "service_autonomous_1h": sum(
            1 for r in on_target if r.route is Route.AUTONOMOUS and r.at >= now - timedelta(hours=1)
        ),
        "active_on_target": len(in_flight_holders(others, incident_id, [step.target])),
        "action_runs": len(same_action),
        "action_failures": failures,
        "action_failure_rate": round(failures / len(same_action), 4) if same_action else 0.0,
    }


def calibrated(request: DecisionRequest, rules: CalibrationRules) -> Calibrated:
    """The plan's confidence calibrated against the finished plans in the request's history."""
    outcomes = plan_outcomes(
        request.history,
        request.incident.incident_id,
        request.now,
        timedelta(days=rules.window_days),
    )
    return calibrate(
        request.plan.confidence,
        provenance(request.diagnosis, request.plan),
        outcomes,
        rules,
    )


def plan_support(diagnosis: Diagnosis, plan: RemediationPlan) -> list[str]:
    """What the hypotheses a plan addresses rest on besides their evidence (sorted)."""
    wanted = set(plan.hypothesis_ids)
    return sorted(
        {s.value for h in diagnosis.hypotheses if h.hypothesis_id in wanted for s in h.support}
    )


def action_input(spec: ActionSpec) -> dict[str, Any]:
    """The `action` section of the policy input: what the action declares of itself."""
    return {
        "name": spec.name,
        "risk_class": spec.risk_class.value,
        "reversible": spec.reversible,
        "security_sensitive": spec.security_sensitive,
        "permissions": list(spec.permissions),
        "target_kind": spec.target_kind,
        "tags": list(spec.tags),
        "operations": list(spec.operations),
    }


def build_inputs(
    request: DecisionRequest,
    specs: Mapping[str, ActionSpec],
    catalog: ServiceCatalog,
    score: float,
    confidence: Calibrated,
) -> list[dict[str, Any]]:
    """One policy input per plan step (documented in docs/policy.md)."""
    plan, incident, diagnosis, now = request.plan, request.incident, request.diagnosis, request.now
    top = diagnosis.top_hypothesis()
    agreed = agreement(diagnosis, plan)
    support = plan_support(diagnosis, plan)
    inputs: list[dict[str, Any]] = []
    for index, step in enumerate(plan.steps):
        spec = specs[step.action]
        info = catalog.service(step.target)
        granted = info.autonomy_for(step.action) if info else Autonomy.AUTONOMOUS
        if request.controls.shadow:
            granted = Autonomy.SHADOW
        budget = info.error_budget_remaining if info else 1.0
        inputs.append(
            {
                "action": action_input(spec),
                "step": {
                    "index": index,
                    "target": step.target,
                    "params": dict(step.params),
                    "params_text": {k: params_text(v) for k, v in step.params.items()},
                },
                "plan": {
                    "steps": len(plan.steps),
                    "confidence": confidence.value,
                    "resources": request.blast_radius.resources,
                    "services": request.blast_radius.services,
                    "replicas": request.blast_radius.replicas,
                    "replica_share": request.blast_radius.replica_share,
                },
                "target": {
                    "name": step.target,
                    "known": info is not None,
                    "environment": info.environment if info else incident.environment,
                    "criticality": info.criticality.value if info else Criticality.CRITICAL.value,
                    "owner": info.owner if info else "unknown",
                    "kind": info.kind if info else "resource",
                    "frozen": bool(info and info.frozen_at(now)),
                    "autonomy": granted.value,
                    "error_budget_remaining": budget,
                    "error_budget_exhausted": budget <= 0.0,
                },
                "diagnosis": {
                    "confidence": confidence.value,
                    "raw_confidence": confidence.raw,
                    "calibration_outcomes": confidence.outcomes,
                    "provenance": confidence.provenance,
                    "reasoner": diagnosis.reasoner,
                    "category": top.category.value if top else "unknown",
                    "agreement": agreed,
                    "support": support,
                },
                "incident": {
                    "severity": incident.severity.value,
                    "services": list(incident.services),
                    "signals": request.signal_count,
                },
                "history": step_history(
                    request.history,
                    step,
                    info.kind if info else "resource",
                    incident.incident_id,
                    now,
                ),
                "risk": {"score": score},
                "now": {"hour": now.hour, "minute": now.minute, "weekday": now.isoweekday()},
            }
        )
    return inputs


def decide(
    request: DecisionRequest,
    bundle: PolicyBundle,
    specs: Mapping[str, ActionSpec],
    catalog: ServiceCatalog,
) -> DecisionEnvelope:
    plan, now = request.plan, request.now
    step_specs = [specs[s.action] for s in plan.steps]
    infos = [catalog.service(s.target) for s in plan.steps]
    confidence = calibrated(request, bundle.calibration)
    provisional = build_inputs(request, specs, catalog, 0.0, confidence)
    score, factors = risk_score(
        RiskInputs(
            risk_classes=[s.risk_class for s in step_specs],
            criticalities=[i.criticality if i else Criticality.CRITICAL for i in infos],
            blast=request.blast_radius,
            all_reversible=all(s.reversible for s in step_specs),
            confidence=confidence.value,
            agreement=provisional[0]["diagnosis"]["agreement"],  # the same for every step
            failure_rates=[
                (i["history"]["action_runs"], i["history"]["action_failure_rate"])
                for i in provisional
            ],
            budget_remaining=min((i.error_budget_remaining if i else 1.0) for i in infos),
            hour=now.hour,
            weekday=now.isoweekday(),
        )
    )
    inputs = provisional
    for item in inputs:
        item["risk"]["score"] = score
    routing = route(bundle, inputs)
    chosen = ROUTE_FOR_EFFECT[routing.effect]
    roles: tuple[str, ...] = ()
    quorum = 0
    expires_at = None
    if chosen is Route.APPROVE:
        roles = routing.roles or bundle.default_roles
        quorum = max(1, routing.quorum)
        expires_at = now + timedelta(minutes=bundle.approval_expiry_minutes)
    elif chosen is Route.ACKNOWLEDGE:
        owners = sorted({i.owner for i in infos if i is not None})
        roles = tuple(dict.fromkeys([*owners, *bundle.acknowledge_roles])) or bundle.default_roles
        quorum = 1
        expires_at = now + timedelta(minutes=bundle.acknowledge_expiry_minutes)
    return DecisionEnvelope(
        decision_id=request.decision_id,
        incident_id=request.incident.incident_id,
        plan_id=plan.plan_id,
        plan_hash=plan.plan_hash(),
        policy_version=bundle.version,
        matched_rules=routing.matched,
        risk_score=score,
        risk_factors=factors,
        route=chosen,
        required_roles=roles,
        quorum=quorum,
        blast_radius=request.blast_radius,
        max_resources=bundle.max_resources,
        max_replica_share=bundle.max_replica_share,
        decided_at=now,
        expires_at=expires_at,
        policy_input={"steps": inputs},
        shadow=routing.shadow,
    )
