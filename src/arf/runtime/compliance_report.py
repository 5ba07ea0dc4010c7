"""`arf report compliance`: what ARF did, per executed action, read back from the ledger alone.

Everything in the report comes from ledger entries (whose integrity `verify` establishes),
not from the store's tables, so an auditor can reproduce it from an export.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from arf.core.records import LedgerEntry
from arf.runtime.audit import compliance

# (ARF control, NIST AI RMF function, ISO/IEC 27001:2022 Annex A, SRE practice)
CONTROLS: tuple[tuple[str, str, str, str], ...] = (
    (
        "Deterministic policy gate; deny wins; any error denies",
        "GOVERN (policies), MANAGE (risk treatment)",
        "A.8.32 Change management",
        "change gating by policy; stricter rules when the error budget is spent (planned)",
    ),
    (
        "Grounding gate: model output is data; catalogued actions only",
        "MAP (context), MEASURE (security and resilience)",
        "A.8.32 Change management",
        "runbook-defined actions only",
    ),
    (
        "Approvals bound to the plan hash; roles, quorum, expiry",
        "GOVERN (accountability)",
        "A.5.15 Access control, A.8.32 Change management",
        "human sign-off for risky changes",
    ),
    (
        "No self-approval; ARF's own identity cannot approve",
        "GOVERN (roles and responsibilities)",
        "A.5.3 Segregation of duties",
        "two-person rule for high-risk changes",
    ),
    ("Hashed API tokens; authenticated endpoints", "GOVERN", "A.8.5 Secure authentication", "-"),
    (
        "Verification after every action; rollback on regression",
        "MANAGE (monitoring, response)",
        "A.8.16 Monitoring activities, A.8.32",
        "verify releases against SLOs; roll back on burn",
    ),
    (
        "Hash-chained ledger, Merkle tree, signed checkpoints, witness",
        "GOVERN (transparency), MEASURE (tracking)",
        "A.8.15 Logging, A.8.24 Use of cryptography",
        "blameless, complete incident records",
    ),
)


@dataclass
class ActionRecord:
    incident_id: str
    executed_at: str
    plan_hash: str
    route: str
    risk_score: float | None
    policy_version: str
    matched_rules: list[str]
    rollback_declared: str
    approvals: list[str]
    steps: list[str]
    verifications: list[str]
    rolled_back: bool
    compliant: bool
    problems: list[str] = field(default_factory=list)


@dataclass
class ComplianceReport:
    since: str
    generated_at: str
    executed: int
    compliant: int
    rate: float | None
    actions: list[ActionRecord]
    controls: list[dict[str, str]]


def build(entries: Sequence[LedgerEntry], since: datetime, now: datetime) -> ComplianceReport:
    by_incident: dict[str, list[LedgerEntry]] = defaultdict(list)
    for entry in entries:
        if entry.incident_id is not None:
            by_incident[entry.incident_id].append(entry)
    in_window = [e for e in entries if e.at >= since]
    independent = compliance(
        [e for e in entries if e.incident_id in {w.incident_id for w in in_window}]
    )
    actions: list[ActionRecord] = []
    for incident_id, items in sorted(by_incident.items()):
        forward = [
            e
            for e in items
            if e.kind == "execution.step"
            and e.payload.get("kind") == "forward"
            and e.payload.get("status") == "succeeded"
        ]
        if not forward or forward[0].at < since:
            continue
        plan_hash = str(forward[0].payload.get("plan_hash"))
        decisions = [
            e.payload
            for e in items
            if e.kind == "decision.recorded" and e.payload.get("plan_hash") == plan_hash
        ]
        decision: dict[str, Any] = dict(decisions[-1]) if decisions else {}
        risk = decision.get("risk_score")
        problems = independent.problems.get(incident_id, [])
        actions.append(
            ActionRecord(
                incident_id=incident_id,
                executed_at=forward[0].at.isoformat(),
                plan_hash=plan_hash,
                route=str(decision.get("route", "-")),
                risk_score=float(risk) if isinstance(risk, int | float) else None,
                policy_version=str(decision.get("policy_version", "-")),
                matched_rules=[str(r) for r in decision.get("matched_rules", [])],
                rollback_declared=str(decision.get("rollback", "")),
                approvals=[
                    f"{e.payload.get('verdict')} by {e.payload.get('approver')}"
                    for e in items
                    if e.kind == "approval.recorded"
                ],
                steps=[
                    f"{e.payload.get('kind')} {e.payload.get('action')} on"
                    f" {e.payload.get('target')}: {e.payload.get('status')}"
                    for e in items
                    if e.kind == "execution.step"
                ],
                verifications=[
                    f"{e.payload.get('phase')}: {e.payload.get('verdict')}"
                    for e in items
                    if e.kind == "verification.recorded"
                ],
                rolled_back=any(
                    e.kind == "execution.step"
                    and e.payload.get("kind") == "rollback"
                    and e.payload.get("status") == "succeeded"
                    for e in items
                ),
                compliant=not problems,
                problems=list(problems),
            )
        )
    actions.sort(key=lambda a: a.executed_at)
    compliant = sum(1 for a in actions if a.compliant)
    return ComplianceReport(
        since=since.isoformat(),
        generated_at=now.isoformat(),
        executed=len(actions),
        compliant=compliant,
        rate=compliant / len(actions) if actions else None,
        actions=actions,
        controls=[
            {"control": c, "nist_ai_rmf": n, "iso_27001": i, "sre": s} for c, n, i, s in CONTROLS
        ],
    )


def as_json(report: ComplianceReport) -> dict[str, Any]:
    return asdict(report)


def as_markdown(report: ComplianceReport) -> str:
    rate = "n/a (nothing executed)" if report.rate is None else f"{report.rate:.1%}"
    lines = [
        "# ARF compliance report",
        "",
        f"Window: since {report.since} (generated {report.generated_at}).",
        "",
        f"**Governance compliance rate: {rate}** ({report.compliant} of {report.executed}"
        " executed actions have a recorded decision, a declared rollback, the approvals their"
        " route required and a verification, as read independently from the ledger).",
        "",
        "## Executed actions",
        "",
    ]
    for action in report.actions:
        mark = "compliant" if action.compliant else "NOT compliant"
        lines += [
            f"### {action.incident_id} — {mark}",
            "",
            f"- executed {action.executed_at}; plan `{action.plan_hash[:16]}`",
            f"- decision: route **{action.route}**, risk {action.risk_score},"
            f" policy {action.policy_version}; rules: {', '.join(action.matched_rules)}",
            f"- rollback declared: {action.rollback_declared or '-'}",
            f"- approvals: {', '.join(action.approvals) or 'none required'}",
            f"- steps: {'; '.join(action.steps)}",
            f"- verification: {'; '.join(action.verifications) or '-'}",
            f"- rolled back: {'yes' if action.rolled_back else 'no'}",
        ]
        lines += [f"- problem: {p}" for p in action.problems]
        lines.append("")
    lines += [
        "## Controls",
        "",
        "| ARF control | NIST AI RMF | ISO/IEC 27001:2022 | SRE practice |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| {c['control']} | {c['nist_ai_rmf']} | {c['iso_27001']} | {c['sre']} |"
        for c in report.controls
    ]
    return "\n".join(lines) + "\n"
