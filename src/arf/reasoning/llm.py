"""The language-model reasoner: prompt, call, validate, ground, repair once, or give up.

The model is treated as untrusted: its answer is parsed against the bounded schema, every
cited evidence id, action, parameter and target is grounded against the snapshot and the
catalog, and one repair attempt is made with the problems fed back. After that the reasoner
raises `ReasoningError` with the reason, and the incident escalates (or, in a merged
reasoner, the other reasoners carry on). Budgets bound tokens, cost and wall time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pydantic import JsonValue

from arf.core.clock import Clock
from arf.core.errors import EgressRefusedError, ReasoningError
from arf.core.ports import ChatModel, TokenCounter
from arf.core.records import ActionSpec, ChatMessage, Completion, ContextSnapshot, Diagnosis
from arf.reasoning.answer import (
    COMPACT,
    FULL,
    answer_schema,
    max_answer_chars,
    parse_answer,
    to_diagnosis,
)
from arf.reasoning.knowledge import RunbookIndex
from arf.reasoning.prompt import EgressRule, PromptTemplate, render, repair_message

_ECHO_CHARS = 4_000


@dataclass(frozen=True)
class LLMBudget:
    """Per-incident limits. Costs are per 1,000 tokens (zero for a local model)."""

    max_prompt_tokens: int = 12_000
    max_output_tokens: int = 2_048
    max_total_tokens: int = 40_000
    max_cost_usd: float = 0.50
    wall_time_s: float = 180.0
    usd_per_1k_in: float = 0.0
    usd_per_1k_out: float = 0.0
    runbook_tokens: int = 800  # of the prompt, for the team's runbook passages

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        return tokens_in / 1000 * self.usd_per_1k_in + tokens_out / 1000 * self.usd_per_1k_out


@dataclass
class _Usage:
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0
    calls: int = 0

    def add(self, completion: Completion, budget: LLMBudget) -> None:
        self.tokens_in += completion.tokens_in
        self.tokens_out += completion.tokens_out
        self.cost_usd = budget.cost(self.tokens_in, self.tokens_out)

    @property
    def tokens(self) -> int:
        return self.tokens_in + self.tokens_out


_INCIDENTS_TRACKED = 10_000  # incidents whose spend is remembered (oldest forgotten first)


class LLMReasoner:
    """A `Reasoner` over any `ChatModel`."""

    def __init__(
        self,
        model: ChatModel,
        clock: Clock,
        counter: TokenCounter,
        leak_scan: Callable[[str], Sequence[str]],
        *,
        template: PromptTemplate | None = None,
        egress: EgressRule | None = None,
        budget: LLMBudget | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        runbooks: RunbookIndex | None = None,
    ) -> None:
        self._model = model
        self._clock = clock
        self._counter = counter
        self._leak_scan = leak_scan
        self._template = template or PromptTemplate.packaged()
        self._egress = egress or (EgressRule.for_hosted() if model.hosted else EgressRule())
        self._budget = budget or LLMBudget()
        self._monotonic = monotonic
        self._runbooks = runbooks
        # What earlier diagnoses of each incident spent: the budget is per incident, across
        # every call (late evidence can diagnose an incident again). Kept in this process.
        self._spent: dict[str, _Usage] = {}

    @property
    def name(self) -> str:
        return "llm"

    def diagnose(
        self, snapshot: ContextSnapshot, catalog: Sequence[ActionSpec], diagnosis_id: str
    ) -> Diagnosis:
        earlier = self._spent.pop(snapshot.incident_id, _Usage())
        self._spent[snapshot.incident_id] = earlier  # most recent last
        while len(self._spent) > _INCIDENTS_TRACKED:
            del self._spent[next(iter(self._spent))]
        started = self._monotonic()
        usage = _Usage()
        try:
            return self._diagnose(snapshot, catalog, diagnosis_id, earlier, usage, started)
        finally:
            earlier.tokens_in += usage.tokens_in
            earlier.tokens_out += usage.tokens_out
            earlier.cost_usd += usage.cost_usd
            earlier.seconds += self._monotonic() - started
            earlier.calls += 1

    def _diagnose(
        self,
        snapshot: ContextSnapshot,
        catalog: Sequence[ActionSpec],
        diagnosis_id: str,
        earlier: _Usage,
        usage: _Usage,
        started: float,
    ) -> Diagnosis:
        budget = self._budget
        passages = (
            self._runbooks.relevant(snapshot, self._counter, budget.runbook_tokens)
            if self._runbooks is not None
            else []
        )
        messages = render(self._template, snapshot, catalog, self._egress, passages)
        text = "\n".join(m.content for m in messages)
        leaked = self._leak_scan(text)
        if leaked:
            raise EgressRefusedError(
                "the prompt failed the redaction check (found "
                + ", ".join(sorted(set(leaked)))
                + "); nothing was sent"
            )
        prompt_tokens = self._counter.count(text)
        if prompt_tokens > budget.max_prompt_tokens:
            raise ReasoningError(
                f"the prompt needs about {prompt_tokens} tokens, over the budget of"
                f" {budget.max_prompt_tokens}"
            )
        constrained = self._model.grammar_constrained
        schema = answer_schema(snapshot, catalog, COMPACT if constrained else FULL)
        output_limit = budget.max_output_tokens
        if constrained:
            # at least one character per token: the grammar can then always finish the answer
            output_limit = max(output_limit, max_answer_chars(schema))
        if earlier.calls and (
            earlier.tokens + prompt_tokens + output_limit > budget.max_total_tokens
            or earlier.cost_usd >= budget.max_cost_usd
            or earlier.seconds >= budget.wall_time_s
        ):
            raise ReasoningError(
                f"the incident's model budget is spent: {earlier.calls} earlier"
                f" diagnos{'i' if earlier.calls == 1 else 'e'}s used {earlier.tokens} tokens,"
                f" ${earlier.cost_usd:.3f} and {earlier.seconds:.0f} s; another needs about"
                f" {prompt_tokens + output_limit} tokens"
            )
        specs = {s.name: s for s in catalog}
        problems: list[str] = []
        for attempt in (1, 2):
            if attempt == 2:
                planned = earlier.tokens + usage.tokens + 2 * prompt_tokens
                if planned + output_limit > budget.max_total_tokens:
                    raise ReasoningError(
                        "no token budget left for a repair; the first answer failed: "
                        + "; ".join(problems[:3])
                    )
            remaining = budget.wall_time_s - earlier.seconds - (self._monotonic() - started)
            if remaining <= 0:
                raise ReasoningError(f"the wall-time budget of {budget.wall_time_s:.0f} s is spent")
            completion = self._call(messages, schema, output_limit, remaining)
            usage.add(completion, budget)
            if earlier.cost_usd + usage.cost_usd > budget.max_cost_usd:
                raise ReasoningError(
                    f"the cost budget of ${budget.max_cost_usd:.2f} is spent"
                    f" (${earlier.cost_usd + usage.cost_usd:.3f})"
                )
            answer, problems = parse_answer(completion.text)
            if answer is not None:
                diagnosis, problems = to_diagnosis(
                    answer,
                    snapshot,
                    specs,
                    diagnosis_id=diagnosis_id,
                    reasoner=self.name,
                    created_at=self._clock.now(),
                )
                if not problems:
                    notes = ("accepted after one repair",) if attempt == 2 else ()
                    return diagnosis.model_copy(
                        update={
                            "model_id": completion.model_id or self._model.model_id,
                            "latency_ms": round((self._monotonic() - started) * 1000, 1),
                            "tokens_in": usage.tokens_in,
                            "tokens_out": usage.tokens_out,
                            "cost_usd": round(usage.cost_usd, 6),
                            "prompt_version": self._template.version,
                            "notes": notes,
                        }
                    )
            if attempt == 1:
                messages = [
                    *messages,
                    ChatMessage(role="assistant", content=completion.text[:_ECHO_CHARS]),
                    repair_message(self._template, problems),
                ]
        raise ReasoningError(
            "the model's answer failed validation twice: " + "; ".join(problems[:3])
        )

    def _call(
        self,
        messages: Sequence[ChatMessage],
        schema: Mapping[str, JsonValue],
        max_tokens: int,
        timeout_s: float,
    ) -> Completion:
        try:
            return self._model.complete(
                messages,
                schema,
                max_tokens=max_tokens,
                timeout_s=timeout_s,
            )
        except ReasoningError:
            raise
        except Exception as exc:
            raise ReasoningError(
                f"the model call failed: {exc.__class__.__name__}: {str(exc)[:200]}"
            ) from exc
