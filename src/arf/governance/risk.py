"""The risk model: a documented weighted score in [0, 1]; every factor is reported.

score = sum(weight_i * value_i), weights summing to 1:
- action_risk (0.35): the riskiest step's class: low 0.1, medium 0.45, high 0.8, critical 1.0
- criticality (0.20): the most critical target: low 0.2, medium 0.5, high 0.8, critical 1.0
- blast_radius (0.15): resources changed / 5, capped at 1
- irreversibility (0.15): 1 if any step cannot be rolled back
- uncertainty (0.15): 1 - the plan's confidence
"""

from __future__ import annotations

from collections.abc import Sequence

from arf.core.records import ActionSpec, BlastRadius, Criticality, RiskClass, RiskFactor

WEIGHTS = {
    "action_risk": 0.35,
    "criticality": 0.20,
    "blast_radius": 0.15,
    "irreversibility": 0.15,
    "uncertainty": 0.15,
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


def risk_score(
    specs: Sequence[ActionSpec],
    criticalities: Sequence[Criticality],
    blast: BlastRadius,
    confidence: float,
) -> tuple[float, tuple[RiskFactor, ...]]:
    values = {
        "action_risk": max((RISK_VALUES[s.risk_class] for s in specs), default=1.0),
        # An unknown target counts as critical: fail towards caution.
        "criticality": max((CRITICALITY_VALUES[c] for c in criticalities), default=1.0),
        "blast_radius": min(1.0, blast.resources / 5),
        "irreversibility": 0.0 if all(s.reversible for s in specs) else 1.0,
        "uncertainty": 1.0 - max(0.0, min(1.0, confidence)),
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
