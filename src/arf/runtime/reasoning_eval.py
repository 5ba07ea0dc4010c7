"""`arf eval reasoning`: a reasoner over the scenario cases, scored against ground truth.

The cases are the demo scenarios (until the evaluation catalog exists): the real pipeline runs
each one on the simulated platform with the evidence engine, on a fixed virtual clock and
sequential ids, so every run assembles byte-identical snapshots (and a model's answers can be
reused from the diagnosis cache). Each reasoner under test then diagnoses those snapshots.

Scores per reasoner:
- top-1 / top-3: the first / any of the first three hypotheses names a category that fits the
  injected fault (`FAULT_CATEGORIES`) on the fault's target;
- correct action: the first grounded plan (the one governance would take) applies the
  scenario's expected actions to the faults' targets, or, for the no-fault control, there is
  no plan;
- wrong-but-tempting action: a grounded plan that would have been taken but is not correct
  (it would pass grounding and reach policy: the dangerous kind of wrong);
- calibration of the top hypothesis' confidence against top-1 correctness: Brier score and
  expected calibration error (five equal-width bins);
- tokens and latency per case; failures (the reasoner gave up: the incident would escalate).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from arf.core.clock import ManualClock, SystemClock
from arf.core.errors import ConfigError
from arf.core.grounding import diagnosis_problems
from arf.core.ids import SequentialIds
from arf.core.ports import Reasoner
from arf.core.records import ActionSpec, ContextSnapshot, Diagnosis
from arf.execution.action_packs import ActionCatalog, default_actions
from arf.reasoning.tokens import ApproxTokenCounter
from arf.runtime.container import build_runtime
from arf.runtime.demo import run_demo
from arf.runtime.reasoners import build_reasoner, chat_model
from arf.runtime.settings import Settings
from arf.signals.redaction import Redactor
from arf.sim.model import FaultRecord
from arf.sim.platform import SimPlatform, default_state

FAULT_CATEGORIES: dict[str, frozenset[str]] = {
    "bad_deploy": frozenset({"bad_deploy"}),
    "crash_loop": frozenset({"crash_loop", "bad_deploy"}),  # a release that will not start
    "config_drift": frozenset({"config_change"}),
    "memory_exhaustion": frozenset({"resource_exhaustion"}),
    "dependency_outage": frozenset({"dependency_failure", "crash_loop"}),
    "datastore_disk_failure": frozenset({"datastore_failure"}),
    "iac_misconfiguration": frozenset({"security_misconfiguration"}),
    "transient": frozenset({"transient"}),
}
EVAL_START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    name: str
    snapshot: ContextSnapshot
    faults: tuple[FaultRecord, ...]
    expected_action: str | None


@dataclass
class CaseResult:
    case: str
    top1: bool
    top3: bool
    correct_action: bool
    tempting_wrong: bool
    confidence: float
    tokens: int
    latency_ms: float
    failed: str = ""
    top_hypothesis: str = ""
    plan: str = ""


@dataclass
class ReasonerScore:
    reasoner: str
    cases: int
    top1: float
    top3: float
    correct_action: float
    tempting_wrong: float
    brier: float
    ece: float
    tokens_per_case: float
    latency_ms_per_case: float
    failures: int
    results: list[CaseResult] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def build_cases(progress: Callable[[str], None] = lambda _l: None) -> list[Case]:
    """Run the demo scenarios through the pipeline (evidence engine) and keep their snapshots."""
    clock = ManualClock(EVAL_START)
    with tempfile.TemporaryDirectory(prefix="arf-eval-") as home:
        settings = Settings.model_validate({"home": Path(home), "clock": "sim"})
        platform = SimPlatform(default_state(7, clock.now().timestamp()), clock)
        runtime = build_runtime(settings, clock=clock, platform=platform, ids=SequentialIds())
        try:
            report = run_demo(runtime, progress)
            cases = []
            with runtime.store.unit_of_work() as uow:
                for result in report.results:
                    for incident_id in result.incidents:
                        snapshot = uow.latest_snapshot(incident_id)
                        if snapshot is None:
                            continue
                        cases.append(
                            Case(
                                result.scenario.name,
                                snapshot,
                                tuple(result.faults),
                                result.scenario.expected_action,
                            )
                        )
            return cases
        finally:
            runtime.store.close()


def _fits(category: str, service: str | None, faults: Sequence[FaultRecord]) -> bool:
    return any(
        category in FAULT_CATEGORIES.get(f.kind, frozenset())
        and (service == f.target or (f.kind == "transient" and service is None))
        for f in faults
    )


def _score_case(
    case: Case, diagnosis: Diagnosis, specs: dict[str, ActionSpec], latency_ms: float
) -> CaseResult:
    ranked = sorted(diagnosis.hypotheses, key=lambda h: -h.confidence)
    top = ranked[0] if ranked else None
    top1 = top is not None and _fits(top.category.value, top.service, case.faults)
    top3 = any(_fits(h.category.value, h.service, case.faults) for h in ranked[:3])
    _, plans = diagnosis_problems(diagnosis, case.snapshot, specs)
    chosen = plans[0] if plans else None
    if case.expected_action is None:
        correct = chosen is None
    else:
        targets = {f.target for f in case.faults if f.kind != "transient"}
        correct = chosen is not None and (
            {s.action for s in chosen.steps} == set(case.expected_action.split("+"))
            and {s.target for s in chosen.steps} == targets
        )
    return CaseResult(
        case=case.name,
        top1=top1,
        top3=top3,
        correct_action=correct,
        tempting_wrong=chosen is not None and not correct,
        confidence=top.confidence if top else 0.0,
        tokens=diagnosis.tokens_in + diagnosis.tokens_out,
        latency_ms=diagnosis.latency_ms or latency_ms,
        top_hypothesis=f"{top.category.value} on {top.service}" if top else "-",
        plan=" + ".join(f"{s.action}({s.target})" for s in chosen.steps) if chosen else "-",
    )


def calibration(confidences: Sequence[float], outcomes: Sequence[bool]) -> tuple[float, float]:
    """Brier score and expected calibration error (five equal-width bins)."""
    if not confidences:
        return 0.0, 0.0
    n = len(confidences)
    brier = sum((c - float(o)) ** 2 for c, o in zip(confidences, outcomes, strict=True)) / n
    ece = 0.0
    for low in (0.0, 0.2, 0.4, 0.6, 0.8):
        members = [
            (c, o)
            for c, o in zip(confidences, outcomes, strict=True)
            if low <= c < low + 0.2 or (low == 0.8 and c == 1.0)
        ]
        if members:
            mean_c = sum(c for c, _ in members) / len(members)
            accuracy = sum(1 for _, o in members if o) / len(members)
            ece += len(members) / n * abs(mean_c - accuracy)
    return round(brier, 4), round(ece, 4)


def evaluate(
    name: str,
    reasoner: Reasoner,
    cases: Sequence[Case],
    catalog: Sequence[ActionSpec],
    progress: Callable[[str], None] = lambda _l: None,
) -> ReasonerScore:
    specs = {s.name: s for s in catalog}
    results: list[CaseResult] = []
    for number, case in enumerate(cases, start=1):
        started = time.monotonic()
        try:
            diagnosis = reasoner.diagnose(case.snapshot, catalog, f"eval-{number}")
        except Exception as exc:  # noqa: BLE001 - a give-up is a result, scored as a failure
            results.append(
                CaseResult(
                    case.name,
                    False,
                    False,
                    case.expected_action is None,
                    False,
                    0.0,
                    0,
                    (time.monotonic() - started) * 1000,
                    failed=str(exc)[:200],
                )
            )
            progress(f"  {name} {case.name}: gave up ({str(exc)[:80]})")
            continue
        result = _score_case(case, diagnosis, specs, (time.monotonic() - started) * 1000)
        results.append(result)
        progress(
            f"  {name} {case.name}: {result.top_hypothesis} -> {result.plan}"
            f" ({'ok' if result.correct_action else 'WRONG'})"
        )
    n = len(results) or 1
    brier, ece = calibration(
        [r.confidence for r in results if not r.failed], [r.top1 for r in results if not r.failed]
    )
    return ReasonerScore(
        reasoner=name,
        cases=len(results),
        top1=round(sum(r.top1 for r in results) / n, 3),
        top3=round(sum(r.top3 for r in results) / n, 3),
        correct_action=round(sum(r.correct_action for r in results) / n, 3),
        tempting_wrong=round(sum(r.tempting_wrong for r in results) / n, 3),
        brier=brier,
        ece=ece,
        tokens_per_case=round(sum(r.tokens for r in results) / n, 1),
        latency_ms_per_case=round(sum(r.latency_ms for r in results) / n, 1),
        failures=sum(1 for r in results if r.failed),
        results=results,
    )


def run_eval(
    settings: Settings,
    modes: Sequence[str],
    *,
    limit: int | None = None,
    progress: Callable[[str], None] = lambda _l: None,
) -> list[ReasonerScore]:
    """Build the cases once, then score each reasoner mode (evidence, llm, merged) on them."""
    wants_model = bool(set(modes) - {"evidence"})
    if wants_model and not settings.llm:
        raise ConfigError("evaluating a model needs one: set ARF_LLM or pass --llm (e.g. local)")
    model = chat_model(settings.llm, settings) if wants_model else None
    progress("assembling the case snapshots (demo scenarios, evidence engine, fixed clock)")
    cases = build_cases()[: limit or None]
    catalog = ActionCatalog(default_actions()).specs()
    scores = []
    for mode in modes:
        reasoner = build_reasoner(
            settings, SystemClock(), ApproxTokenCounter(), Redactor(), model=model, mode=mode
        )
        label = mode if mode == "evidence" or model is None else f"{mode} ({model.model_id})"
        progress(f"{label}: {len(cases)} cases")
        scores.append(evaluate(label, reasoner, cases, catalog, progress))
    return scores
