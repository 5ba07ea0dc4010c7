"""Runbooks as knowledge: the format, its errors, what matches, and what the evidence engine
does with a team's runbook."""

from __future__ import annotations

from pathlib import Path

import pytest

from arf.core.clock import ManualClock
from arf.core.errors import ReasoningError
from arf.core.records import (
    ContextSnapshot,
    Evidence,
    HypothesisCategory,
    Severity,
    SignalKind,
    SignalStatus,
    Support,
)
from arf.execution.action_packs import ActionCatalog, default_actions
from arf.reasoning.knowledge import (
    KnowledgeBase,
    KnowledgeError,
    RunbookIndex,
    lint_knowledge,
    load_runbooks,
    parse_runbook,
)
from arf.reasoning.llm import LLMBudget, LLMReasoner
from arf.reasoning.tokens import ApproxTokenCounter
from arf.signals.redaction import Redactor
from arf.testing.fakes import ScriptedChatModel
from tests.conftest import REPO
from tests.unit.reasoning.test_evidence_engine import AT, alert, diagnose_with, snapshot

EXAMPLE = REPO / "docs" / "examples" / "knowledge" / "java-heap-exhausted.md"
SPECS = ActionCatalog(default_actions()).specs()


def log(eid: str, service: str, line: str) -> Evidence:
    return Evidence(
        evidence_id=eid,
        kind=SignalKind.LOG,
        source="logs",
        service=service,
        severity=Severity.HIGH,
        status=SignalStatus.FIRING,
        summary=line,
        observed_at=AT,
        relevance=0.8,
        attributes={"template": line},
    )


def _error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "rb.md"
    path.write_text(text)
    with pytest.raises(KnowledgeError) as caught:
        load_runbooks(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{path}:"), message
    return message.removeprefix(f"{path}:")


def test_the_packaged_runbooks_load_in_order() -> None:
    ids = [r.meta.id for r in KnowledgeBase.packaged().runbooks]
    assert ids == ["oom-killed", "datastore-disk-errors", "target-down", "crash-loop"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# no front matter\n", "1: a runbook starts with front matter"),
        ("---\nid: x\n", "1: the front matter has no closing"),
        ("---\nid: [x\n---\n", "front matter is not valid YAML"),
        ("---\n- a\n---\n", "2: the front matter is not one YAML mapping"),
        (
            "---\nid: x\nmatch: {alerts: [A]}\ncategory: nonsense\nhypothesis: h\n"
            "confidence: 0.5\n---\n",
            "4: category: Input should be",
        ),
        (
            "---\nid: x\nmatch: {alerts: [A]}\ncategory: unknown\nhypothesis: h\n"
            "confidence: 0.5\nconfidance: 0.6\n---\n",
            "7: confidance: Extra inputs are not permitted",
        ),
        (
            "---\nid: x\nmatch: {log_patterns: ['(unclosed']}\ncategory: unknown\n"
            "hypothesis: h\nconfidence: 0.5\n---\n",
            "is not a regular expression",
        ),
        (
            "---\nid: x\nmatch: {}\ncategory: unknown\nhypothesis: h\nconfidence: 0.5\n---\n",
            "3: match: names nothing",
        ),
    ],
)
def test_bad_front_matter_is_one_line_naming_file_line_and_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    assert expected in _error(tmp_path, text)


def test_a_runbook_id_used_twice_names_both_files(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(EXAMPLE.read_text())
    (tmp_path / "b.md").write_text(EXAMPLE.read_text())
    with pytest.raises(KnowledgeError, match=r"b\.md: runbook id 'java-heap-exhausted' is"):
        KnowledgeBase.load([tmp_path])


def test_a_log_line_matching_a_team_runbook_explains_the_failure_and_proposes_its_action(
    tmp_path: Path,
) -> None:
    knowledge = KnowledgeBase.load([EXAMPLE])
    evidence = snapshot(
        alert("a1", "cart", "HighErrorRate"),
        log("l1", "cart", "java.lang.OutOfMemoryError: Java heap space at Cache.put"),
    )
    result = diagnose_with(evidence, SPECS, knowledge)
    top = result.hypotheses[0]
    assert top.cause == "cart runs out of Java heap under its current memory limit"
    assert top.category is HypothesisCategory.RESOURCE_EXHAUSTION
    assert set(top.evidence_ids) == {"a1", "l1"}  # the runbook is cited beside its evidence
    assert top.support == (Support.RUNBOOK,)
    step = result.plans[0].steps[0]
    assert (step.action, step.target, step.params) == (
        "increase_memory_limit",
        "cart",
        {"factor": 1.5},
    )


def test_a_runbook_applies_only_beside_evidence_that_matches_it() -> None:
    knowledge = KnowledgeBase.load([EXAMPLE])
    unrelated = snapshot(
        alert("a1", "cart", "HighErrorRate"), log("l1", "cart", "connection reset by peer")
    )
    result = diagnose_with(unrelated, SPECS, knowledge)
    assert not result.plans
    assert result.hypotheses[0].category is HypothesisCategory.UNKNOWN


def test_a_team_runbook_is_tried_before_the_packaged_ones(tmp_path: Path) -> None:
    (tmp_path / "oom.md").write_text(
        "---\nid: our-oom\nmatch: {alerts: [OOMKilled]}\ncategory: resource_exhaustion\n"
        "hypothesis: '{service} outgrew its limit (ours)'\nconfidence: 0.6\n"
        "actions: [{action: increase_memory_limit, params: {factor: 1.2}}]\n---\n"
    )
    result = diagnose_with(
        snapshot(alert("a1", "cart", "OOMKilled")), SPECS, KnowledgeBase.load([tmp_path])
    )
    assert result.hypotheses[0].cause == "cart outgrew its limit (ours)"
    assert result.plans[0].steps[0].params == {"factor": 1.2}


def test_lint_finds_unknown_actions_refused_parameters_and_shadowed_runbooks(
    tmp_path: Path,
) -> None:
    (tmp_path / "1.md").write_text(
        "---\nid: one\nmatch: {alerts: [A, B]}\ncategory: unknown\nhypothesis: h\n"
        "confidence: 0.5\nactions: [{action: flush_everything}]\n---\n"
    )
    (tmp_path / "2.md").write_text(
        "---\nid: two\nmatch: {alerts: [B]}\ncategory: unknown\nhypothesis: h\n"
        "confidence: 0.5\nactions: [{action: increase_memory_limit, params: {factor: 9}}]\n---\n"
    )
    specs = {s.name: s for s in SPECS}
    found = {(f.kind, f.runbook) for f in lint_knowledge(KnowledgeBase.load([tmp_path]), specs)}
    assert found == {("unknown-action", "one"), ("error", "two"), ("shadowed", "two")}
    assert lint_knowledge(KnowledgeBase.packaged(), specs) == []


def test_the_example_runbook_parses_with_its_body() -> None:
    runbook = parse_runbook(EXAMPLE.read_text(), str(EXAMPLE))
    assert runbook.body.startswith("# Java heap exhausted")


# ------------------------------------------------------------------ runbooks in the prompt


def _prompt(evidence: ContextSnapshot, budget: int = 800) -> str:
    model = ScriptedChatModel([RuntimeError("only the prompt matters here")])
    reasoner = LLMReasoner(
        model,
        ManualClock(AT),
        ApproxTokenCounter(),
        Redactor().find,
        budget=LLMBudget(runbook_tokens=budget),
        runbooks=RunbookIndex(KnowledgeBase.load([EXAMPLE])),
    )
    with pytest.raises(ReasoningError):
        reasoner.diagnose(evidence, SPECS, "dx-1")
    return "\n".join(m.content for m in model.calls[0])


def test_the_model_sees_the_runbook_passages_its_evidence_calls_for() -> None:
    oom = snapshot(
        alert("a1", "cart", "HighErrorRate"),
        log("l1", "cart", "java.lang.OutOfMemoryError: Java heap space"),
    )
    prompt = _prompt(oom)
    runbooks = prompt.split("<<<RUNBOOKS")[1].split("<<<END RUNBOOKS")[0]
    assert '"runbook":"java-heap-exhausted"' in runbooks
    assert "MaxRAMPercentage" in runbooks  # the team's own words reach the model
    assert '"suggests":["increase_memory_limit"]' in runbooks
    unrelated = _prompt(snapshot(alert("a1", "cart", "CertificateExpiring")))
    assert "java-heap-exhausted" not in unrelated
    assert "none" in unrelated.split("<<<RUNBOOKS")[1].split("<<<END RUNBOOKS")[0]


def test_runbook_passages_stay_within_their_token_budget() -> None:
    oom = snapshot(log("l1", "cart", "java.lang.OutOfMemoryError: Java heap space"))
    full = _prompt(oom).count('"runbook":"java-heap-exhausted"')
    assert full >= 2
    assert _prompt(oom, budget=90).count('"runbook":"java-heap-exhausted"') < full
    assert _prompt(oom, budget=0).count('"runbook":"java-heap-exhausted"') == 0
