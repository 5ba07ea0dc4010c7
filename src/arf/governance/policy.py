"""Policy documents (YAML + CEL) and their deterministic evaluation.

- Every rule's `when` is a CEL expression over a declared, typed input (`INPUT_SCHEMA`).
  At load, each expression is compiled, every field it references is checked against the
  schema, and it is evaluated once against a typed sample input; any problem is a load error
  naming the file and line.
- At decision time the strictest matching effect wins: deny > approve > acknowledge > allow.
- Any evaluation error, non-boolean result or missing input denies (fail closed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cel
import yaml

from arf.core.canonical import sha256_hex
from arf.core.errors import PolicyLoadError
from arf.core.records import Effect, MatchedRule

MAP = "map"  # a field whose keys are free-form (action parameters)

INPUT_SCHEMA: Mapping[str, Any] = {
    "action": {
        "name": "",
        "risk_class": "",
        "reversible": True,
        "security_sensitive": False,
        "permissions": ["x"],
    },
    "step": {"target": "", "params": MAP},
    "plan": {"steps": 1, "confidence": 0.5, "resources": 1, "services": 1, "replicas": 1},
    "target": {"name": "", "environment": "", "criticality": "", "owner": "", "kind": ""},
    "diagnosis": {"confidence": 0.5, "reasoner": "", "category": ""},
    "incident": {"severity": "", "services": ["x"], "signals": 1},
    "risk": {"score": 0.5},
    "now": {"hour": 12, "weekday": 1},
}

_MACRO_VARIABLE = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\(\s*([A-Za-z_]\w*)\s*,")
_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_PATH = re.compile(r"(?<![\w.])([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*)+)")
_CEL_FUNCTIONS = frozenset(
    {
        "size",
        "has",
        "int",
        "uint",
        "double",
        "string",
        "bool",
        "type",
        "duration",
        "timestamp",
        "matches",
        "dyn",
    }
)


def sample_input() -> dict[str, Any]:
    """A typed sample of the input, used to type-check rules at load."""

    def fill(node: Any) -> Any:
        if node == MAP:
            return {}
        if isinstance(node, Mapping):
            return {k: fill(v) for k, v in node.items()}
        return node

    result = fill(INPUT_SCHEMA)
    assert isinstance(result, dict)
    return result


def field_problems(expression: str) -> list[str]:
    """Unknown variables and fields referenced by an expression."""
    bound = set(_MACRO_VARIABLE.findall(expression))
    text = _STRING.sub('""', expression)
    problems: list[str] = []
    for match in _PATH.finditer(text):
        root, rest = match.group(1), match.group(2)
        if root in bound:
            continue
        if root not in INPUT_SCHEMA:
            problems.append(f"unknown variable {root!r}")
            continue
        node: Any = INPUT_SCHEMA[root]
        walked = root
        for part in rest.strip(".").split("."):
            if node == MAP:
                break
            if not isinstance(node, Mapping):
                # A method call on a value, e.g. name.startsWith(...)
                break
            if part not in node:
                problems.append(f"{walked} has no field {part!r}")
                break
            node = node[part]
            walked += "." + part
    for name in re.findall(r"(?<![\w.])([A-Za-z_]\w*)(?!\s*[\w(.])", text):
        if name in ("true", "false", "null", "in") or name in bound or name in INPUT_SCHEMA:
            continue
        if name in _CEL_FUNCTIONS:
            continue
        problems.append(f"unknown variable {name!r}")
    return problems


@dataclass(frozen=True)
class Rule:
    rule_id: str
    description: str
    when: str
    effect: Effect
    reason: str
    roles: tuple[str, ...]
    quorum: int
    line: int
    program: Any = field(compare=False, repr=False)


@dataclass(frozen=True)
class PolicyBundle:
    name: str
    version_hash: str
    rules: tuple[Rule, ...]
    autonomous_below: float
    acknowledge_below: float
    max_resources: int
    approval_expiry_minutes: int
    acknowledge_expiry_minutes: int
    default_roles: tuple[str, ...]
    origin: str


@dataclass(frozen=True)
class Evaluation:
    effect: Effect | None
    matched: tuple[MatchedRule, ...]
    roles: tuple[str, ...]
    quorum: int


def _line_of(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def load_policy_text(text: str, origin: str) -> PolicyBundle:
    try:
        root = yaml.compose(text)
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyLoadError(f"{origin}: not valid YAML: {exc}") from exc
    if not isinstance(document, Mapping) or not isinstance(document.get("rules"), list):
        raise PolicyLoadError(f"{origin}: expected a mapping with a 'rules' list")
    rule_nodes: list[yaml.Node] = []
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "rules" and isinstance(value, yaml.SequenceNode):
                rule_nodes = list(value.value)
    routing = document.get("routing") or {}
    limits = document.get("limits") or {}
    approvals = document.get("approvals") or {}
    rules: list[Rule] = []
    seen: set[str] = set()
    sample = sample_input()
    for index, item in enumerate(document["rules"]):
        line = _line_of(rule_nodes[index]) if index < len(rule_nodes) else 0
        where = f"{origin}:{line}"
        if not isinstance(item, Mapping):
            raise PolicyLoadError(f"{where}: a rule must be a mapping")
        rule_id = item.get("id")
        when = item.get("when")
        if not isinstance(rule_id, str) or not rule_id:
            raise PolicyLoadError(f"{where}: rule without an 'id'")
        if rule_id in seen:
            raise PolicyLoadError(f"{where}: rule id {rule_id!r} is used twice")
        seen.add(rule_id)
        if not isinstance(when, str) or not when.strip():
            raise PolicyLoadError(f"{where}: rule {rule_id!r} has no 'when' expression")
        try:
            effect = Effect(str(item.get("effect")))
        except ValueError as exc:
            raise PolicyLoadError(
                f"{where}: rule {rule_id!r}: effect must be one of"
                f" {', '.join(e.value for e in Effect)}"
            ) from exc
        problems = field_problems(when)
        if problems:
            raise PolicyLoadError(f"{where}: rule {rule_id!r}: {'; '.join(problems)}")
        try:
            program = cel.compile(when)
        except (ValueError, RuntimeError) as exc:
            first = str(exc).splitlines()[0]
            raise PolicyLoadError(f"{where}: rule {rule_id!r}: {first}") from exc
        try:
            trial: object = program.execute(sample)
        except KeyError:
            trial = True  # a free-form map key absent from the sample: cannot judge at load
        except (TypeError, RuntimeError) as exc:  # wrong operand types, unknown function
            first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
            raise PolicyLoadError(
                f"{where}: rule {rule_id!r} does not type-check: {first}"
            ) from exc
        if not isinstance(trial, bool):
            raise PolicyLoadError(f"{where}: rule {rule_id!r} must evaluate to a boolean")
        roles = item.get("roles") or ()
        if not isinstance(roles, list | tuple) or not all(isinstance(r, str) for r in roles):
            raise PolicyLoadError(f"{where}: rule {rule_id!r}: roles must be a list of names")
        rules.append(
            Rule(
                rule_id=rule_id,
                description=str(item.get("description") or ""),
                when=when,
                effect=effect,
                reason=str(item.get("reason") or item.get("description") or rule_id),
                roles=tuple(roles),
                quorum=int(item.get("quorum") or (1 if effect is Effect.APPROVE else 0)),
                line=line,
                program=program,
            )
        )
    try:
        bundle = PolicyBundle(
            name=str(document.get("name") or "policy"),
            version_hash=sha256_hex(text),
            rules=tuple(rules),
            autonomous_below=float(routing.get("autonomous_below", 0.35)),
            acknowledge_below=float(routing.get("acknowledge_below", 0.6)),
            max_resources=int(limits.get("max_resources", 5)),
            approval_expiry_minutes=int(approvals.get("expiry_minutes", 60)),
            acknowledge_expiry_minutes=int(approvals.get("acknowledge_expiry_minutes", 15)),
            default_roles=tuple(approvals.get("default_roles") or ("approver",)),
            origin=origin,
        )
    except (TypeError, ValueError) as exc:
        raise PolicyLoadError(f"{origin}: routing, limits or approvals: {exc}") from exc
    if not 0 <= bundle.autonomous_below <= bundle.acknowledge_below <= 1:
        raise PolicyLoadError(
            f"{origin}: routing thresholds must satisfy 0 <= autonomous_below <="
            " acknowledge_below <= 1"
        )
    return bundle


def load_policy(path: Path) -> PolicyBundle:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise PolicyLoadError(f"cannot read policy file {path}: {exc.strerror}") from exc
    return load_policy_text(text, str(path))


def evaluate(bundle: PolicyBundle, inputs: Sequence[Mapping[str, Any]]) -> Evaluation:
    """Evaluate every rule against every input (one per plan step); strictest effect wins."""
    matched: list[MatchedRule] = []
    roles: list[str] = []
    quorum = 0
    for policy_input in inputs:
        for rule in bundle.rules:
            try:
                result = rule.program.execute(dict(policy_input))
            except Exception as exc:  # noqa: BLE001 - fail closed: any evaluation error denies
                detail = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
                matched.append(
                    MatchedRule(
                        rule_id=rule.rule_id,
                        effect=Effect.DENY,
                        reason=f"evaluation failed ({detail[:300]}): denied (fail closed)",
                    )
                )
                continue
            if not isinstance(result, bool):
                matched.append(
                    MatchedRule(
                        rule_id=rule.rule_id,
                        effect=Effect.DENY,
                        reason="did not evaluate to a boolean: denied (fail closed)",
                    )
                )
                continue
            if result:
                matched.append(
                    MatchedRule(rule_id=rule.rule_id, effect=rule.effect, reason=rule.reason)
                )
                if rule.effect is Effect.APPROVE:
                    roles.extend(r for r in rule.roles if r not in roles)
                    quorum = max(quorum, rule.quorum)
    unique: dict[tuple[str, Effect, str], MatchedRule] = {}
    for item in matched:
        unique.setdefault((item.rule_id, item.effect, item.reason), item)
    effects = [m.effect for m in unique.values()]
    strictest = max(effects, key=lambda e: e.strictness, default=None)
    return Evaluation(strictest, tuple(unique.values()), tuple(roles), quorum)
