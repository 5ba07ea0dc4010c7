"""Several reasoners merged with provenance; reuse of answers for identical snapshots."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from arf.core.clock import ManualClock
from arf.core.errors import ReasoningError
from arf.core.records import ActionSpec, ContextSnapshot, Diagnosis, HypothesisCategory
from arf.reasoning.cache import CachedReasoner
from arf.reasoning.evidence_engine import EvidenceReasoner
from arf.reasoning.knowledge import KnowledgeBase
from arf.reasoning.llm import LLMReasoner
from arf.reasoning.merge import MergedReasoner
from arf.reasoning.tokens import ApproxTokenCounter
from arf.signals.redaction import Redactor
from arf.testing.fakes import ScriptedChatModel
from tests.unit.reasoning.test_llm_reasoner import AT, GOOD, SPECS, snapshot


def evidence() -> EvidenceReasoner:
    return EvidenceReasoner(ManualClock(AT), KnowledgeBase.packaged())


def llm(model: ScriptedChatModel) -> LLMReasoner:
    return LLMReasoner(model, ManualClock(AT), ApproxTokenCounter(), Redactor().find)


def other_answer() -> str:
    answer = json.loads(json.dumps(GOOD))
    answer["hypotheses"][0].update(category="dependency_failure", cause="payments is down")
    answer["plans"] = []
    return json.dumps(answer)


def test_agreement_raises_confidence_and_records_both_reasoners() -> None:
    alone = evidence().diagnose(snapshot(), SPECS, "dx-e")
    merged = MergedReasoner(
        [evidence(), llm(ScriptedChatModel([json.dumps(GOOD)]))], ManualClock(AT)
    )
    result = merged.diagnose(snapshot(), SPECS, "dx-1")
    top = result.hypotheses[0]
    assert top.category is HypothesisCategory.BAD_DEPLOY
    assert top.reasoners == ("evidence", "llm")
    assert top.confidence > max(h.confidence for h in alone.hypotheses)
    assert any(n.startswith("agreement:") for n in result.notes)
    assert result.plans[0].steps[0].action == "rollback_deploy"
    assert len({p.plan_id for p in result.plans}) == len(result.plans)
    assert all(
        h in {x.hypothesis_id for x in result.hypotheses}
        for p in result.plans
        for h in p.hypothesis_ids
    )


def test_disagreement_lowers_unshared_hypotheses_and_is_shown() -> None:
    alone = evidence().diagnose(snapshot(), SPECS, "dx-e")
    merged = MergedReasoner(
        [evidence(), llm(ScriptedChatModel([other_answer()]))], ManualClock(AT)
    ).diagnose(snapshot(), SPECS, "dx-1")
    deploy = next(h for h in merged.hypotheses if h.category is HypothesisCategory.BAD_DEPLOY)
    assert deploy.confidence < alone.hypotheses[0].confidence
    assert deploy.reasoners == ("evidence",)
    dependency = next(h for h in merged.hypotheses if h.reasoners == ("llm",))
    assert dependency.confidence == pytest.approx(0.8 * 0.8)
    assert any(n.startswith("disagreement:") for n in merged.notes)


def test_one_failing_or_slow_reasoner_leaves_the_others_diagnosis() -> None:
    failing = llm(ScriptedChatModel(["not json", "still not json"]))
    result = MergedReasoner([evidence(), failing], ManualClock(AT)).diagnose(
        snapshot(), SPECS, "dx-1"
    )
    assert result.hypotheses[0].reasoners == ("evidence",)
    assert any("llm failed" in n and "validation twice" in n for n in result.notes)
    slow = llm(ScriptedChatModel([json.dumps(GOOD)], delay_s=2.0))
    result = MergedReasoner([evidence(), slow], ManualClock(AT), timeout_s=0.2).diagnose(
        snapshot(), SPECS, "dx-2"
    )
    assert any("did not answer within" in n for n in result.notes)
    assert result.plans


def test_when_every_reasoner_fails_the_merge_fails_cleanly() -> None:
    failing = llm(ScriptedChatModel([RuntimeError("down")]))
    with pytest.raises(ReasoningError, match="every reasoner failed"):
        MergedReasoner([failing], ManualClock(AT)).diagnose(snapshot(), SPECS, "dx-1")


class MemoryCache:
    def __init__(self) -> None:
        self.items: dict[str, Diagnosis] = {}

    def get(self, key: str) -> Diagnosis | None:
        return self.items.get(key)

    def put(self, key: str, diagnosis: Diagnosis) -> None:
        self.items[key] = diagnosis


def test_an_identical_snapshot_reuses_the_stored_answer_under_a_new_id() -> None:
    model = ScriptedChatModel([json.dumps(GOOD)])
    cached = CachedReasoner(llm(model), MemoryCache(), "scripted/diagnose-v1")
    first = cached.diagnose(snapshot(), SPECS, "dx-1")
    second = cached.diagnose(snapshot(), SPECS, "dx-2")
    assert len(model.calls) == 1
    assert second.diagnosis_id == "dx-2"
    assert all(h.hypothesis_id.startswith("dx-2-") for h in second.hypotheses)
    assert second.plans[0].steps == first.plans[0].steps
    assert "reused the answer given as dx-1" in second.notes[-1]
    with pytest.raises(ReasoningError, match="no answer left"):  # a new snapshot asks again
        cached.diagnose(snapshot("staging"), SPECS, "dx-3")


def _catalog() -> Sequence[ActionSpec]:
    return SPECS


def test_the_cache_key_changes_with_the_catalog_and_the_model_identity() -> None:
    snap: ContextSnapshot = snapshot()
    a = CachedReasoner(llm(ScriptedChatModel([])), MemoryCache(), "m1/v1")
    b = CachedReasoner(llm(ScriptedChatModel([])), MemoryCache(), "m2/v1")
    assert a.key(snap, _catalog()) != b.key(snap, _catalog())
    assert a.key(snap, _catalog()) != a.key(snap, _catalog()[:-1])


def test_the_evidence_engine_weighs_past_outcomes_of_the_same_action_on_the_same_target() -> None:
    from arf.core.records import Outcome, PastIncident

    def past(outcome: Outcome, action: str = "rollback_deploy(checkout)") -> PastIncident:
        return PastIncident(
            incident_id=f"INC-{outcome.value}",
            services=("checkout",),
            opened_at=AT,
            outcome=outcome,
            cause="bad deploy",
            actions=(action,),
            similarity=1.0,
        )

    base = evidence().diagnose(snapshot(), SPECS, "dx").hypotheses[0].confidence
    failed = snapshot().model_copy(update={"similar_incidents": (past(Outcome.ROLLED_BACK),)})
    result = evidence().diagnose(failed, SPECS, "dx")
    assert result.hypotheses[0].confidence == pytest.approx(base - 0.15)
    assert "history:" in result.notes[0]
    worked = snapshot().model_copy(update={"similar_incidents": (past(Outcome.RESOLVED),)})
    assert evidence().diagnose(worked, SPECS, "dx").hypotheses[0].confidence == pytest.approx(
        min(0.99, base + 0.05)
    )
    other = snapshot().model_copy(
        update={"similar_incidents": (past(Outcome.ROLLED_BACK, "restart_service(checkout)"),)}
    )
    assert evidence().diagnose(other, SPECS, "dx").hypotheses[0].confidence == base
