"""What a language model may answer, as a JSON schema built per snapshot, and its parser.

The schema is the first bound on a model: every string has a maximum length, every list a
maximum size, confidences lie in [0, 1], categories, actions, targets and evidence ids are
enums taken from the catalog and the snapshot. It is sent to hosted models as structured
output and compiled to a grammar for the local one. The parser then trusts nothing: it
validates the text against the same bounds (`Answer`, extra fields forbidden) and
`to_diagnosis` grounds the result against the snapshot and the catalog.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from arf.core.grounding import diagnosis_problems
from arf.core.records import (
    ActionParam,
    ActionSpec,
    ContextSnapshot,
    Diagnosis,
    Hypothesis,
    HypothesisCategory,
    PlanStep,
    RemediationPlan,
    Support,
)

MAX_HYPOTHESES = 3
MAX_PLANS = 3
MAX_STEPS = 3
MAX_CITED = 6
CAUSE_CHARS = 160
TEXT_CHARS = 200
MAX_ANSWER_CHARS = 20_000
PARAM_CHARS = 120


@dataclass(frozen=True)
class Bounds:
    """How much an answer may say. The full bounds are the validation limits; the compact
    ones, for grammar-constrained small local models, keep the worst case (`max_answer_chars`)
    small enough that the output limit always covers it at a tolerable generation time."""

    hypotheses: int = MAX_HYPOTHESES
    plans: int = MAX_PLANS
    steps: int = MAX_STEPS
    cited: int = MAX_CITED
    cause: int = CAUSE_CHARS
    text: int = TEXT_CHARS
    param: int = PARAM_CHARS


FULL = Bounds()
COMPACT = Bounds(hypotheses=2, plans=2, steps=2, cited=3, cause=100, text=100, param=40)


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class AnswerHypothesis(_Strict):
    cause: Annotated[str, Field(min_length=1, max_length=CAUSE_CHARS)]
    category: HypothesisCategory
    service: Annotated[str, Field(max_length=200)] | None
    confidence: Annotated[float, Field(ge=0.0, le=1.0)]
    evidence: Annotated[tuple[str, ...], Field(min_length=1, max_length=MAX_CITED)]


class AnswerStep(_Strict):
    action: Annotated[str, Field(min_length=1, max_length=200)]
    target: Annotated[str, Field(min_length=1, max_length=200)]
    params: dict[str, JsonValue]


class AnswerPlan(_Strict):
    hypothesis: Annotated[int, Field(ge=1, le=MAX_HYPOTHESES)]
    steps: Annotated[tuple[AnswerStep, ...], Field(min_length=1, max_length=MAX_STEPS)]
    rationale: Annotated[str, Field(min_length=1, max_length=TEXT_CHARS)]
    expected_impact: Annotated[str, Field(min_length=1, max_length=TEXT_CHARS)]
    confidence: Annotated[float, Field(ge=0.0, le=1.0)]


class Answer(_Strict):
    hypotheses: Annotated[
        tuple[AnswerHypothesis, ...], Field(min_length=1, max_length=MAX_HYPOTHESES)
    ]
    plans: Annotated[tuple[AnswerPlan, ...], Field(max_length=MAX_PLANS)]


def _param_schema(param: ActionParam, bounds: Bounds) -> dict[str, JsonValue]:
    schema: dict[str, JsonValue]
    if param.type == "string":
        schema = (
            {"type": "string", "enum": list(param.choices)}
            if param.choices
            else {"type": "string", "maxLength": bounds.param}
        )
    elif param.type == "boolean":
        schema = {"type": "boolean"}
    else:
        schema = {"type": param.type}
        if param.minimum is not None:
            schema["minimum"] = param.minimum
        if param.maximum is not None:
            schema["maximum"] = param.maximum
    if not param.required:
        schema = {"anyOf": [schema, {"type": "null"}]}
    return schema


def _step_schema(spec: ActionSpec, targets: Sequence[str], bounds: Bounds) -> dict[str, JsonValue]:
    params: dict[str, JsonValue] = {p.name: _param_schema(p, bounds) for p in spec.params}
    return {
        "type": "object",
        "properties": {
            "action": {"type": "string", "enum": [spec.name]},
            "target": {"type": "string", "enum": list(targets)},
            "params": {
                "type": "object",
                "properties": params,
                "required": [p.name for p in spec.params],
                "additionalProperties": False,
            },
        },
        "required": ["action", "target", "params"],
        "additionalProperties": False,
    }


def scope(snapshot: ContextSnapshot) -> tuple[list[str], list[str], list[str]]:
    """Services, resources and evidence ids a model may name, in a stable order
    (together the targets are exactly `snapshot.targets()`)."""
    services = sorted(set(snapshot.services) | {e.service for e in snapshot.evidence if e.service})
    resources = sorted({e.resource for e in snapshot.evidence if e.resource} - set(services))
    return services, resources, [e.evidence_id for e in snapshot.evidence]


def answer_schema(
    snapshot: ContextSnapshot, catalog: Sequence[ActionSpec], bounds: Bounds = FULL
) -> dict[str, JsonValue]:
    """The JSON schema of an acceptable answer for this snapshot and catalog."""
    services, resources, evidence_ids = scope(snapshot)
    targets = services + resources
    steps: list[JsonValue] = []
    for spec in catalog:
        allowed = services if spec.target_kind == "service" else resources or services
        if allowed:
            steps.append(_step_schema(spec, allowed, bounds))
    confidence: dict[str, JsonValue] = {"type": "number", "minimum": 0, "maximum": 1}
    evidence: dict[str, JsonValue] = (
        {"type": "string", "enum": list(evidence_ids)} if evidence_ids else {"type": "string"}
    )
    hypothesis: dict[str, JsonValue] = {
        "type": "object",
        "properties": {
            "cause": {"type": "string", "minLength": 1, "maxLength": bounds.cause},
            "category": {"type": "string", "enum": [c.value for c in HypothesisCategory]},
            "service": {"anyOf": [{"type": "string", "enum": list(targets)}, {"type": "null"}]}
            if targets
            else {"type": "null"},
            "confidence": confidence,
            "evidence": {
                "type": "array",
                "items": evidence,
                "minItems": 1,
                "maxItems": bounds.cited,
            },
        },
        "required": ["cause", "category", "service", "confidence", "evidence"],
        "additionalProperties": False,
    }
    plan: dict[str, JsonValue] = {
        "type": "object",
        "properties": {
            "hypothesis": {"type": "integer", "enum": list(range(1, bounds.hypotheses + 1))},
            "steps": {
                "type": "array",
                "items": {"anyOf": steps} if steps else {"type": "null"},
                "minItems": 1,
                "maxItems": bounds.steps,
            },
            "rationale": {"type": "string", "minLength": 1, "maxLength": bounds.text},
            "expected_impact": {"type": "string", "minLength": 1, "maxLength": bounds.text},
            "confidence": confidence,
        },
        "required": ["hypothesis", "steps", "rationale", "expected_impact", "confidence"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "hypotheses": {
                "type": "array",
                "items": hypothesis,
                "minItems": 1,
                "maxItems": bounds.hypotheses,
            },
            "plans": {"type": "array", "items": plan, "maxItems": bounds.plans},
        },
        "required": ["hypotheses", "plans"],
        "additionalProperties": False,
    }


def max_answer_chars(schema: Mapping[str, Any], per_char: int = 1) -> int:
    """An upper bound on the characters of any compact answer the schema admits, with one
    optional space after every value and `per_char` characters for each string character
    (1 under the local grammar, which admits no escapes; 2 where escapes are allowed). A
    grammar-constrained model emits at least one character per token, so an output limit of
    this many tokens can never cut an answer short (unbounded strings or arrays: no bound)."""
    if "enum" in schema:
        return max(len(json.dumps(v)) for v in schema["enum"]) + 1
    if "anyOf" in schema:
        return max(max_answer_chars(option, per_char) for option in schema["anyOf"])
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties") or {}
        inner = sum(
            len(json.dumps(k)) + 3 + max_answer_chars(v, per_char) for k, v in properties.items()
        )
        return 3 + inner
    if kind == "array":
        if "maxItems" not in schema:
            return MAX_ANSWER_CHARS
        return 3 + int(schema["maxItems"]) * (max_answer_chars(schema["items"], per_char) + 2)
    if kind == "string":
        if "maxLength" not in schema:
            return MAX_ANSWER_CHARS
        return 3 + per_char * int(schema["maxLength"])
    if kind in ("number", "integer"):
        return 41  # llama.cpp's number rule: sign, 16 + 16 digits, point, exponent
    return 6  # true, false, null and a space


def _errors(exc: ValidationError) -> list[str]:
    found = []
    for error in exc.errors()[:10]:
        where = ".".join(str(part) for part in error["loc"]) or "answer"
        found.append(f"{where}: {error['msg']}")
    return found


def _non_finite(name: str) -> object:
    """`NaN`, `Infinity` and `-Infinity` are not JSON: an answer carrying one is refused."""
    raise ValueError(f"{name} is not a number JSON allows")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is out of range")
    return value


def parse_answer(text: str) -> tuple[Answer | None, list[str]]:
    """The answer, or the reasons it is not one. Never raises on any input."""
    if len(text) > MAX_ANSWER_CHARS:
        return None, [f"the answer is longer than {MAX_ANSWER_CHARS} characters"]
    try:
        data = json.loads(text, parse_constant=_non_finite, parse_float=_finite)
    except (ValueError, RecursionError) as exc:
        return None, [f"the answer is not JSON ({str(exc)[:120]})"]
    if not isinstance(data, dict):
        return None, ["the answer must be one JSON object"]
    try:
        return Answer.model_validate(data), []
    except ValidationError as exc:
        return None, _errors(exc)


def to_diagnosis(
    answer: Answer,
    snapshot: ContextSnapshot,
    specs: Mapping[str, ActionSpec],
    *,
    diagnosis_id: str,
    reasoner: str,
    created_at: datetime,
) -> tuple[Diagnosis, list[str]]:
    """The diagnosis the answer describes, and every grounding problem found in it."""
    problems: list[str] = []
    hypotheses = tuple(
        Hypothesis(
            hypothesis_id=f"{diagnosis_id}-h{index}",
            cause=item.cause,
            category=item.category,
            service=item.service,
            confidence=round(item.confidence, 4),
            evidence_ids=item.evidence,
            reasoners=(reasoner,),
            support=(Support.MODEL,),
        )
        for index, item in enumerate(answer.hypotheses, start=1)
    )
    plans: list[RemediationPlan] = []
    for index, item in enumerate(answer.plans, start=1):
        if item.hypothesis > len(hypotheses):
            problems.append(
                f"plans.{index - 1}.hypothesis: there is no hypothesis {item.hypothesis}"
            )
            continue
        steps = tuple(
            PlanStep(
                action=step.action,
                target=step.target,
                params={k: v for k, v in step.params.items() if v is not None},
            )
            for step in item.steps
        )
        rollback = "; ".join(
            specs[s.action].rollback if s.action in specs else "none declared" for s in steps
        )
        plans.append(
            RemediationPlan(
                plan_id=f"{diagnosis_id}-p{index}",
                hypothesis_ids=(hypotheses[item.hypothesis - 1].hypothesis_id,),
                steps=steps,
                rationale=item.rationale,
                expected_impact=item.expected_impact,
                rollback=rollback,
                confidence=round(item.confidence, 4),
            )
        )
    diagnosis = Diagnosis(
        diagnosis_id=diagnosis_id,
        incident_id=snapshot.incident_id,
        snapshot_hash=snapshot.content_hash(),
        reasoner=reasoner,
        hypotheses=hypotheses,
        plans=tuple(plans),
        created_at=created_at,
    )
    grounding, _ = diagnosis_problems(diagnosis, snapshot, specs)
    return diagnosis, problems + grounding
