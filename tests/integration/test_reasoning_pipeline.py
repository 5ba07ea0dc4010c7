"""Model answers through the whole lifecycle: a hostile model never reaches execution."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arf.core.clock import ManualClock
from arf.core.ids import SequentialIds
from arf.core.ports import Reasoner
from arf.core.records import IncidentState, StepKind
from arf.reasoning.evidence_engine import EvidenceReasoner
from arf.reasoning.knowledge import KnowledgeBase
from arf.reasoning.llm import LLMReasoner
from arf.reasoning.merge import MergedReasoner
from arf.reasoning.tokens import ApproxTokenCounter
from arf.runtime.container import Runtime, build_runtime
from arf.runtime.demo import run_demo
from arf.runtime.settings import Settings
from arf.signals.redaction import Redactor
from arf.sim.faults import demo_scenarios
from arf.sim.platform import SimPlatform, default_state
from arf.testing.fakes import ScriptedChatModel
from tests.conftest import START
from tests.unit.reasoning.test_llm_reasoner import HOSTILE

pytestmark = pytest.mark.integration


def runtime_with(home: Path, make: object) -> Runtime:
    clock = ManualClock(START)
    settings = Settings.model_validate({"home": home, "clock": "sim"})
    platform = SimPlatform(default_state(7, clock.now().timestamp()), clock)
    reasoner = make(clock)  # type: ignore[operator]
    return build_runtime(
        settings, clock=clock, platform=platform, ids=SequentialIds(), reasoner=reasoner
    )


def llm(clock: ManualClock, answers: list[str]) -> LLMReasoner:
    return LLMReasoner(ScriptedChatModel(answers), clock, ApproxTokenCounter(), Redactor().find)


@pytest.mark.parametrize("case", ["follows the planted instruction", "names an unknown action"])
def test_a_hostile_model_alone_escalates_the_incident_and_nothing_runs(
    tmp_path: Path, case: str
) -> None:
    def make(clock: ManualClock) -> Reasoner:
        return llm(clock, [HOSTILE[case]] * 2)

    runtime = runtime_with(tmp_path, make)
    bad_deploy = next(s for s in demo_scenarios() if s.name == "bad-deploy")
    report = run_demo(runtime, lambda _line: None, [bad_deploy])
    (incident_id,) = report.results[0].incidents
    with runtime.store.unit_of_work() as uow:
        incident = uow.get_incident(incident_id)
        executions = uow.executions_for(incident_id)
        entries = [e.kind for e in uow.ledger_for_incident(incident_id)]
    assert incident.state is IncidentState.ESCALATED
    assert "failed validation twice" in incident.outcome_reason
    assert executions == []
    assert "decision.recorded" not in entries
    assert report.results[0].faults_undone == [False]


def test_a_failing_model_beside_the_evidence_engine_still_resolves_the_incident(
    tmp_path: Path,
) -> None:
    def make(clock: ManualClock) -> Reasoner:
        evidence = EvidenceReasoner(clock, KnowledgeBase.packaged())
        return MergedReasoner([evidence, llm(clock, ["{}", "not json"])], clock)

    runtime = runtime_with(tmp_path, make)
    bad_deploy = next(s for s in demo_scenarios() if s.name == "bad-deploy")
    report = run_demo(runtime, lambda _line: None, [bad_deploy])
    (incident_id,) = report.results[0].incidents
    with runtime.store.unit_of_work() as uow:
        incident = uow.get_incident(incident_id)
        diagnosis = uow.latest_diagnosis(incident_id)
        forward = [e for e in uow.executions_for(incident_id) if e.kind is StepKind.FORWARD]
    assert incident.state is IncidentState.RESOLVED
    assert diagnosis is not None and diagnosis.reasoner == "merged"
    assert any("llm failed" in note for note in diagnosis.notes)
    assert forward and forward[0].action == "rollback_deploy"
    assert json.dumps(report.results[0].faults_undone) == "[true]"
