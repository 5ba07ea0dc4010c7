"""`arf actions test`: table-driven cases for actions, like `arf policy test` for policy.

A case file (`NAME.cases.yaml`, beside the action files; the pack loader skips it) states a
target's pre-state and a step's parameters, and what the action must do with them: the
operations it sends forward and back, the effect crash recovery reads, or the precondition
that refuses it. Nothing is sent anywhere: cases run the compiled action on data.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path

from pydantic import Field, JsonValue, ValidationError, model_validator

from arf.core.errors import ExecutionError
from arf.core.records import Name, PlanStep, Record, ShortText
from arf.core.yaml_files import line_of, located_problem
from arf.execution.action_packs import (
    CASES_SUFFIX,
    ActionCatalog,
    ActionDefinition,
    PackError,
    parse_yaml,
)


class Operation(Record):
    op: Name
    args: dict[str, JsonValue] = Field(default_factory=dict)


class EffectExpectation(Record):
    before: JsonValue = None  # what `read` shows on the pre-state
    after: JsonValue = None  # what the forward step leaves


class Expectation(Record):
    refused: ShortText | None = None  # a text the refusal contains
    forward: tuple[Operation, ...] | None = None
    rollback: tuple[Operation, ...] | None = None
    effect: EffectExpectation | None = None

    @model_validator(mode="after")
    def _something(self) -> Expectation:
        ran = (self.forward, self.rollback, self.effect)
        if self.refused is None and all(x is None for x in ran):
            raise ValueError("expect states nothing: give refused, forward, rollback or effect")
        if self.refused is not None and any(x is not None for x in ran):
            raise ValueError("a refused step sends nothing: refused stands alone")
        return self


class ActionCase(Record):
    name: ShortText = Field(min_length=1)
    platform: Name | None = None  # the binding to render (default: the top-level steps)
    target: Name = "target"
    params: dict[str, JsonValue] = Field(default_factory=dict)
    state: dict[str, JsonValue] = Field(default_factory=dict)
    expect: Expectation


class CaseFile(Record):
    action: Name
    cases: tuple[ActionCase, ...] = Field(min_length=1)


@dataclass(frozen=True)
class CaseResult:
    action: str
    case: str
    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class ActionTestReport:
    results: tuple[CaseResult, ...]
    untested: tuple[str, ...]  # actions no case exercises

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if not r.passed)


def load_case_file(text: str, where: str) -> CaseFile:
    document = parse_yaml(text, where)
    try:
        return CaseFile.model_validate(document)
    except ValidationError as exc:
        raise PackError(located_problem(exc, text, where)) from exc


def _ops(operations: Sequence[tuple[str, Mapping[str, JsonValue]]]) -> list[Operation]:
    return [Operation(op=op, args=dict(args)) for op, args in operations]


def _shown(operations: Sequence[Operation]) -> str:
    return "; ".join(f"{o.op}{o.args}" for o in operations) or "nothing"


def run_case(definition: ActionDefinition, case: ActionCase) -> CaseResult:
    if case.platform is not None:
        if case.platform not in definition.manifest.bindings:
            why = f"{definition.spec.name} has no binding for platform {case.platform!r}"
            return CaseResult(definition.spec.name, case.name, (why,))
        definition = definition.bound_to(case.platform)
    step = PlanStep(action=definition.spec.name, target=case.target, params=case.params)
    expect = case.expect
    failures: list[str] = []
    problems = definition.preconditions(step, case.state)
    if expect.refused is not None:
        if not problems:
            failures.append(f"expected a refusal containing {expect.refused!r}; it would run")
        elif not any(expect.refused in p for p in problems):
            failures.append(f"refused, but with {'; '.join(problems)!r}")
        return CaseResult(definition.spec.name, case.name, tuple(failures))
    if problems:
        return CaseResult(definition.spec.name, case.name, (f"refused: {'; '.join(problems)}",))
    pairs = (
        (expect.forward, definition.forward, "forward"),
        (expect.rollback, definition.backward, "rollback"),
    )
    for wanted, render, label in pairs:
        if wanted is None:
            continue
        try:
            got = _ops(render(step, case.state))
        except ExecutionError as exc:
            failures.append(f"{label}: {exc}")
            continue
        if got != list(wanted):
            failures.append(f"{label}: sends {_shown(got)}, expected {_shown(wanted)}")
    if expect.effect is not None:
        effect = definition.effect
        if effect is None:
            failures.append("effect: the action declares that it leaves no trace")
        else:
            seen = (effect.read(step, case.state), effect.after(step, case.state))
            wanted_effect = (expect.effect.before, expect.effect.after)
            if seen != wanted_effect:
                failures.append(
                    f"effect: reads {seen[0]!r} -> {seen[1]!r}, expected"
                    f" {wanted_effect[0]!r} -> {wanted_effect[1]!r}"
                )
    return CaseResult(definition.spec.name, case.name, tuple(failures))


def case_files(source: Traversable | Path) -> list[Traversable]:
    if source.is_file():
        return []
    return sorted(
        (f for f in source.iterdir() if f.is_file() and f.name.endswith(CASES_SUFFIX)),
        key=lambda f: f.name,
    )


def run_cases(
    catalog: ActionCatalog,
    sources: Sequence[Traversable | Path],
    scope: Collection[str] | None = None,
) -> ActionTestReport:
    """Every case file in `sources` against the catalog's actions; `untested` lists the
    actions in `scope` (default: the whole catalog) that no case exercised."""
    results: list[CaseResult] = []
    for file in (f for source in sources for f in case_files(source)):
        try:
            text = file.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PackError(f"{file}: cannot read: {exc}") from exc
        loaded = load_case_file(text, str(file))
        definition = catalog.get(loaded.action)
        if definition is None:
            raise PackError(
                f"{file}:{line_of(text, ('action',))}: action: no action"
                f" {loaded.action!r} is registered"
            )
        results.extend(run_case(definition, case) for case in loaded.cases)
    tested = {r.action for r in results}
    names = [s.name for s in catalog.specs()] if scope is None else sorted(scope)
    untested = tuple(name for name in names if name not in tested)
    return ActionTestReport(tuple(results), untested)
