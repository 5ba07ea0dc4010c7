"""Audit: chain verification and the independent compliance pass over the ledger.

The compliance pass reads ledger entries only (never the store's own tables or flags): an
executed action is compliant when the ledger shows, for its plan hash, a recorded decision, a
declared rollback, the approvals its route required (distinct people, same plan hash), and a
verification recorded after it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from arf.core.records import LedgerEntry
from arf.ledger.chain import ChainReport, verify_chain
from arf.runtime.container import Runtime


def verify_ledger(runtime: Runtime) -> ChainReport:
    with runtime.store.unit_of_work() as uow:
        return verify_chain(uow.iter_ledger())


@dataclass
class ComplianceReport:
    executed: int = 0
    compliant: int = 0
    problems: dict[str, list[str]] = field(default_factory=dict)

    @property
    def rate(self) -> float | None:
        return None if self.executed == 0 else self.compliant / self.executed


def compliance(entries: Iterable[LedgerEntry]) -> ComplianceReport:
    by_incident: dict[str, list[LedgerEntry]] = defaultdict(list)
    for entry in entries:
        if entry.incident_id is not None:
            by_incident[entry.incident_id].append(entry)
    report = ComplianceReport()
    for incident_id, items in sorted(by_incident.items()):
        executed = [
            e
            for e in items
            if e.kind == "execution.step"
            and e.payload.get("kind") == "forward"
            and e.payload.get("status") == "succeeded"
        ]
        if not executed:
            continue
        report.executed += 1
        plan_hash = executed[0].payload.get("plan_hash")
        first_exec = min(e.seq for e in executed)
        missing: list[str] = []
        decisions = [
            e
            for e in items
            if e.kind == "decision.recorded"
            and e.payload.get("plan_hash") == plan_hash
            and e.seq < first_exec
        ]
        if not decisions:
            missing.append("no decision recorded for the executed plan before execution")
        else:
            decision = decisions[-1].payload
            if not decision.get("rollback"):
                missing.append("the plan declared no rollback")
            route = decision.get("route")
            if route == "deny":
                missing.append("the plan was denied by policy")
            if route in ("approve", "acknowledge"):
                quorum = decision.get("quorum")
                needed = quorum if isinstance(quorum, int) and quorum > 0 else 1
                approvers = {
                    e.payload.get("approver")
                    for e in items
                    if e.kind == "approval.recorded"
                    and e.seq < first_exec
                    and e.payload.get("plan_hash") == plan_hash
                    and e.payload.get("verdict") == "approve"
                    and e.payload.get("decision_id") == decision.get("decision_id")
                }
                if len(approvers) < needed:
                    missing.append(
                        f"route {route} needed {needed} approver(s), ledger shows {len(approvers)}"
                    )
        last_exec = max(e.seq for e in executed)
        if not any(
            e.kind == "verification.recorded"
            and e.seq > last_exec
            and e.payload.get("plan_hash") == plan_hash
            for e in items
        ):
            missing.append("no verification recorded after execution")
        if missing:
            report.problems[incident_id] = missing
        else:
            report.compliant += 1
    return report


def compliance_of(runtime: Runtime) -> ComplianceReport:
    with runtime.store.unit_of_work() as uow:
        return compliance(uow.iter_ledger())
