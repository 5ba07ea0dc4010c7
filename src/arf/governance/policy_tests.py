"""Table-driven policy tests (`arf policy test`): input -> expected route, rules and reason.

A case file is YAML with a `cases` list. Each case states only what differs from the neutral
input (`arf.governance.schema.neutral_input`: a confident, low-risk, reversible restart of a
known staging service) and what it expects:

    cases:
      - name: a medium-risk action in production needs approval
        input: {action: {risk_class: medium}, target: {environment: production}}
        expect:
          route: approve               # autonomous | acknowledge | approve | deny
          rules: [production-medium-risk-needs-approval]   # each must have matched
          not_rules: [low-risk-reversible-is-autonomous]   # none of these may match
          reason: medium-risk          # some matched reason contains this text
          shadow: false

A case may give `steps:` (a list of such partial inputs) for a multi-step plan. Cases run
through `arf.governance.policy.route`, the function production decisions use. Coverage is the
set of rules that matched with their own effect in at least one case.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from arf.core.errors import PolicyLoadError
from arf.core.yaml_files import yaml_section
from arf.governance.policy import ROUTE_FOR_EFFECT, PolicyBundle, route
from arf.governance.schema import deep_merge, neutral_input, unknown_paths

EXPECT_KEYS = frozenset({"route", "rules", "not_rules", "reason", "shadow"})


@dataclass(frozen=True)
class Case:
    name: str
    steps: tuple[dict[str, Any], ...]
    expect: Mapping[str, Any]
    origin: str


@dataclass(frozen=True)
class CaseResult:
    case: Case
    route: str
    matched: tuple[str, ...]
    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class TestReport:
    results: tuple[CaseResult, ...]
    covered: frozenset[str]
    uncovered: tuple[str, ...]
    rules: int = 0
    problems: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.passed)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed


def load_cases(text: str, origin: str) -> list[Case]:
    declared = yaml_section(text, origin, "cases", list, PolicyLoadError)
    cases = []
    for index, item in enumerate(declared):
        where = f"{origin}: case {index + 1}"
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise PolicyLoadError(f"{where}: a case needs a name")
        where = f"{origin}: case {item['name']!r}"
        expect = item.get("expect")
        if not isinstance(expect, Mapping) or not expect:
            raise PolicyLoadError(f"{where}: needs an 'expect' mapping")
        extra = set(expect) - EXPECT_KEYS
        if extra:
            raise PolicyLoadError(f"{where}: unknown expectation {sorted(extra)[0]!r}")
        raw_steps = item.get("steps", [item.get("input") or {}])
        if not isinstance(raw_steps, list) or not all(isinstance(s, Mapping) for s in raw_steps):
            raise PolicyLoadError(f"{where}: input must be a mapping, steps a list of them")
        steps = []
        for partial in raw_steps:
            unknown = unknown_paths(partial)
            if unknown:
                raise PolicyLoadError(f"{where}: the input has no field {unknown[0]!r}")
            steps.append(deep_merge(neutral_input(), partial))
        cases.append(Case(item["name"], tuple(steps), dict(expect), origin))
    return cases


def _check(case: Case, bundle: PolicyBundle) -> CaseResult:
    routing = route(bundle, case.steps)
    chosen = ROUTE_FOR_EFFECT[routing.effect].value
    matched = tuple(dict.fromkeys(m.rule_id for m in routing.matched))
    failures = []
    expect = case.expect
    if "route" in expect and str(expect["route"]) != chosen:
        failures.append(f"route {chosen}, expected {expect['route']}")
    for rule_id in expect.get("rules") or ():
        if rule_id not in matched:
            failures.append(f"rule {rule_id} did not match")
    for rule_id in expect.get("not_rules") or ():
        if rule_id in matched:
            failures.append(f"rule {rule_id} matched")
    if "reason" in expect and not any(str(expect["reason"]) in m.reason for m in routing.matched):
        failures.append(f"no matched reason contains {expect['reason']!r}")
    if "shadow" in expect and bool(expect["shadow"]) != routing.shadow:
        failures.append(f"shadow {routing.shadow}, expected {expect['shadow']}")
    return CaseResult(case, chosen, matched, tuple(failures))


def run_cases(bundle: PolicyBundle, cases: Sequence[Case]) -> TestReport:
    results = []
    covered: set[str] = set()
    own_effect = {r.rule_id: r.effect for r in bundle.rules}
    for case in cases:
        result = _check(case, bundle)
        results.append(result)
        for matched in route(bundle, case.steps).matched:
            # a rule counts as exercised when it matched on its own terms, not by failing closed
            if own_effect.get(matched.rule_id) is matched.effect or (
                matched.rule_id in own_effect and matched.reason.startswith("constraint")
            ):
                covered.add(matched.rule_id)
    uncovered = tuple(r.rule_id for r in bundle.rules if r.rule_id not in covered)
    return TestReport(tuple(results), frozenset(covered), uncovered, rules=len(bundle.rules))


def find_suite(directory: Path) -> tuple[Path, list[Path]]:
    """The policy file (a YAML with `rules:`) and the case files (YAML with `cases:`) in DIR."""
    if not directory.is_dir():
        raise PolicyLoadError(f"{directory} is not a directory")
    policies: list[Path] = []
    case_files: list[Path] = []
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        try:
            document = yaml.safe_load(path.read_text("utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise PolicyLoadError(f"{path}: cannot read: {exc}") from exc
        if isinstance(document, Mapping) and "rules" in document:
            policies.append(path)
        elif isinstance(document, Mapping) and "cases" in document:
            case_files.append(path)
    if len(policies) != 1:
        raise PolicyLoadError(
            f"{directory}: expected exactly one policy file (a YAML with 'rules'),"
            f" found {len(policies)}"
        )
    if not case_files:
        raise PolicyLoadError(f"{directory}: no case files (YAML with a 'cases' list)")
    return policies[0], case_files
