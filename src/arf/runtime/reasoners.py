"""Which reasoner runs, from settings: the evidence engine, a language model, or both merged.

`ARF_LLM` names the backend (configured, not coded): `local` (the packaged GGUF, in process),
`local:/path/to/model.gguf`, `openai:MODEL` (any OpenAI-compatible endpoint: base URL from
`ARF_LLM_BASE_URL` or `OPENAI_BASE_URL`, key from `OPENAI_API_KEY`), `anthropic:MODEL` (key
from `ANTHROPIC_API_KEY`). Model backends are built lazily: nothing loads until first use.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from pydantic import ValidationError

from arf.core.clock import Clock
from arf.core.errors import ConfigError
from arf.core.ports import ChatModel, Reasoner, TokenCounter
from arf.core.records import Diagnosis
from arf.reasoning.cache import CachedReasoner
from arf.reasoning.evidence_engine import EvidenceReasoner
from arf.reasoning.knowledge import KnowledgeBase, RunbookIndex
from arf.reasoning.llm import LLMBudget, LLMReasoner
from arf.reasoning.merge import MergedReasoner
from arf.reasoning.prompt import EgressRule, PromptTemplate
from arf.runtime.plugins import load_backends
from arf.runtime.settings import Settings
from arf.signals.redaction import Redactor


class FileDiagnosisCache:
    """Diagnoses as JSON files named by cache key."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory

    def get(self, key: str) -> Diagnosis | None:
        path = self._dir / f"{key}.json"
        try:
            return Diagnosis.model_validate_json(path.read_text("utf-8"))
        except (OSError, ValidationError, ValueError):
            return None  # a missing or damaged entry is a miss

    def put(self, key: str, diagnosis: Diagnosis) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        partial = self._dir / f"{key}.json.partial"
        partial.write_text(diagnosis.model_dump_json(), "utf-8")
        partial.replace(self._dir / f"{key}.json")


def team_knowledge(settings: Settings) -> KnowledgeBase:
    """The team's runbooks (the `knowledge_dirs` setting, then $ARF_HOME/knowledge.d), then
    the packaged ones; a runbook that does not load stops ARF (KnowledgeError)."""
    own = [settings.knowledge_dir] if settings.knowledge_dir.is_dir() else []
    return KnowledgeBase.load([*settings.knowledge_dirs, *own])


def chat_model(spec: str, settings: Settings) -> ChatModel:
    """The model `spec` (NAME[:ARGUMENT]) names, from the registered backends."""
    name, _, argument = spec.partition(":")
    backends = load_backends()
    backend = backends.get(name)
    if backend is None or (backend.argument_required and not argument):
        usages = ", ".join(backends[b].usage for b in sorted(backends))
        raise ConfigError(f"ARF_LLM={spec!r}: expected one of {usages}")
    return backend.connect(argument, settings)


def llm_reasoner(
    settings: Settings,
    model: ChatModel,
    clock: Clock,
    counter: TokenCounter,
    redactor: Redactor,
    template: PromptTemplate | None = None,
    runbooks: RunbookIndex | None = None,
) -> LLMReasoner:
    egress = EgressRule.for_hosted() if model.hosted else EgressRule()
    if settings.llm_send_logs is not None:
        egress = replace(egress, send_logs=settings.llm_send_logs)
    if settings.llm_environments is not None:
        egress = replace(egress, environments=frozenset(settings.llm_environments))
    budget = LLMBudget(
        max_prompt_tokens=settings.llm_max_prompt_tokens,
        max_output_tokens=settings.llm_max_output_tokens,
        max_total_tokens=settings.llm_max_total_tokens,
        max_cost_usd=settings.llm_max_cost_usd,
        wall_time_s=settings.llm_wall_time_s,
        usd_per_1k_in=settings.llm_usd_per_1k_in,
        usd_per_1k_out=settings.llm_usd_per_1k_out,
        runbook_tokens=settings.llm_runbook_tokens,
    )
    return LLMReasoner(
        model,
        clock,
        counter,
        redactor.find,
        template=template,
        egress=egress,
        budget=budget,
        runbooks=runbooks,
    )


def build_reasoner(
    settings: Settings,
    clock: Clock,
    counter: TokenCounter,
    redactor: Redactor,
    *,
    model: ChatModel | None = None,
    mode: str | None = None,
) -> Reasoner:
    """The reasoner the settings ask for (`mode` overrides `settings.reasoning`)."""
    knowledge = team_knowledge(settings)
    evidence = EvidenceReasoner(clock, knowledge)
    chosen = mode or settings.reasoning
    if chosen == "evidence":
        return evidence
    if model is None:
        if not settings.llm:
            raise ConfigError(
                f"reasoner {chosen!r} needs a model: set ARF_LLM (e.g. ARF_LLM=local)"
            )
        model = chat_model(settings.llm, settings)
    template = PromptTemplate.packaged()
    index = RunbookIndex(knowledge)
    llm: Reasoner = llm_reasoner(settings, model, clock, counter, redactor, template, index)
    if settings.diagnosis_cache:
        # the runbooks are part of the prompt: new knowledge is a new cache identity
        identity = json.dumps([model.model_id, template.version, knowledge.digest()])
        llm = CachedReasoner(llm, FileDiagnosisCache(settings.cache_path), identity)
    if chosen == "llm":
        return llm
    return MergedReasoner([evidence, llm], clock, timeout_s=settings.llm_wall_time_s + 30)
