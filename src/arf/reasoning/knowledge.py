"""Runbooks as knowledge: Markdown files whose front matter says when they apply.

A runbook is a Markdown file that starts with YAML front matter between two `---` lines:

    ---
    id: redis-evictions
    title: Redis evicts keys under memory pressure
    match:                      # any one hit on the failing service's evidence applies it
      alerts: [RedisEvictionsHigh]
      event_reasons: [OOMKilling]
      log_patterns: ["OOM command not allowed"]
      findings: []
      changes: []
    category: resource_exhaustion
    hypothesis: "{service} evicts keys: its memory limit is below its working set"
    confidence: 0.7
    actions:                    # the first one the catalog holds is proposed
      - {action: increase_memory_limit, params: {factor: 1.5}}
    ---
    What to check, in the team's words...

A runbook supports a hypothesis only beside evidence that matches it: the evidence engine
applies one to a failing service only when an alert, event, log line, finding or change of
that service matches its `match`, and cites those evidence items. Runbooks are tried in order:
a team's (`$ARF_HOME/knowledge.d/`, the `knowledge_dirs` setting) before the packaged ones,
each directory by file name; the first that matches wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, JsonValue, ValidationError, field_validator

from arf.core.canonical import content_hash
from arf.core.errors import ConfigError
from arf.core.grounding import param_problems
from arf.core.ports import TokenCounter
from arf.core.records import (
    ActionSpec,
    ContextSnapshot,
    Evidence,
    HypothesisCategory,
    Name,
    Record,
    ShortText,
    SignalKind,
    SignalStatus,
)
from arf.core.yaml_files import line_of, located_problem, read_sources

SUFFIX = ".md"


class KnowledgeError(ConfigError):
    """A runbook that cannot be loaded: names the file, the line and the field."""


class Matchers(Record):
    """Evidence that makes a runbook apply; any one hit is enough."""

    alerts: tuple[Name, ...] = ()  # alert names (the `alertname` label)
    event_reasons: tuple[Name, ...] = ()  # Kubernetes event reasons (BackOff, Evicted, ...)
    log_patterns: tuple[Name, ...] = ()  # regular expressions searched in log lines
    findings: tuple[Name, ...] = ()  # scanner check ids
    changes: tuple[Name, ...] = ()  # kinds of change (deploy, config, feature_flag, ...)

    @field_validator("log_patterns")
    @classmethod
    def _compiles(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from exc
        return patterns

    def empty(self) -> bool:
        return not (
            self.alerts or self.event_reasons or self.log_patterns or self.findings or self.changes
        )


class SuggestedAction(Record):
    action: Name
    params: dict[str, JsonValue] = Field(default_factory=dict)


class RunbookMeta(Record):
    id: Name
    title: ShortText = ""
    match: Matchers
    category: HypothesisCategory
    hypothesis: ShortText = Field(min_length=1)  # `{service}` is filled in
    confidence: float = Field(ge=0.05, le=0.95)
    actions: tuple[SuggestedAction, ...] = ()


@dataclass(frozen=True)
class Runbook:
    meta: RunbookMeta
    body: str
    source: str

    def hits(self, evidence: Iterable[Evidence]) -> tuple[Evidence, ...]:
        """The firing evidence items this runbook's matchers match."""
        match = self.meta.match
        patterns = [re.compile(p) for p in match.log_patterns]
        found = []
        for item in evidence:
            if item.status is not SignalStatus.FIRING and item.kind is not SignalKind.CHANGE:
                continue
            attributes = item.attributes
            hit = (
                (item.kind is SignalKind.ALERT and attributes.get("alertname") in match.alerts)
                or (
                    item.kind is SignalKind.EVENT
                    and attributes.get("reason") in match.event_reasons
                )
                or (item.kind is SignalKind.LOG and any(p.search(item.summary) for p in patterns))
                or (
                    item.kind is SignalKind.FINDING and attributes.get("check_id") in match.findings
                )
                or (
                    item.kind is SignalKind.CHANGE
                    and attributes.get("change_type") in match.changes
                )
            )
            if hit:
                found.append(item)
        return tuple(found)


def parse_runbook(text: str, where: str) -> Runbook:
    """One runbook from Markdown text with YAML front matter."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        raise KnowledgeError(f"{where}:1: a runbook starts with front matter: a line '---'")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise KnowledgeError(f"{where}:1: the front matter has no closing '---' line") from None
    front = "\n".join(lines[1:end])
    try:
        document = yaml.safe_load(front)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise KnowledgeError(f"{where}:{line}: front matter is not valid YAML: {problem}") from exc
    if not isinstance(document, dict):
        raise KnowledgeError(f"{where}:2: the front matter is not one YAML mapping")
    try:
        meta = RunbookMeta.model_validate(document)
    except ValidationError as exc:
        # the front matter starts on the file's second line
        raise KnowledgeError(located_problem(exc, front, where, offset=1)) from exc
    if meta.match.empty():
        line = line_of(front, ("match",)) + 1
        raise KnowledgeError(f"{where}:{line}: match: names nothing, so it never applies")
    return Runbook(meta, "\n".join(lines[end + 1 :]).strip(), where)


def load_runbooks(source: Traversable | Path) -> list[Runbook]:
    """Every runbook of a Markdown file or a directory of them."""
    return [
        parse_runbook(text, where)
        for where, text in read_sources(source, (SUFFIX,), KnowledgeError)
    ]


def packaged_knowledge() -> Traversable:
    return resources.files("arf.reasoning").joinpath("knowledge")


class KnowledgeBase:
    """Runbooks in the order they are tried; an id appears once."""

    def __init__(self, runbooks: Sequence[Runbook]) -> None:
        seen: dict[str, Runbook] = {}
        for runbook in runbooks:
            known = seen.get(runbook.meta.id)
            if known is not None:
                raise KnowledgeError(
                    f"{runbook.source}: runbook id {runbook.meta.id!r} is already used by"
                    f" {known.source}"
                )
            seen[runbook.meta.id] = runbook
        self.runbooks = tuple(runbooks)

    @classmethod
    def packaged(cls) -> KnowledgeBase:
        return cls(load_runbooks(packaged_knowledge()))

    @classmethod
    def load(cls, sources: Sequence[Traversable | Path]) -> KnowledgeBase:
        """A team's runbooks (in the order given), then the packaged ones."""
        own = [r for source in sources for r in load_runbooks(source)]
        return cls([*own, *load_runbooks(packaged_knowledge())])

    def digest(self) -> str:
        """Changes whenever any runbook's content or order changes."""
        return content_hash([[r.meta.model_dump(mode="json"), r.body] for r in self.runbooks])

    def match(self, evidence: Sequence[Evidence]) -> tuple[Runbook, tuple[Evidence, ...]] | None:
        """The first runbook that the evidence matches, with the items that matched."""
        for runbook in self.runbooks:
            hits = runbook.hits(evidence)
            if hits:
                return runbook, hits
        return None


@dataclass(frozen=True)
class KnowledgeFinding:
    kind: str  # error | unknown-action | shadowed
    runbook: str
    source: str
    message: str

    @property
    def warning(self) -> bool:
        return self.kind != "error"


_MATCHER_KINDS = ("alerts", "event_reasons", "log_patterns", "findings", "changes")


def lint_knowledge(
    knowledge: KnowledgeBase, specs: Mapping[str, ActionSpec]
) -> list[KnowledgeFinding]:
    """What loading cannot see: suggested actions the catalog lacks (a warning: the runbook
    still explains, but proposes nothing), suggested parameters the action refuses (an error),
    and runbooks an earlier one always wins over (a warning)."""
    findings: list[KnowledgeFinding] = []
    earlier: dict[str, set[str]] = {kind: set() for kind in _MATCHER_KINDS}
    for runbook in knowledge.runbooks:
        meta = runbook.meta
        for suggested in meta.actions:
            spec = specs.get(suggested.action)
            if spec is None:
                findings.append(
                    KnowledgeFinding(
                        "unknown-action",
                        meta.id,
                        runbook.source,
                        f"suggests {suggested.action}, which no registered action is",
                    )
                )
                continue
            for problem in param_problems(spec, suggested.params):
                findings.append(
                    KnowledgeFinding(
                        "error", meta.id, runbook.source, f"{suggested.action}: {problem}"
                    )
                )
        own = {kind: set(getattr(meta.match, kind)) for kind in _MATCHER_KINDS}
        if all(own[kind] <= earlier[kind] for kind in _MATCHER_KINDS):
            findings.append(
                KnowledgeFinding(
                    "shadowed",
                    meta.id,
                    runbook.source,
                    "every matcher is an earlier runbook's: it never applies",
                )
            )
        for kind in _MATCHER_KINDS:
            earlier[kind] |= own[kind]
    return findings


# ------------------------------------------------------------------ retrieval for the model


@dataclass(frozen=True)
class Passage:
    """One paragraph of a runbook, with what the runbook concludes."""

    runbook: str
    title: str
    hypothesis: str
    actions: tuple[str, ...]
    text: str


def _passages(runbook: Runbook) -> list[Passage]:
    meta = runbook.meta
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", runbook.body) if p.strip()]
    return [
        Passage(meta.id, meta.title, meta.hypothesis, tuple(a.action for a in meta.actions), p)
        for p in paragraphs or [meta.title or meta.hypothesis]
    ]


def _query(snapshot: ContextSnapshot) -> str:
    parts: list[str] = []
    for item in snapshot.evidence:
        parts.append(item.summary)
        parts.extend(
            str(item.attributes[key])
            for key in ("alertname", "reason", "check_id", "change_type")
            if key in item.attributes
        )
    return "\n".join(parts)


class RunbookIndex:
    """BM25 over runbook paragraphs (the `bm25s` library), built once per knowledge base.
    `bm25s` (and numpy) load only here: the evidence engine alone never needs them."""

    def __init__(self, knowledge: KnowledgeBase) -> None:
        import bm25s

        self._passages = [p for r in knowledge.runbooks for p in _passages(r)]
        self._retriever: Any = None
        if self._passages:
            corpus = [
                f"{p.title}\n{p.hypothesis}\n{' '.join(p.actions)}\n{p.text}"
                for p in self._passages
            ]
            tokens = bm25s.tokenize(corpus, stopwords="en", show_progress=False)
            self._retriever = bm25s.BM25()
            self._retriever.index(tokens, show_progress=False)

    def relevant(
        self, snapshot: ContextSnapshot, counter: TokenCounter, token_budget: int
    ) -> list[Passage]:
        """The passages that score for the snapshot's evidence, best first, as many as fit
        in `token_budget` tokens."""
        import bm25s

        query = _query(snapshot)
        if self._retriever is None or not query.strip() or token_budget <= 0:
            return []
        tokens = bm25s.tokenize([query], stopwords="en", show_progress=False)
        if not tokens.vocab:
            return []
        k = min(20, len(self._passages))
        found, scores = self._retriever.retrieve(tokens, k=k, show_progress=False)
        chosen: list[Passage] = []
        used = 0
        for index, score in zip(found[0], scores[0], strict=True):
            if score <= 0:
                break
            passage = self._passages[int(index)]
            cost = counter.count(passage.text) + counter.count(passage.hypothesis) + 16
            if used + cost > token_budget:
                continue
            chosen.append(passage)
            used += cost
        return chosen
