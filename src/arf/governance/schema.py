"""The typed input every policy rule sees, and the load-time check of the fields a rule names.

The input is one document per plan step (documented field by field in docs/policy.md). Neither
CEL evaluator available on PyPI rejects an unknown field at compile time, so `field_problems`
walks every dotted path an expression names against `INPUT_SCHEMA`; rules are then evaluated
once against `sample_input()` to catch type errors. Both happen at load, never at decision time.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

MAP = "map"  # a field whose keys are free-form (action parameters)

# Field -> a sample value of its type (a list holds one sample element).
INPUT_SCHEMA: Mapping[str, Any] = {
    "action": {
        "name": "",
        "risk_class": "",  # low | medium | high | critical
        "reversible": True,
        "security_sensitive": False,
        "permissions": ["x"],
        "target_kind": "",  # service | resource
        "tags": ["x"],  # the action's own tags (a pack may mark an action "destructive")
        "operations": ["x"],  # the platform verbs it may send (deploy, failover, ...)
    },
    # params_text: every parameter rendered as a string (booleans as "true"/"false"), so rules
    # can match values of any type without CEL's string() (which rejects booleans).
    "step": {"index": 0, "target": "", "params": MAP, "params_text": MAP},
    "plan": {
        "steps": 1,
        "confidence": 0.5,
        "resources": 1,  # resources the whole plan changes
        "services": 1,
        "replicas": 1,
        "replica_share": 0.5,  # largest share of one target's capacity out at once
    },
    "target": {
        "name": "",
        "known": True,  # listed in the service catalog
        "environment": "",
        "criticality": "",  # low | medium | high | critical
        "owner": "",
        "kind": "",  # service | datastore | resource
        "frozen": False,  # inside a change-freeze window now
        "autonomy": "",  # shadow | approve | acknowledge | autonomous (for this action)
        "error_budget_remaining": 1.0,
        "error_budget_exhausted": False,
    },
    "diagnosis": {
        "confidence": 0.5,  # calibrated against recorded outcomes (= raw_confidence until enough)
        "raw_confidence": 0.5,  # as the reasoners gave it
        "calibration_outcomes": 0,  # finished plans of this provenance calibration drew on
        "provenance": "",  # reasoners behind the plan's hypothesis: evidence, evidence+llm, ...
        "reasoner": "",
        "category": "",
        "agreement": 1.0,  # share of the reasoners that put the plan's hypothesis forward
        # what the plan's hypotheses rest on besides evidence: change, finding, runbook,
        # catalog (only an action's declared remedies), model
        "support": ["x"],
    },
    "incident": {"severity": "", "services": ["x"], "signals": 1},
    "history": {
        "target_runs_24h": 0,  # remediation steps on this target in the last 24 h
        "service_autonomous_1h": 0,  # autonomous steps on this target in the last hour
        "active_on_target": 0,  # other incidents with a remediation in flight on this target
        "action_runs": 0,  # this action on this kind of target, last 30 days, finished
        "action_failures": 0,  # of which rolled back or failed
        "action_failure_rate": 0.0,
    },
    "risk": {"score": 0.5},
    "now": {"hour": 12, "minute": 0, "weekday": 1},  # UTC; weekday 1 = Monday
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


def _fill(node: Any) -> Any:
    if node == MAP:
        return {}
    if isinstance(node, Mapping):
        return {k: _fill(v) for k, v in node.items()}
    return copy.deepcopy(node)


def sample_input() -> dict[str, Any]:
    """A typed sample of the input, used to type-check rules at load."""
    result = _fill(INPUT_SCHEMA)
    assert isinstance(result, dict)
    return result


def neutral_input() -> dict[str, Any]:
    """A harmless, complete input: a confident, low-risk, reversible restart of a known staging
    service. `arf policy test` cases state only what differs from it."""
    value = sample_input()
    value["action"].update(
        name="restart_service",
        risk_class="low",
        permissions=["deployments:restart"],
        target_kind="service",
    )
    value["step"].update(target="svc")
    value["plan"].update(confidence=0.9, replica_share=0.34, replicas=3)
    value["target"].update(
        name="svc",
        environment="staging",
        criticality="low",
        owner="team",
        kind="service",
        autonomy="autonomous",
    )
    value["diagnosis"].update(
        confidence=0.9,
        raw_confidence=0.9,
        provenance="evidence",
        reasoner="evidence",
        category="release",
        support=["change"],
    )
    value["incident"].update(severity="high", services=["svc"], signals=3)
    value["risk"].update(score=0.1)
    return value


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def unknown_paths(value: Mapping[str, Any], node: Mapping[str, Any] = INPUT_SCHEMA) -> list[str]:
    """Keys of `value` that the schema does not declare (dotted), e.g. a typo in a test case."""
    found: list[str] = []
    for key, item in value.items():
        if key not in node:
            found.append(key)
            continue
        child = node[key]
        if isinstance(child, Mapping) and isinstance(item, Mapping):
            found.extend(f"{key}.{sub}" for sub in unknown_paths(item, child))
    return found


def missing_paths(value: Mapping[str, Any], node: Mapping[str, Any] = INPUT_SCHEMA) -> list[str]:
    """Declared fields absent from `value` (dotted), e.g. a decision recorded by an older ARF."""
    found: list[str] = []
    for key, child in node.items():
        if key not in value:
            found.append(key)
        elif isinstance(child, Mapping) and isinstance(value[key], Mapping):
            found.extend(f"{key}.{sub}" for sub in missing_paths(value[key], child))
    return found


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
            if node == MAP or not isinstance(node, Mapping):
                break  # free-form keys, or a method call on a value (name.startsWith(...))
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


def field_paths(expression: str) -> set[str]:
    """The declared input fields an expression reads (dotted), for lint and coverage."""
    bound = set(_MACRO_VARIABLE.findall(expression))
    text = _STRING.sub('""', expression)
    found: set[str] = set()
    for match in _PATH.finditer(text):
        root, rest = match.group(1), match.group(2)
        if root in bound or root not in INPUT_SCHEMA:
            continue
        node: Any = INPUT_SCHEMA[root]
        walked = root
        for part in rest.strip(".").split("."):
            if not isinstance(node, Mapping) or part not in node:
                break
            node = node[part]
            walked += "." + part
        found.add(walked)
    return found
