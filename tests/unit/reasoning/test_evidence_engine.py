from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from arf.core.clock import ManualClock
from arf.core.records import (
    ActionSpec,
    ContextSnapshot,
    Diagnosis,
    Evidence,
    HypothesisCategory,
    Severity,
    SignalKind,
    SignalStatus,
)
from arf.execution.action_packs import ActionCatalog, default_actions
from arf.reasoning.evidence_engine import EvidenceReasoner
from arf.reasoning.knowledge import KnowledgeBase
from arf.runtime.container import packaged_service_catalog

AT = datetime(2026, 1, 1, 12, tzinfo=UTC)
SPECS = ActionCatalog(default_actions()).specs()
CATALOG = packaged_service_catalog()


def alert(
    eid: str,
    service: str,
    name: str,
    minutes: float = 0,
    status: SignalStatus = SignalStatus.FIRING,
) -> Evidence:
    return Evidence(
        evidence_id=eid,
        kind=SignalKind.ALERT,
        source="am",
        service=service,
        severity=Severity.CRITICAL,
        status=status,
        summary=f"{name} on {service}",
        observed_at=AT + timedelta(minutes=minutes),
        relevance=0.9,
        attributes={"alertname": name},
    )


def change(eid: str, service: str, minutes: float, kind: str = "deploy", **attrs: str) -> Evidence:
    return Evidence(
        evidence_id=eid,
        kind=SignalKind.CHANGE,
        source="cd",
        service=service,
        severity=Severity.INFO,
        status=SignalStatus.RESOLVED,
        summary=f"{kind} of {service}",
        observed_at=AT + timedelta(minutes=minutes),
        relevance=0.9,
        attributes={"change_type": kind, **attrs},
    )


def snapshot(*evidence: Evidence) -> ContextSnapshot:
    services = tuple(sorted({e.service for e in evidence if e.service}))
    return ContextSnapshot(
        incident_id="INC-1",
        version=1,
        created_at=AT,
        services=services,
        environment="production",
        evidence=evidence,
        topology={s.name: s.depends_on for s in CATALOG.services()},
        token_count=100,
        token_budget=6000,
    )


def diagnose(snap: ContextSnapshot) -> Diagnosis:
    return diagnose_with(snap, SPECS)


def diagnose_with(
    snap: ContextSnapshot,
    specs: Sequence[ActionSpec],
    knowledge: KnowledgeBase | None = None,
) -> Diagnosis:
    reasoner = EvidenceReasoner(ManualClock(AT), knowledge or KnowledgeBase.packaged())
    return reasoner.diagnose(snap, specs, "dx-1")


def test_a_recent_deploy_on_the_failing_service_is_blamed_and_rolled_back() -> None:
    result = diagnose(
        snapshot(
            change("c1", "checkout", -5, **{"from": "1.0", "to": "1.1"}),
            alert("a1", "checkout", "HighErrorRate"),
            alert("a2", "frontend", "HighErrorRate", 0.5),
        )
    )
    top = result.top_hypothesis()
    assert top is not None and top.category is HypothesisCategory.BAD_DEPLOY
    assert top.service == "checkout" and "c1" in top.evidence_ids
    plan = result.plans[0]
    assert plan.steps[0].action == "rollback_deploy"
    assert plan.steps[0].params == {"to_version": "1.0"}


def test_a_coincident_change_on_a_healthy_service_is_not_blamed() -> None:
    result = diagnose(
        snapshot(
            change("c9", "catalog", -3, **{"from": "2.0", "to": "2.1"}),
            alert("a1", "auth", "HighLatency"),
        )
    )
    assert all(s.target != "catalog" for p in result.plans for s in p.steps)
    assert all("c9" not in h.evidence_ids for h in result.hypotheses)
    assert any("catalog" in alt for h in result.hypotheses for alt in h.rejected_alternatives)


def test_a_change_after_the_symptoms_is_not_the_cause() -> None:
    result = diagnose(
        snapshot(
            alert("a1", "checkout", "HighErrorRate"),
            change("c1", "checkout", 10, **{"from": "1.0", "to": "1.1"}),
        )
    )
    assert not any(s.action == "rollback_deploy" for p in result.plans for s in p.steps)


def test_a_change_long_before_the_symptoms_is_not_the_cause() -> None:
    result = diagnose(
        snapshot(
            change("c1", "checkout", -300, **{"from": "1.0", "to": "1.1"}),
            alert("a1", "checkout", "HighErrorRate"),
        )
    )
    assert result.plans == ()


def test_the_deepest_failing_dependency_is_localised() -> None:
    result = diagnose(
        snapshot(
            alert("a1", "frontend", "HighErrorRate"),
            alert("a2", "catalog", "HighErrorRate"),
            alert("a3", "cache", "ServiceDown"),
        )
    )
    assert result.plans[0].steps[0].action == "restart_service"
    assert result.plans[0].steps[0].target == "cache"


def test_self_resolved_alerts_mean_no_action() -> None:
    result = diagnose(
        snapshot(alert("a1", "frontend", "HighLatency", status=SignalStatus.RESOLVED))
    )
    top = result.top_hypothesis()
    assert top is not None and top.category is HypothesisCategory.TRANSIENT
    assert result.plans == ()


def test_two_independent_causes_make_one_combined_plan() -> None:
    result = diagnose(
        snapshot(
            change("c1", "checkout", -3, **{"from": "1.0", "to": "1.1"}),
            change(
                "c2", "payments", -3, kind="config", key="db_pool_size", **{"from": "20", "to": "2"}
            ),
            alert("a1", "checkout", "HighErrorRate"),
            alert("a2", "payments", "HighLatency"),
        )
    )
    combined = result.plans[0]
    assert {s.action for s in combined.steps} == {"rollback_deploy", "revert_config"}
    assert len(combined.hypothesis_ids) == 2


def test_every_cited_evidence_id_exists() -> None:
    snap = snapshot(
        change("c1", "checkout", -5, **{"from": "1.0", "to": "1.1"}),
        alert("a1", "checkout", "HighErrorRate"),
        alert("a2", "inventory", "KubeContainerOOMKilled"),
    )
    result = diagnose(snap)
    for hypothesis in result.hypotheses:
        assert set(hypothesis.evidence_ids) <= snap.evidence_ids()
    assert result.snapshot_hash == snap.content_hash()


def test_a_scale_to_zero_is_undone_by_scaling_back_not_by_a_restart() -> None:
    result = diagnose(
        snapshot(
            change("c1", "inventory", -2, kind="scale", **{"from": "3", "to": "0"}),
            alert("a1", "inventory", "ServiceDown"),
            alert("a2", "checkout", "HighErrorRate", 0.5),
        )
    )
    plan = result.plans[0]
    assert [(s.action, s.target, s.params) for s in plan.steps] == [
        ("scale_service", "inventory", {"replicas": 3})
    ]
    assert all(step.action != "restart_service" for p in result.plans[:1] for step in p.steps)


def test_a_scale_change_with_nothing_to_return_to_proposes_no_scaling() -> None:
    result = diagnose(
        snapshot(
            change("c1", "inventory", -2, kind="scale", **{"from": "0", "to": "0"}),
            alert("a1", "inventory", "ServiceDown"),
        )
    )
    assert all(s.action != "scale_service" for p in result.plans for s in p.steps)


def test_a_revert_is_not_undone_and_the_change_it_reverted_is_not_blamed() -> None:
    # db_pool_size 20 -> 2 broke payments, a revert (ARF's, or anyone's) put 20 back; now
    # payments' process dies: undoing the revert would bring the bad value back
    result = diagnose(
        snapshot(
            change(
                "c1", "payments", -9, kind="config", key="db_pool_size", **{"from": "20", "to": "2"}
            ),
            change(
                "c2", "payments", -6, kind="config", key="db_pool_size", **{"from": "2", "to": "20"}
            ),
            alert("a1", "payments", "ServiceDown"),
        )
    )
    steps = [(s.action, s.params) for p in result.plans for s in p.steps]
    assert ("revert_config", {"key": "db_pool_size", "to_value": "2"}) not in steps
    assert ("revert_config", {"key": "db_pool_size", "to_value": "20"}) not in steps
    assert result.plans and result.plans[0].steps[0].action == "restart_service"
    rejected = " ".join(h for x in result.hypotheses for h in x.rejected_alternatives)
    assert "undoing it would bring back 2" in rejected


def test_a_release_rolled_back_earlier_is_not_rolled_forward_again() -> None:
    result = diagnose(
        snapshot(
            change("c1", "checkout", -20, **{"from": "1.0", "to": "1.1"}),
            change("c2", "checkout", -15, **{"from": "1.1", "to": "1.0"}),
            alert("a1", "checkout", "HighErrorRate"),
        )
    )
    assert all(s.params != {"to_version": "1.1"} for p in result.plans for s in p.steps)


def test_arf_s_own_remediation_is_not_undone_even_when_what_it_fixed_is_out_of_view() -> None:
    # ARF reverted db_pool_size 2 -> 20 earlier; the change it reverted is older than the
    # snapshot's change window, so no revert pair can be seen; the process now dies
    own = change(
        "c2",
        "payments",
        -6,
        kind="config",
        key="db_pool_size",
        author="arf",
        **{"from": "2", "to": "20"},
    )
    result = diagnose(snapshot(own, alert("a1", "payments", "ServiceDown")))
    steps = [(s.action, s.params) for p in result.plans for s in p.steps]
    assert ("revert_config", {"key": "db_pool_size", "to_value": "2"}) not in steps
    assert result.plans and result.plans[0].steps[0].action == "restart_service"
    rejected = " ".join(h for x in result.hypotheses for h in x.rejected_alternatives)
    assert "ARF's own remediation" in rejected
    # the same change by someone else is blamed as before
    theirs = own.model_copy(update={"attributes": {**own.attributes, "author": "dev"}})
    blamed = diagnose(snapshot(theirs, alert("a1", "payments", "ServiceDown")))
    assert blamed.plans[0].steps[0].params == {"key": "db_pool_size", "to_value": "2"}


def test_a_change_that_undoes_arf_s_own_fix_is_blamed_not_protected_as_a_revert() -> None:
    # ARF fixed db_pool_size 2 -> 20 (an earlier fault, out of view); now someone sets 2
    # again and latency climbs: that change is the suspect, and putting 20 back is the fix
    result = diagnose(
        snapshot(
            change(
                "c1",
                "payments",
                -20,
                kind="config",
                key="db_pool_size",
                author="arf",
                **{"from": "2", "to": "20"},
            ),
            change(
                "c2",
                "payments",
                -4,
                kind="config",
                key="db_pool_size",
                author="ops",
                **{"from": "20", "to": "2"},
            ),
            alert("a1", "payments", "HighLatency"),
        )
    )
    assert result.plans[0].steps[0].params == {"key": "db_pool_size", "to_value": "20"}


def test_a_new_change_after_a_revert_is_still_blamed() -> None:
    result = diagnose(
        snapshot(
            change("c1", "checkout", -30, **{"from": "1.0", "to": "1.1"}),
            change("c2", "checkout", -25, **{"from": "1.1", "to": "1.0"}),
            change("c3", "checkout", -4, **{"from": "1.0", "to": "1.2"}),
            alert("a1", "checkout", "HighErrorRate"),
        )
    )
    assert result.plans[0].steps[0].params == {"to_version": "1.0"}
