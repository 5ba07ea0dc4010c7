"""Confidence calibrated against recorded outcomes: the estimate, its bounds, and the decision
that routes on it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arf.core.errors import PolicyLoadError
from arf.core.records import (
    ActionRun,
    BlastRadius,
    Criticality,
    DecisionEnvelope,
    Diagnosis,
    Hypothesis,
    HypothesisCategory,
    Incident,
    IncidentState,
    PlanStep,
    RemediationPlan,
    Route,
    ServiceInfo,
    Severity,
)
from arf.execution.action_packs import default_actions
from arf.governance.calibration import (
    CalibrationRules,
    PlanOutcome,
    calibrate,
    plan_outcomes,
    provenance,
)
from arf.governance.decide import DecisionRequest, decide
from arf.governance.policy import load_policy_text
from arf.governance.service_catalog import ServiceCatalog
from arf.runtime.container import packaged_policy

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
RULES = CalibrationRules()


def outcomes(source: str, claimed: float, verified: int, failed: int) -> list[PlanOutcome]:
    made = [PlanOutcome(f"v{i}", source, claimed, True) for i in range(verified)]
    made += [PlanOutcome(f"f{i}", source, claimed, False) for i in range(failed)]
    return made


def test_too_few_outcomes_leave_the_confidence_as_claimed() -> None:
    result = calibrate(0.9, "evidence", outcomes("evidence", 0.9, 0, 19), RULES)
    assert result.value == 0.9
    assert result.outcomes == 0
    assert "19 finished evidence plans, 20 needed" in result.reason


def test_an_overconfident_reasoner_is_marked_down_by_the_shrunk_bias() -> None:
    history = outcomes("evidence", 0.9, verified=20, failed=20)
    result = calibrate(0.9, "evidence", history, RULES)
    # g = (20 - 36) / (40 + 10) = -0.32; b = (20 - 36 + 10 * g) / (40 + 10) = -0.384
    assert result.value == pytest.approx(0.9 - 0.384, abs=1e-4)
    assert (result.outcomes, result.verified) == (40, 20)
    assert (result.bin_outcomes, result.bin_verified) == (40, 20)
    assert "20 of 40 claiming 0.8-1.0" in result.reason


def test_an_underconfident_reasoner_gains_at_most_max_raise() -> None:
    history = outcomes("evidence", 0.5, verified=60, failed=0)
    assert calibrate(0.5, "evidence", history, RULES).value == pytest.approx(0.6)
    assert calibrate(0.95, "evidence", history, RULES).value == pytest.approx(0.99)


def test_a_well_calibrated_reasoner_keeps_its_confidence() -> None:
    history = outcomes("evidence", 0.8, verified=40, failed=10)
    assert calibrate(0.8, "evidence", history, RULES).value == pytest.approx(0.8, abs=1e-3)


def test_outcomes_of_other_provenances_do_not_count() -> None:
    history = outcomes("llm", 0.9, verified=0, failed=50)
    assert calibrate(0.9, "evidence", history, RULES).value == 0.9
    assert calibrate(0.9, "evidence+llm", history, RULES).value == 0.9
    assert calibrate(0.9, "llm", history, RULES).value < 0.5


def test_a_sparse_bin_leans_on_the_provenance_as_a_whole() -> None:
    # 40 plans at 0.9, half verified; one plan at 0.3, verified: the 0.2-0.4 bin alone says
    # "underconfident", the provenance says "overconfident"; the estimate is pulled down.
    history = outcomes("evidence", 0.9, verified=20, failed=20)
    history.append(PlanOutcome("lone", "evidence", 0.3, True))
    result = calibrate(0.3, "evidence", history, RULES)
    assert result.bin_outcomes == 1
    assert result.value < 0.3


def test_calibration_can_be_switched_off() -> None:
    history = outcomes("evidence", 0.9, verified=0, failed=50)
    off = CalibrationRules(enabled=False)
    assert calibrate(0.9, "evidence", history, off).value == 0.9


@settings(max_examples=200, deadline=None)
@given(
    raw=st.floats(0, 1),
    claims=st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=20, max_size=80),
    flip=st.integers(0, 79),
)
def test_calibration_is_bounded_and_monotone_in_outcomes(
    raw: float, claims: list[tuple[float, bool]], flip: int
) -> None:
    history = [PlanOutcome(f"i{n}", "evidence", c, v) for n, (c, v) in enumerate(claims)]
    result = calibrate(raw, "evidence", history, RULES)
    assert 0.0 <= result.value <= 1.0
    assert result.value <= raw + RULES.max_raise + 5e-5  # values are rounded to 4 places
    # one more verified outcome never lowers the calibrated confidence
    index = flip % len(history)
    if not history[index].verified:
        better = list(history)
        better[index] = PlanOutcome("better", "evidence", history[index].confidence, True)
        assert calibrate(raw, "evidence", better, RULES).value >= result.value


def run(
    incident: str,
    outcome: str = "verified",
    minutes_ago: float = 60,
    confidence: float | None = 0.9,
    source: str = "evidence",
    target: str = "api",
    action: str = "restart_service",
) -> ActionRun:
    return ActionRun(
        incident_id=incident,
        action=action,
        target=target,
        target_kind="service",
        route=Route.AUTONOMOUS,
        at=NOW - timedelta(minutes=minutes_ago),
        outcome=outcome,
        plan_confidence=confidence,
        provenance=source,
    )


def test_plan_outcomes_count_each_finished_plan_once() -> None:
    runs = [
        run("A"),
        run("A", target="db"),  # a second step of the same plan
        run("B", outcome="rolled_back"),
        run("C", outcome="failed"),
        run("D", outcome="in_progress"),
        run("E", confidence=None, source=""),  # recorded before calibration data was kept
        run("OLD", minutes_ago=60 * 24 * 31),
        run("SELF"),
    ]
    found = plan_outcomes(runs, "SELF", NOW, timedelta(days=30))
    assert [(o.incident_id, o.verified) for o in found] == [
        ("A", True),
        ("B", False),
        ("C", False),
    ]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("{min_outcomes: 0}", "min_outcomes must be at least 1"),
        ("{max_raise: 2}", "max_raise must be in"),
        ("{prior_weight: -1}", "prior_weight must be positive"),
        ("{enabled: maybe}", "true or false"),
        ("{min_outcome: 5}", "unknown calibration settings: min_outcome"),
        ("{bins: many}", "calibration"),
    ],
)
def test_bad_calibration_settings_are_load_errors(section: str, message: str) -> None:
    with pytest.raises(PolicyLoadError, match=message):
        load_policy_text(f"name: t\ncalibration: {section}\nrules: []\n", "p.yaml")


def test_calibration_settings_load_from_the_policy() -> None:
    bundle = load_policy_text(
        "name: t\ncalibration: {min_outcomes: 5, max_raise: 0, bins: 10}\nrules: []\n", "p.yaml"
    )
    assert bundle.calibration == CalibrationRules(min_outcomes=5, max_raise=0.0, bins=10)
    assert packaged_policy().calibration == CalibrationRules()


def _request(history: list[ActionRun]) -> DecisionRequest:
    hypothesis = Hypothesis(
        hypothesis_id="d1-h1",
        cause="bad release of api",
        category=HypothesisCategory.BAD_DEPLOY,
        service="api",
        confidence=0.9,
        evidence_ids=("e1",),
        reasoners=("evidence",),
    )
    plan = RemediationPlan(
        plan_id="d1-p1",
        hypothesis_ids=("d1-h1",),
        steps=(PlanStep(action="restart_service", target="api"),),
        rationale="restart",
        expected_impact="api serves again",
        rollback="none needed",
        confidence=0.9,
    )
    diagnosis = Diagnosis(
        diagnosis_id="d1",
        incident_id="INC-1",
        snapshot_hash="x",
        reasoner="merged",
        hypotheses=(hypothesis,),
        plans=(plan,),
        created_at=NOW,
    )
    incident = Incident(
        incident_id="INC-1",
        state=IncidentState.DIAGNOSED,
        title="api errors",
        services=("api",),
        environment="staging",
        severity=Severity.HIGH,
        opened_at=NOW,
        updated_at=NOW,
        impact_started_at=NOW,
        last_signal_at=NOW,
    )
    return DecisionRequest(
        decision_id="dec-1",
        incident=incident,
        diagnosis=diagnosis,
        plan=plan,
        blast_radius=BlastRadius(services=1, resources=1, replicas=1, replica_share=0.34),
        signal_count=3,
        now=NOW,
        history=history,
    )


def first_step_input(decision: DecisionEnvelope) -> dict[str, Any]:
    steps = decision.policy_input["steps"]
    assert isinstance(steps, list)
    return cast(dict[str, Any], steps[0])


def test_a_decision_routes_on_the_calibrated_confidence_and_records_both() -> None:
    catalog = ServiceCatalog(
        [ServiceInfo(name="api", owner="team", environment="staging", criticality=Criticality.LOW)]
    )
    specs = {d.spec.name: d.spec for d in default_actions()}
    trusted = decide(_request([]), packaged_policy(), specs, catalog)
    assert trusted.route is Route.AUTONOMOUS
    diagnosis_input = first_step_input(trusted)["diagnosis"]
    assert diagnosis_input["confidence"] == diagnosis_input["raw_confidence"] == 0.9
    assert diagnosis_input["provenance"] == "evidence"

    # scale-ups of other services that this reasoner rated 0.9 held half the time (another
    # action and other targets: no history rule of the policy applies to this restart)
    history = [
        run(
            f"P{i}",
            outcome="verified" if i % 2 else "rolled_back",
            target=f"svc{i}",
            action="scale_service",
        )
        for i in range(40)
    ]
    doubted = decide(_request(history), packaged_policy(), specs, catalog)
    step_input = first_step_input(doubted)
    assert step_input["diagnosis"]["raw_confidence"] == 0.9
    assert step_input["diagnosis"]["confidence"] < 0.6
    assert step_input["diagnosis"]["calibration_outcomes"] == 40
    assert step_input["plan"]["confidence"] == step_input["diagnosis"]["confidence"]
    assert doubted.route is Route.ACKNOWLEDGE
    assert "low-confidence-needs-acknowledgement" in {m.rule_id for m in doubted.matched_rules}


def test_provenance_names_the_reasoners_behind_the_plan() -> None:
    request = _request([])
    assert provenance(request.diagnosis, request.plan) == "evidence"
    anonymous = request.diagnosis.hypotheses[0].model_copy(update={"reasoners": ()})
    bare = request.diagnosis.model_copy(update={"hypotheses": (anonymous,)})
    assert provenance(bare, request.plan) == "merged"
