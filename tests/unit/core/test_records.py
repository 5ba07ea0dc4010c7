from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from arf.core.canonical import canonical_json
from arf.core.records import (
    Hypothesis,
    HypothesisCategory,
    PlanStep,
    RemediationPlan,
    Severity,
    Signal,
    SignalKind,
)

AT = datetime(2026, 1, 1, tzinfo=UTC)


def test_records_are_frozen_and_strict() -> None:
    step = PlanStep(action="restart_service", target="cache")
    with pytest.raises(ValidationError):
        step.action = "delete_database"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        PlanStep.model_validate({"action": "a", "target": "b", "sudo": True})


def hypothesis_with(confidence: float) -> Hypothesis:
    return Hypothesis(
        hypothesis_id="h",
        cause="c",
        category=HypothesisCategory.UNKNOWN,
        confidence=confidence,
        evidence_ids=(),
    )


@given(st.floats(allow_nan=False))
def test_confidence_is_bounded(value: float) -> None:
    if 0.0 <= value <= 1.0:
        assert hypothesis_with(value).confidence == value
    else:
        with pytest.raises(ValidationError):
            hypothesis_with(value)


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValidationError):
        Signal(
            signal_id="s",
            source="x",
            kind=SignalKind.ALERT,
            fingerprint="f",
            title="t",
            observed_at=datetime(2026, 1, 1),
            received_at=AT,
            payload_digest="d",
        )


@given(st.text(max_size=30), st.integers(), st.floats(allow_nan=False, allow_infinity=False))
def test_canonical_json_round_trips(text: str, number: int, real: float) -> None:
    plan = RemediationPlan(
        plan_id="p",
        hypothesis_ids=("h",),
        steps=(PlanStep(action="a", target="t", params={"s": text, "i": number, "f": real}),),
        rationale=text,
        expected_impact="i",
        rollback="r",
        confidence=0.5,
    )
    again = RemediationPlan.model_validate_json(canonical_json(plan))
    assert again == plan and again.plan_hash() == plan.plan_hash()


def test_severity_ranks_are_ordered() -> None:
    ranks = [
        s.rank
        for s in (Severity.INFO, Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)
    ]
    assert ranks == sorted(ranks) and len(set(ranks)) == 5
