"""A reasoner's confidence, calibrated against the recorded outcomes of its earlier plans.

A plan's confidence is the reasoner's claim. Governance routes on it, so it is checked against
what happened: every finished remediation in the run history (`ActionRun`) carries the raw
confidence of its plan, the plan's provenance (which reasoners put its hypothesis forward:
`evidence`, `llm`, `evidence+llm`, ...) and how it ended (verified, or rolled back / failed).

For a new plan of provenance P and raw confidence c, with P's finished plans in the window:

- fewer than `min_outcomes` of them: c is used as it is (too little to learn from);
- otherwise the observed bias (verified - claimed) is shrunk twice with `prior_weight` k
  pseudo-outcomes: over all of P's plans towards no bias, `g = (Σv - Σc) / (n + k)`, and within
  c's confidence bin (equal width) towards g, `b = (Σv_b - Σc_b + k·g) / (n_b + k)`;
- the calibrated confidence is `c + b`, in [0, 1]. Lowering is taken whole; raising is capped at
  `max_raise` and at 0.99: a reasoner that earned trust gains it slowly, one that lost it loses
  it at once.

Pure: the runtime passes the history in (`DecisionRequest.history`), the policy file holds the
settings (`calibration:`), and the decision records raw and calibrated values in its input.
Outcomes are ARF's own verification verdicts, never the model's word.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from arf.core.records import ActionRun, Diagnosis, RemediationPlan

FINISHED = ("verified", "rolled_back", "failed")


@dataclass(frozen=True)
class CalibrationRules:
    """The policy file's `calibration:` section."""

    enabled: bool = True
    min_outcomes: int = 20  # finished plans of one provenance before anything is adjusted
    prior_weight: float = 10.0  # pseudo-outcomes pulling each estimate towards no adjustment
    max_raise: float = 0.1  # the most calibration may add to a confidence
    bins: int = 5  # equal-width bins of raw confidence
    window_days: int = 30  # outcomes older than this are not used

    def problems(self) -> list[str]:
        found = []
        if self.min_outcomes < 1:
            found.append("min_outcomes must be at least 1")
        if self.prior_weight <= 0:
            found.append("prior_weight must be positive")
        if not 0 <= self.max_raise <= 1:
            found.append("max_raise must be in [0, 1]")
        if not 1 <= self.bins <= 100:
            found.append("bins must be in [1, 100]")
        if self.window_days < 1:
            found.append("window_days must be at least 1")
        return found


@dataclass(frozen=True)
class PlanOutcome:
    """One finished remediation plan: what its reasoners claimed and whether it held."""

    incident_id: str
    provenance: str
    confidence: float
    verified: bool


@dataclass(frozen=True)
class Calibrated:
    raw: float
    value: float
    provenance: str
    outcomes: int  # finished plans of this provenance used (0 when not calibrated)
    verified: int
    bin_outcomes: int
    bin_verified: int
    reason: str


def provenance(diagnosis: Diagnosis, plan: RemediationPlan) -> str:
    """Which reasoners put the plan's hypotheses forward, e.g. `evidence+llm`; the diagnosis'
    reasoner when its hypotheses name none."""
    names: set[str] = set()
    for hypothesis in diagnosis.hypotheses:
        if hypothesis.hypothesis_id in plan.hypothesis_ids:
            names |= set(hypothesis.reasoners)
    return "+".join(sorted(names)) or diagnosis.reasoner


def plan_outcomes(
    runs: Sequence[ActionRun], incident_id: str, now: datetime, window: timedelta
) -> list[PlanOutcome]:
    """One outcome per finished plan in the window (its steps share one), excluding the
    incident being decided and runs recorded before calibration data was kept."""
    seen: dict[str, PlanOutcome] = {}
    for run in runs:
        if (
            run.incident_id == incident_id
            or run.incident_id in seen
            or run.outcome not in FINISHED
            or run.plan_confidence is None
            or not run.provenance
            or not now - window <= run.at <= now
        ):
            continue
        seen[run.incident_id] = PlanOutcome(
            incident_id=run.incident_id,
            provenance=run.provenance,
            confidence=run.plan_confidence,
            verified=run.outcome == "verified",
        )
    return list(seen.values())


def _bin(confidence: float, bins: int) -> int:
    return min(max(int(confidence * bins), 0), bins - 1)


def calibrate(
    raw: float, source: str, outcomes: Sequence[PlanOutcome], rules: CalibrationRules
) -> Calibrated:
    """The confidence governance uses for a plan of provenance `source` claiming `raw`."""
    mine = [o for o in outcomes if o.provenance == source]
    verified = sum(1 for o in mine if o.verified)
    if not rules.enabled:
        return Calibrated(raw, raw, source, 0, 0, 0, 0, "calibration is off in the policy")
    if len(mine) < rules.min_outcomes:
        return Calibrated(
            raw,
            raw,
            source,
            0,
            0,
            0,
            0,
            f"not calibrated: {len(mine)} finished {source} plans, {rules.min_outcomes} needed",
        )
    k = rules.prior_weight
    overall = (verified - sum(o.confidence for o in mine)) / (len(mine) + k)
    slot = _bin(raw, rules.bins)
    near = [o for o in mine if _bin(o.confidence, rules.bins) == slot]
    near_verified = sum(1 for o in near if o.verified)
    shift = (near_verified - sum(o.confidence for o in near) + k * overall) / (len(near) + k)
    if shift > 0:
        value = min(raw + min(shift, rules.max_raise), max(raw, 0.99))
    else:
        value = max(raw + shift, 0.0)
    value = round(value, 4)
    low, high = slot / rules.bins, (slot + 1) / rules.bins
    reason = (
        f"{source} claimed {raw:.2f}; of its {len(mine)} finished plans {verified} were"
        f" verified, {near_verified} of {len(near)} claiming {low:.1f}-{high:.1f}:"
        f" calibrated to {value:.2f}"
    )
    return Calibrated(raw, value, source, len(mine), verified, len(near), near_verified, reason)


@dataclass(frozen=True)
class CalibrationRow:
    """One confidence bin of one provenance, as `arf policy calibration` shows it."""

    provenance: str
    low: float
    high: float
    plans: int
    verified: int
    mean_claimed: float
    routed: float  # what a plan claiming `mean_claimed` would be routed on now
    calibrated: bool  # False while the provenance has fewer than `min_outcomes` plans


def calibration_table(
    outcomes: Sequence[PlanOutcome], rules: CalibrationRules
) -> list[CalibrationRow]:
    """Every non-empty bin of every provenance, with what calibration makes of it now."""
    rows = []
    for source in sorted({o.provenance for o in outcomes}):
        mine = [o for o in outcomes if o.provenance == source]
        for slot in range(rules.bins):
            near = [o for o in mine if _bin(o.confidence, rules.bins) == slot]
            if not near:
                continue
            mean = round(sum(o.confidence for o in near) / len(near), 4)
            result = calibrate(mean, source, outcomes, rules)
            rows.append(
                CalibrationRow(
                    provenance=source,
                    low=slot / rules.bins,
                    high=(slot + 1) / rules.bins,
                    plans=len(near),
                    verified=sum(1 for o in near if o.verified),
                    mean_claimed=mean,
                    routed=result.value,
                    calibrated=result.outcomes > 0,
                )
            )
    return rows
