"""The evaluation's metrics over episode records, per system, per incident class and overall,
with 95% confidence intervals over seeds (percentile bootstrap, seeded).

Definitions (times from the moment the fault was injected):
- MTTD: mean time until the system starts working the incident (ARF opens it, a runbook
  fires, a page or ticket reaches a person), over episodes with a fault.
- MTTR: mean time until the oracle holds for good (every fault undone, every service within
  its SLO); an episode never resolved within the horizon counts at the horizon (censored)
  and lowers the resolved share.
- Toil: human minutes per episode (acknowledging, reviewing, diagnosing, fixing, verifying).
- False remediation rate: executed remediations that were not a correct one for the
  scenario (or were rolled back), over all executed remediations; on a no-fault control
  every execution is false.
- Alert fatigue: notifications that reached a person per resolved episode; raw alert
  notifications per episode beside it.
- Governance compliance: executed ARF remediations whose ledger trail passes the
  independent audit pass, over those executed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import fmean

from arf.bench.episode import HORIZON_S, RunRecord

Metric = Callable[[Sequence[RunRecord]], float | None]


@dataclass(frozen=True)
class Estimate:
    mean: float | None
    low: float | None
    high: float | None
    seeds: int

    def text(self, digits: int = 1, scale: float = 1.0, unit: str = "") -> str:
        if self.mean is None:
            return "n/a"
        value = f"{self.mean * scale:.{digits}f}{unit}"
        if self.low is None or self.high is None or self.seeds < 2:
            return value
        return f"{value} [{self.low * scale:.{digits}f}-{self.high * scale:.{digits}f}]"


def _faulty(records: Sequence[RunRecord]) -> list[RunRecord]:
    return [r for r in records if r.expects_remediation]


def mttd_s(records: Sequence[RunRecord]) -> float | None:
    values = [r.detected_s for r in _faulty(records) if r.detected_s is not None]
    return fmean(values) if values else None


def mttr_s(records: Sequence[RunRecord]) -> float | None:
    values = [HORIZON_S if r.resolved_s is None else r.resolved_s for r in _faulty(records)]
    return fmean(values) if values else None


def resolved_share(records: Sequence[RunRecord]) -> float | None:
    faulty = _faulty(records)
    return sum(1 for r in faulty if r.resolved_s is not None) / len(faulty) if faulty else None


def toil_min(records: Sequence[RunRecord]) -> float | None:
    return fmean(r.human_minutes for r in records) if records else None


def executed_count(records: Sequence[RunRecord]) -> int:
    return sum(len(r.executed) for r in records)


def false_rate(records: Sequence[RunRecord]) -> float | None:
    executed = executed_count(records)
    return sum(r.false_remediations for r in records) / executed if executed else None


def pages_per_resolved(records: Sequence[RunRecord]) -> float | None:
    resolved = sum(1 for r in records if r.resolved_s is not None)
    return sum(r.pages for r in records) / resolved if resolved else None


def raw_alerts(records: Sequence[RunRecord]) -> float | None:
    return fmean(r.raw_alerts for r in records) if records else None


def compliance_rate(records: Sequence[RunRecord]) -> float | None:
    audited = sum(r.audited for r in records)
    return sum(r.compliant for r in records) / audited if audited else None


def no_fault_executions(records: Sequence[RunRecord]) -> int:
    return sum(len(r.executed) for r in records if r.scenario_class == "no_fault")


METRICS: dict[str, Metric] = {
    "mttd_s": mttd_s,
    "mttr_s": mttr_s,
    "resolved_share": resolved_share,
    "toil_min": toil_min,
    "false_rate": false_rate,
    "pages_per_resolved": pages_per_resolved,
    "raw_alerts": raw_alerts,
    "compliance": compliance_rate,
}


def estimate(records: Sequence[RunRecord], metric: Metric, resamples: int = 2000) -> Estimate:
    """The metric over all seeds, with a percentile-bootstrap interval over per-seed values."""
    seeds = sorted({r.seed for r in records})
    overall = metric(records)
    per_seed = [v for s in seeds if (v := metric([r for r in records if r.seed == s])) is not None]
    if len(per_seed) < 2:
        return Estimate(overall, None, None, len(per_seed))
    rng = random.Random(f"bootstrap:{len(records)}:{len(per_seed)}")
    means = sorted(fmean(rng.choice(per_seed) for _ in per_seed) for _ in range(resamples))
    return Estimate(
        overall, means[int(0.025 * resamples)], means[int(0.975 * resamples) - 1], len(per_seed)
    )


def systems_of(records: Sequence[RunRecord]) -> list[str]:
    seen: list[str] = []
    for record in records:
        if record.system not in seen:
            seen.append(record.system)
    return seen


def of(
    records: Sequence[RunRecord], system: str, scenario_class: str | None = None
) -> list[RunRecord]:
    return [
        r
        for r in records
        if r.system == system and (scenario_class is None or r.scenario_class == scenario_class)
    ]


def reduction(baseline: float | None, measured: float | None) -> float | None:
    """How much lower `measured` is than `baseline`, as a share (0.4 = 40% lower)."""
    if baseline is None or measured is None or baseline == 0:
        return None
    return 1 - measured / baseline


def percentile(values: Sequence[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]
