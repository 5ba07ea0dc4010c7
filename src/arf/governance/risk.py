"""The risk model: a documented weighted score in [0, 1]; every factor is reported.

score = sum(weight_i * value_i), weights summing to 1 (docs/policy.md explains each):
- action_risk (0.25): the riskiest step's class: low 0.1, medium 0.45, high 0.8, critical 1.0
- criticality (0.15): the most critical target: low 0.2, medium 0.5, high 0.8, critical 1.0
  (a target missing from the service catalog counts as critical)
- blast_radius (0.15): the larger of resources changed / 5 and the share of one target's
  capacity out at once, capped at 1
- irreversibility (0.10): 1 if any step cannot be rolled back
- uncertainty (0.10): 1 - the plan's confidence
- disagreement (0.05): 1 - the share of reasoners that put the plan's hypothesis forward
- failure_rate (0.10): how often this action failed verification or was rolled back on this
  kind of target recently (0 with fewer than three runs: too little to judge)
- error_budget (0.05): the share of the target's error budget already spent
- off_hours (0.05): 1 outside 08:00-18:00 UTC on weekdays, when fewer people are around
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from arf.core.records import BlastRadius, Criticality, RiskClass, RiskFactor

WEIGHTS = {
    "action_risk": 0.25,
    "criticality": 0.15,
    "blast_radius": 0.15,
    "irreversibility": 0.10,
    "uncertainty": 0.10,
    "disagreement": 0.05,
    "failure_rate": 0.10,
    "error_budget": 0.05,
    "off_hours": 0.05,
}
RISK_VALUES = {
    RiskClass.LOW: 0.1,
    RiskClass.MEDIUM: 0.45,
    RiskClass.HIGH: 0.8,
    RiskClass.CRITICAL: 1.0,
}
CRITICALITY_VALUES = {
    Criticality.LOW: 0.2,
    Criticality.MEDIUM: 0.5,
    Criticality.HIGH: 0.8,
    Criticality.CRITICAL: 1.0,
}
MIN_RUNS_FOR_FAILURE_RATE = 3


@dataclass(frozen=True)
class RiskInputs:
    risk_classes: Sequence[RiskClass]
    criticalities: Sequence[Criticality]
    blast: BlastRadius
    all_reversible: bool
    confidence: float
    agreement: float
    failure_rates: Sequence[tuple[int, float]]  # (runs, failure rate) per step
    budget_remaining: float  # the lowest across targets
    hour: int
    weekday: int  # ISO: 1 = Monday


def _failure_value(rates: Sequence[tuple[int, float]]) -> float:
    judged = [rate for runs, rate in rates if runs >= MIN_RUNS_FOR_FAILURE_RATE]
    return max(judged, default=0.0)


def risk_score(inputs: RiskInputs) -> tuple[float, tuple[RiskFactor, ...]]:
    def clamp(value: float) -> float:
        return max(0.0, min(1.0, value))

    values = {
        "action_risk": max((RISK_VALUES[c] for c in inputs.risk_classes), default=1.0),
        "criticality": max((CRITICALITY_VALUES[c] for c in inputs.criticalities), default=1.0),
        "blast_radius": clamp(max(inputs.blast.resources / 5, inputs.blast.replica_share)),
        "irreversibility": 0.0 if inputs.all_reversible else 1.0,
        "uncertainty": 1.0 - clamp(inputs.confidence),
        "disagreement": 1.0 - clamp(inputs.agreement),
        "failure_rate": clamp(_failure_value(inputs.failure_rates)),
        "error_budget": 1.0 - clamp(inputs.budget_remaining),
        "off_hours": 0.0 if inputs.weekday <= 5 and 8 <= inputs.hour < 18 else 1.0,
    }
    factors = tuple(
        RiskFactor(
            name=name,
            value=round(values[name], 4),
            weight=weight,
            contribution=round(weight * values[name], 4),
        )
        for name, weight in WEIGHTS.items()
    )
    return round(min(1.0, sum(f.contribution for f in factors)), 4), factors
