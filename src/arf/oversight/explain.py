"""The explanation of a routed plan, for people: rationale, evidence, impact, rollback, rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import JsonValue

from arf.core.records import (
    Approval,
    ContextSnapshot,
    DecisionEnvelope,
    Diagnosis,
    ExecutionRecord,
    Incident,
    RemediationPlan,
    VerificationResult,
)


@dataclass(frozen=True)
class IncidentRecords:
    """Everything stored about one incident that an explanation draws on."""

    incident: Incident
    snapshot: ContextSnapshot | None
    diagnosis: Diagnosis | None
    decision: DecisionEnvelope | None
    approvals: Sequence[Approval]
    executions: Sequence[ExecutionRecord]
    verifications: Sequence[VerificationResult]

    def routed_plan(self) -> RemediationPlan | None:
        if self.diagnosis is None or self.decision is None:
            return None
        return self.diagnosis.plan(self.decision.plan_id)


def explain_markdown(records: IncidentRecords) -> str:
    incident, snapshot, diagnosis = records.incident, records.snapshot, records.diagnosis
    decision, approvals = records.decision, records.approvals
    executions, verifications = records.executions, records.verifications
    out = [f"# {incident.incident_id}: {incident.title}", ""]
    out.append(
        f"- state: **{incident.state.value}**, outcome: {incident.outcome.value}"
        + (f" ({incident.outcome_reason})" if incident.outcome_reason else "")
    )
    out.append(
        f"- services: {', '.join(incident.services)}; environment"
        f" {incident.environment}; severity {incident.severity.value}"
    )
    out.append(
        f"- impact started {incident.impact_started_at.isoformat()}, opened"
        f" {incident.opened_at.isoformat()}"
        + (f", resolved {incident.resolved_at.isoformat()}" if incident.resolved_at else "")
    )
    evidence = {e.evidence_id: e for e in snapshot.evidence} if snapshot else {}
    if diagnosis is not None:
        model = f", {diagnosis.model_id}" if diagnosis.model_id else ""
        out += ["", f"## Diagnosis ({diagnosis.reasoner}{model})", ""]
        out += [f"- note: {note}" for note in diagnosis.notes[:5]]
        for hypothesis in diagnosis.hypotheses[:5]:
            by = f", from {' + '.join(hypothesis.reasoners)}" if hypothesis.reasoners else ""
            out.append(
                f"- **{hypothesis.cause}** ({hypothesis.category.value}, confidence"
                f" {hypothesis.confidence:.2f}{by})"
            )
            for evidence_id in hypothesis.evidence_ids[:6]:
                item = evidence.get(evidence_id)
                text = item.summary if item else "(not in snapshot)"
                out.append(f"  - evidence `{evidence_id}`: {text}")
            for alternative in hypothesis.rejected_alternatives[:3]:
                out.append(f"  - not blamed: {alternative}")
    plan = records.routed_plan()
    if plan is not None and decision is not None:
        shadow = " (shadow mode: not executed)" if decision.shadow else ""
        out += ["", "## Plan", ""]
        for index, step in enumerate(plan.steps, start=1):
            params = ", ".join(f"{k}={v}" for k, v in sorted(step.params.items()))
            out.append(f"{index}. `{step.action}` on `{step.target}` ({params})")
        out += [
            "",
            f"- rationale: {plan.rationale}",
            f"- expected impact: {plan.expected_impact}",
            f"- rollback: {plan.rollback}",
            f"- confidence: {_confidence_line(plan.confidence, decision)}",
            f"- blast radius: {decision.blast_radius.services} service(s),"
            f" {decision.blast_radius.resources} resource(s),"
            f" {decision.blast_radius.replicas} replica(s),"
            f" {decision.blast_radius.replica_share:.0%} of a target's capacity at once",
            f"- plan hash: `{decision.plan_hash}`",
            "",
            f"## Decision: {decision.route.value}{shadow}"
            f" (risk {decision.risk_score:.2f}, policy {decision.policy_version})",
            "",
        ]
        for rule in decision.matched_rules:
            out.append(f"- {rule.effect.value} by `{rule.rule_id}`: {rule.reason}")
        out.append(
            "- risk factors: "
            + ", ".join(f"{f.name} {f.value:.2f}x{f.weight:.2f}" for f in decision.risk_factors)
        )
        if decision.required_roles:
            out.append(
                f"- needs {decision.quorum} of roles {', '.join(decision.required_roles)}"
                + (f", expires {decision.expires_at.isoformat()}" if decision.expires_at else "")
            )
    if approvals:
        out += ["", "## Approvals", ""]
        out += [
            f"- {a.verdict.value} by {a.approver} at {a.at.isoformat()}"
            + (f": {a.reason}" if a.reason else "")
            for a in approvals
        ]
    if executions:
        out += ["", "## Execution", ""]
        out += [
            f"- {e.kind.value} step {e.step_index + 1} `{e.action}` on {e.target}:"
            f" {e.status.value} {e.detail}"
            for e in executions
        ]
    if verifications:
        out += ["", "## Verification", ""]
        for result in verifications:
            out.append(f"- {result.phase.value}: **{result.verdict.value}**")
            for probe in result.probes:
                if probe.verdict.value != "converged" or probe.probe == "rescan":
                    out.append(
                        f"  - {probe.target} {probe.probe}: {probe.verdict.value} {probe.detail}"
                    )
    return "\n".join(out) + "\n"


def explain_json(records: IncidentRecords) -> dict[str, JsonValue]:
    """The same explanation as data: what a chat bot, a ticket or a dashboard renders."""
    incident, snapshot, diagnosis = records.incident, records.snapshot, records.diagnosis
    decision, plan = records.decision, records.routed_plan()
    evidence = {e.evidence_id: e for e in snapshot.evidence} if snapshot else {}
    hypotheses: list[JsonValue] = [
        {
            "cause": h.cause,
            "category": h.category.value,
            "confidence": h.confidence,
            "reasoners": list(h.reasoners),
            "evidence": [
                {
                    "id": evidence_id,
                    "summary": evidence[evidence_id].summary if evidence_id in evidence else None,
                }
                for evidence_id in h.evidence_ids
            ],
            "rejected_alternatives": list(h.rejected_alternatives),
        }
        for h in (diagnosis.hypotheses if diagnosis else ())
    ]
    document: dict[str, JsonValue] = {
        "incident": incident.model_dump(mode="json"),
        "diagnosis": None
        if diagnosis is None
        else {
            "reasoner": diagnosis.reasoner,
            "model_id": diagnosis.model_id,
            "notes": list(diagnosis.notes),
            "hypotheses": hypotheses,
        },
        "plan": None
        if plan is None
        else {
            "steps": [s.model_dump(mode="json") for s in plan.steps],
            "rationale": plan.rationale,
            "expected_impact": plan.expected_impact,
            "rollback": plan.rollback,
            "confidence": plan.confidence,
        },
        "decision": None
        if decision is None
        else {
            "route": decision.route.value,
            "shadow": decision.shadow,
            "plan_hash": decision.plan_hash,
            "policy_version": decision.policy_version,
            "risk_score": decision.risk_score,
            **routed_confidence(decision),
            "risk_factors": [f.model_dump(mode="json") for f in decision.risk_factors],
            "matched_rules": [m.model_dump(mode="json") for m in decision.matched_rules],
            "blast_radius": decision.blast_radius.model_dump(mode="json"),
            "limits": {
                "max_resources": decision.max_resources,
                "max_replica_share": decision.max_replica_share,
            },
            "required_roles": list(decision.required_roles),
            "quorum": decision.quorum,
            "expires_at": decision.expires_at.isoformat() if decision.expires_at else None,
        },
        "approvals": [a.model_dump(mode="json") for a in records.approvals],
        "executions": [e.model_dump(mode="json") for e in records.executions],
        "verifications": [v.model_dump(mode="json") for v in records.verifications],
    }
    return document


def routed_confidence(decision: DecisionEnvelope) -> dict[str, JsonValue]:
    """The confidence governance routed on, as the decision recorded it (calibrated against
    finished plans; decisions recorded before calibration carry none)."""
    steps = decision.policy_input.get("steps")
    first = steps[0] if isinstance(steps, list) and steps else None
    seen = first.get("diagnosis") if isinstance(first, dict) else None
    if not isinstance(seen, dict) or "calibration_outcomes" not in seen:
        return {}
    return {
        "confidence": seen.get("confidence"),
        "raw_confidence": seen.get("raw_confidence"),
        "calibration_outcomes": seen.get("calibration_outcomes"),
        "provenance": seen.get("provenance"),
    }


def _confidence_line(claimed: float, decision: DecisionEnvelope) -> str:
    routed = routed_confidence(decision)
    outcomes = routed.get("calibration_outcomes")
    value = routed.get("confidence")
    if not isinstance(outcomes, int) or not outcomes or not isinstance(value, float | int):
        return f"{claimed:.2f}"
    return (
        f"{claimed:.2f} claimed, routed on {value:.2f} (calibrated on {outcomes} finished"
        f" {routed.get('provenance')} plans)"
    )
