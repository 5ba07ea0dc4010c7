from __future__ import annotations

from datetime import UTC, datetime, timedelta

from arf.ledger.chain import append
from arf.runtime.compliance_report import as_markdown, build
from arf.testing.fakes import MemoryLedgerSink

AT = datetime(2026, 1, 1, tzinfo=UTC)


def trail(
    sink: MemoryLedgerSink, incident: str, route: str, approved: bool, verified: bool, at: datetime
) -> None:
    plan = "p" * 64
    append(
        sink,
        "decision.recorded",
        incident,
        {
            "decision_id": "d-" + incident,
            "plan_hash": plan,
            "route": route,
            "quorum": 1,
            "rollback": "undo",
            "matched_rules": ["r:allow"],
            "policy_version": "v",
            "risk_score": 0.2,
        },
        at,
    )
    if approved:
        append(
            sink,
            "approval.recorded",
            incident,
            {
                "decision_id": "d-" + incident,
                "plan_hash": plan,
                "approver": "alice",
                "verdict": "approve",
            },
            at,
        )
    append(
        sink,
        "execution.step",
        incident,
        {"plan_hash": plan, "kind": "forward", "status": "succeeded", "action": "a", "target": "t"},
        at + timedelta(seconds=1),
    )
    if verified:
        append(
            sink,
            "verification.recorded",
            incident,
            {"plan_hash": plan, "phase": "after_execution", "verdict": "converged"},
            at + timedelta(seconds=2),
        )


def test_report_counts_only_complete_trails_in_the_window() -> None:
    sink = MemoryLedgerSink()
    trail(sink, "INC-old", "autonomous", False, True, AT - timedelta(days=60))
    trail(sink, "INC-ok", "autonomous", False, True, AT)
    trail(sink, "INC-unapproved", "approve", False, True, AT)
    trail(sink, "INC-unverified", "autonomous", False, False, AT)
    trail(sink, "INC-approved", "approve", True, True, AT)
    report = build(sink.entries, AT - timedelta(days=30), AT + timedelta(days=1))
    assert [a.incident_id for a in report.actions if a.compliant] == ["INC-approved", "INC-ok"]
    assert report.executed == 4 and report.compliant == 2 and report.rate == 0.5
    problems = {a.incident_id: a.problems for a in report.actions}
    assert "approver" in problems["INC-unapproved"][0]
    assert "verification" in problems["INC-unverified"][0]
    assert "NOT compliant" in as_markdown(report)
