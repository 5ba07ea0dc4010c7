"""The grounding gate: a diagnosis is data, checked before governance ever sees a plan.

A plan survives only if every step names a catalogued action with valid parameters, every
target is present in the snapshot, and every cited evidence id exists in the snapshot.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from pydantic import JsonValue

from arf.core.records import ActionParam, ActionSpec, ContextSnapshot, Diagnosis, RemediationPlan


def _matches(pattern: str, value: str) -> bool:
    try:
        return re.fullmatch(pattern, value) is not None
    except re.error:
        return False  # a pattern that does not compile admits nothing


def param_problem(param: ActionParam, value: JsonValue) -> str | None:
    if param.type == "string":
        if not isinstance(value, str):
            return f"{param.name} must be a string"
        if param.choices and value not in param.choices:
            return f"{param.name}={value!r} is not one of {', '.join(param.choices)}"
        if len(value) > min(500, param.max_length or 500):
            return f"{param.name} is too long"
        if param.pattern is not None and not _matches(param.pattern, value):
            return f"{param.name}={value!r} does not match {param.pattern}"
        return None
    if param.type == "boolean":
        return None if isinstance(value, bool) else f"{param.name} must be a boolean"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{param.name} must be a number"
    if not math.isfinite(value):
        return f"{param.name} must be a finite number"
    if param.type == "integer" and not isinstance(value, int):
        return f"{param.name} must be an integer"
    if param.minimum is not None and value < param.minimum:
        return f"{param.name}={value} is below {param.minimum}"
    if param.maximum is not None and value > param.maximum:
        return f"{param.name}={value} is above {param.maximum}"
    return None


def plan_problems(
    plan: RemediationPlan, snapshot: ContextSnapshot, specs: Mapping[str, ActionSpec]
) -> list[str]:
    problems: list[str] = []
    targets = snapshot.targets()
    for index, step in enumerate(plan.steps):
        spec = specs.get(step.action)
        where = f"step {index + 1} ({step.action} on {step.target})"
        if spec is None:
            problems.append(f"{where}: unknown action")
            continue
        if step.target not in targets:
            problems.append(f"{where}: target is not part of this incident's context")
        problems.extend(f"{where}: {problem}" for problem in param_problems(spec, step.params))
    return problems


def param_problems(spec: ActionSpec, params: Mapping[str, JsonValue]) -> list[str]:
    """What is wrong with a step's parameters against the action's declared schema."""
    problems: list[str] = []
    declared = {p.name: p for p in spec.params}
    for name in params:
        if name not in declared:
            problems.append(f"unknown parameter {name!r}")
    for name, param in declared.items():
        if name not in params:
            if param.required:
                problems.append(f"missing parameter {name!r}")
            continue
        problem = param_problem(param, params[name])
        if problem:
            problems.append(problem)
    return problems


def diagnosis_problems(
    diagnosis: Diagnosis, snapshot: ContextSnapshot, specs: Mapping[str, ActionSpec]
) -> tuple[list[str], tuple[RemediationPlan, ...]]:
    """Problems found, and the plans that passed every check (in the reasoner's order)."""
    problems: list[str] = []
    if diagnosis.snapshot_hash != snapshot.content_hash():
        return ["the diagnosis is for a different snapshot"], ()
    known = snapshot.evidence_ids()
    hypothesis_ids = {h.hypothesis_id for h in diagnosis.hypotheses}
    for hypothesis in diagnosis.hypotheses:
        missing = [e for e in hypothesis.evidence_ids if e not in known]
        if missing:
            problems.append(
                f"hypothesis {hypothesis.hypothesis_id} cites evidence not in the snapshot:"
                f" {', '.join(missing[:5])}"
            )
        if not hypothesis.evidence_ids:
            problems.append(f"hypothesis {hypothesis.hypothesis_id} cites no evidence")
    grounded_hypotheses = {
        h.hypothesis_id
        for h in diagnosis.hypotheses
        if h.evidence_ids and all(e in known for e in h.evidence_ids)
    }
    good: list[RemediationPlan] = []
    for plan in diagnosis.plans:
        plan_issues = plan_problems(plan, snapshot, specs)
        unknown = [h for h in plan.hypothesis_ids if h not in hypothesis_ids]
        if unknown:
            plan_issues.append(f"refers to unknown hypotheses {', '.join(unknown)}")
        elif not set(plan.hypothesis_ids) <= grounded_hypotheses:
            plan_issues.append("rests on a hypothesis with ungrounded evidence")
        if plan_issues:
            problems.extend(f"plan {plan.plan_id}: {p}" for p in plan_issues)
        else:
            good.append(plan)
    return problems, tuple(good)
