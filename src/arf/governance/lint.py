"""`arf policy lint`: every problem in a policy file at once, plus what loading cannot see.

- errors: whatever would stop the file loading (unknown fields, syntax, types), all of them,
  each with its line;
- unreachable: a rule no input found matches;
- shadowed: a rule that never decides anything, because whenever it matches a stricter rule
  matches too (an allow under a deny that always comes with it);
- duplicates: two rules with the same condition;
- uncovered (a warning): a catalogued action that no rule reading the action's attributes
  (name, risk class, reversibility, permissions, tags, ...) ever matches: the policy decides on
  it only by rules that ignore which action runs.

Reachability is searched, not proved: inputs are built from the neutral input by setting the
fields the rules read to the literals the policy compares them with and to typical values of
their types, deterministically (seeded). A rule reported unreachable had no satisfying input in
that search; treat the finding as a strong hint, and the table tests as the proof.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from arf.core.errors import PolicyLoadError
from arf.core.records import ActionSpec, Effect
from arf.governance.decide import action_input
from arf.governance.policy import PolicyBundle, Rule, compile_rule, evaluate, load_policy_text
from arf.governance.schema import INPUT_SCHEMA, MAP, field_paths, neutral_input, sample_input

SAMPLES_PER_RULE = 600
_LITERAL = re.compile(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"|(?<![\w.])(\d+(?:\.\d+)?)")
_TYPICAL: Mapping[type, tuple[Any, ...]] = {
    bool: (True, False),
    int: (0, 1, 2, 3, 4, 5, 6, 10, 100),
    float: (0.0, 0.1, 0.3, 0.34, 0.49, 0.5, 0.59, 0.6, 0.7, 0.9, 1.0),
    str: ("", "x"),
}
_ENUMS: Mapping[str, tuple[str, ...]] = {
    "action.risk_class": ("low", "medium", "high", "critical"),
    "target.criticality": ("low", "medium", "high", "critical"),
    "target.environment": ("production", "staging", "development"),
    "target.kind": ("service", "datastore", "resource"),
    "target.autonomy": ("shadow", "approve", "acknowledge", "autonomous"),
    "action.target_kind": ("service", "resource"),
    "incident.severity": ("info", "low", "medium", "high", "critical"),
}


@dataclass(frozen=True)
class Finding:
    kind: str  # error | unreachable | shadowed | duplicate | uncovered
    rule_id: str
    line: int
    message: str

    @property
    def warning(self) -> bool:
        """A finding that does not fail `arf policy lint`."""
        return self.kind in WARNINGS


WARNINGS = frozenset({"uncovered"})
COVERAGE_SAMPLES = 400  # corpus inputs tried per action before calling it uncovered


def _literals(expression: str) -> list[Any]:
    found: list[Any] = []
    for match in _LITERAL.finditer(expression):
        text, text2, number = match.groups()
        if number is not None:
            found.append(float(number) if "." in number else int(number))
        else:
            found.append(text if text is not None else text2)
    return found


def _leaf(path: str) -> Any:
    node: Any = INPUT_SCHEMA
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _candidates(path: str, literals: Sequence[Any]) -> list[Any]:
    sample = _leaf(path)
    strings = [v for v in literals if isinstance(v, str)]
    if sample is None or isinstance(sample, Mapping):
        return []
    if sample == MAP:  # free-form parameters: keys and values from the rule's own literals
        values = [*strings, "true", "false", "x"]
        return [{}, *({k: v} for k in [*strings, "x"] for v in values)]
    if isinstance(sample, list):
        return [[], *([v] for v in strings), *([f"{v}x"] for v in strings if v)]
    kind = type(sample)
    found: list[Any] = list(_TYPICAL.get(kind, ()))
    found.extend(_ENUMS.get(path, ()))
    for value in literals:
        if kind is str and isinstance(value, str):
            found.append(value)
        elif kind in (int, float) and isinstance(value, int | float):
            found.extend((value, value - 1 if kind is int else value - 0.01, value + 1))
    return list(dict.fromkeys(kind(v) if kind in (int, float) else v for v in found))


def _set(document: dict[str, Any], path: str, value: Any) -> None:
    section, name = path.split(".", 1)
    if section == "step" and name in ("params", "params_text"):
        document["step"]["params"] = dict(value)
        document["step"]["params_text"] = dict(value)
        return
    document[section][name] = value


def _corpus(bundle: PolicyBundle, seed: int) -> list[dict[str, Any]]:
    """Per rule, inputs that vary the fields it reads over its own literals (plus typical
    values), with a few other fields varied too so that interactions show."""
    rng = random.Random(seed)
    every = sorted({p for rule in bundle.rules for p in field_paths(rule.when)})
    everything = [value for rule in bundle.rules for value in _literals(rule.when)]
    broad = {p: c for p in every if (c := _candidates(p, everything))}
    corpus = [neutral_input(), sample_input()]
    for rule in bundle.rules:
        own = _literals(rule.when)
        mine = {p: c for p in sorted(field_paths(rule.when)) if (c := _candidates(p, own))}
        for _ in range(SAMPLES_PER_RULE):
            document = neutral_input()
            for path in rng.sample(sorted(broad), k=min(3, len(broad))):
                _set(document, path, rng.choice(broad[path]))
            for path, values in mine.items():
                _set(document, path, rng.choice(values))
            corpus.append(document)
    return corpus


def _loading_errors(text: str, origin: str) -> list[Finding]:
    """Every rule's load error, not just the first."""
    try:
        document = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        return [Finding("error", "-", 0, f"not valid YAML: {exc}")]
    if not isinstance(document, Mapping) or not isinstance(document.get("rules"), list):
        return [Finding("error", "-", 0, "expected a mapping with a 'rules' list")]
    lines: list[int] = []
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "rules" and isinstance(value, yaml.SequenceNode):
                lines = [int(n.start_mark.line) + 1 for n in value.value]
    findings = []
    seen: set[str] = set()
    for index, item in enumerate(document["rules"]):
        line = lines[index] if index < len(lines) else 0
        rule_id = str(item.get("id", "?")) if isinstance(item, Mapping) else "?"
        try:
            compile_rule(item, f"{origin}:{line}", seen, sample_input(), line)
        except PolicyLoadError as exc:
            findings.append(Finding("error", rule_id, line, str(exc)))
    return findings


def lint_text(
    text: str, origin: str, seed: int = 7, actions: Sequence[ActionSpec] = ()
) -> list[Finding]:
    errors = _loading_errors(text, origin)
    if errors:
        return errors
    try:
        bundle = load_policy_text(text, origin)
    except PolicyLoadError as exc:
        return [Finding("error", "-", 0, str(exc))]
    return lint_bundle(bundle, seed) + uncovered_actions(bundle, actions, seed)


def uncovered_actions(
    bundle: PolicyBundle, actions: Sequence[ActionSpec], seed: int = 7
) -> list[Finding]:
    """The actions no rule that reads `action.*` matches, over the search corpus with the
    action section replaced by each action's own attributes."""
    if not actions:
        return []
    reading = {
        r.rule_id
        for r in bundle.rules
        if any(path.startswith("action.") for path in field_paths(r.when))
    }
    corpus = _corpus(bundle, seed)
    step = max(1, len(corpus) // COVERAGE_SAMPLES)
    findings = []
    for spec in actions:
        section = action_input(spec)
        if not any(
            _matches(bundle, {**document, "action": section}) & reading
            for document in corpus[::step]
        ):
            findings.append(
                Finding(
                    "uncovered",
                    spec.name,
                    0,
                    f"no rule that reads the action's attributes matches {spec.name}"
                    f" (risk {spec.risk_class.value}, tags {list(spec.tags)}): the policy"
                    " decides on it only by rules that ignore which action runs",
                )
            )
    return findings


def _matches(bundle: PolicyBundle, document: Mapping[str, Any]) -> set[str]:
    evaluation = evaluate(bundle, [document])
    own = {r.rule_id: r.effect for r in bundle.rules}
    return {
        m.rule_id
        for m in evaluation.matched
        if own.get(m.rule_id) is m.effect and not m.reason.startswith("constraint")
    }


def lint_bundle(bundle: PolicyBundle, seed: int = 7) -> list[Finding]:
    findings: list[Finding] = []
    by_condition: dict[str, Rule] = {}
    for rule in bundle.rules:
        key = " ".join(rule.when.split())
        if key in by_condition:
            findings.append(
                Finding(
                    "duplicate",
                    rule.rule_id,
                    rule.line,
                    f"same condition as {by_condition[key].rule_id}",
                )
            )
        else:
            by_condition[key] = rule
    hits: dict[str, list[set[str]]] = {r.rule_id: [] for r in bundle.rules}
    for document in _corpus(bundle, seed):
        matched = _matches(bundle, document)
        for rule_id in matched:
            hits[rule_id].append(matched)
    effect_of = {r.rule_id: r.effect for r in bundle.rules}
    for rule in bundle.rules:
        seen = hits[rule.rule_id]
        if not seen:
            findings.append(
                Finding(
                    "unreachable",
                    rule.rule_id,
                    rule.line,
                    "no input in the search matched it (check the condition can be true)",
                )
            )
            continue
        if rule.effect is Effect.DENY:
            continue
        stricter = {
            other
            for other, effect in effect_of.items()
            if effect.strictness > rule.effect.strictness
        }
        always = set.intersection(*(s & stricter for s in seen))
        if always:
            findings.append(
                Finding(
                    "shadowed",
                    rule.rule_id,
                    rule.line,
                    f"never decides: whenever it matches, {', '.join(sorted(always))}"
                    " (stricter) matches too",
                )
            )
    return findings
