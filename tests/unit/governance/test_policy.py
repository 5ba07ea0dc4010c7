from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arf.core.errors import PolicyLoadError
from arf.core.records import Effect
from arf.governance.policy import evaluate, load_policy_text
from arf.governance.schema import sample_input
from arf.runtime.container import packaged_policy

HEADER = "name: t\nrules:\n"


def rule(rule_id: str, when: str, effect: str) -> str:
    return f"  - id: {rule_id}\n    when: '{when}'\n    effect: {effect}\n"


def inputs(**overrides: Any) -> list[dict[str, Any]]:
    value = sample_input()
    for dotted, new in overrides.items():
        section, field = dotted.split("__")
        value[section][field] = new
    return [value]


def test_deny_beats_allow() -> None:
    bundle = load_policy_text(
        HEADER + rule("allow-all", "true", "allow") + rule("deny-x", 'action.name == "x"', "deny"),
        "p.yaml",
    )
    result = evaluate(bundle, inputs(action__name="x"))
    assert result.effect is Effect.DENY
    assert {m.rule_id for m in result.matched} == {"allow-all", "deny-x"}
    assert evaluate(bundle, inputs(action__name="y")).effect is Effect.ALLOW


def test_strictest_effect_wins_in_order() -> None:
    bundle = load_policy_text(
        HEADER
        + rule("a", "true", "allow")
        + rule("b", "true", "approve")
        + rule("c", "true", "acknowledge"),
        "p.yaml",
    )
    assert evaluate(bundle, inputs()).effect is Effect.APPROVE


def test_an_evaluation_error_denies() -> None:
    bundle = load_policy_text(
        HEADER
        + rule("allow", "true", "allow")
        + rule("risky", "step.params.replicas > 3", "allow"),
        "p.yaml",
    )
    result = evaluate(bundle, inputs())  # params has no "replicas": evaluation error
    assert result.effect is Effect.DENY
    assert any("fail closed" in m.reason for m in result.matched)


def test_missing_input_denies() -> None:
    bundle = load_policy_text(
        HEADER + rule("allow", 'target.environment == "prod"', "allow"), "p.yaml"
    )
    broken = inputs()
    del broken[0]["target"]
    assert evaluate(bundle, broken).effect is Effect.DENY


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("plan.confidense > 0.5", "plan has no field 'confidense'"),
        ('actor.name == "x"', "unknown variable 'actor'"),
        ("action.name ==", "Syntax error"),
        ("action.reversible > 1", "does not type-check"),
        ("plan.steps", "boolean"),
    ],
)
def test_bad_rules_are_load_errors_naming_file_and_line(when: str, message: str) -> None:
    text = HEADER + rule("ok", "true", "allow") + rule("bad", when, "deny")
    with pytest.raises(PolicyLoadError) as caught:
        load_policy_text(text, "policy.yaml")
    assert "policy.yaml:6" in str(caught.value)  # the bad rule starts on line 6
    assert message in str(caught.value)


def test_unknown_effect_and_duplicate_ids_are_load_errors() -> None:
    with pytest.raises(PolicyLoadError, match="effect must be one of"):
        load_policy_text(HEADER + rule("a", "true", "maybe"), "p.yaml")
    with pytest.raises(PolicyLoadError, match="used twice"):
        load_policy_text(HEADER + rule("a", "true", "allow") + rule("a", "true", "deny"), "p.yaml")
    with pytest.raises(PolicyLoadError, match="not valid YAML"):
        load_policy_text("rules: [", "p.yaml")


def test_macro_variables_are_not_unknown_fields() -> None:
    load_policy_text(
        HEADER + rule("m", 'incident.services.exists(s, s == "db")', "approve"), "p.yaml"
    )


def test_the_default_pack_loads_and_denies_destructive_actions() -> None:
    bundle = packaged_policy()
    result = evaluate(
        bundle,
        inputs(
            action__name="delete_namespace", action__risk_class="low", diagnosis__confidence=0.99
        ),
    )
    assert result.effect is Effect.DENY


DENY_PACK = load_policy_text(
    HEADER
    + rule("allow-everything", "true", "allow")
    + rule(
        "deny-irreversible-in-prod",
        'target.environment == "production" && !action.reversible',
        "deny",
    ),
    "p.yaml",
)


@given(
    name=st.text(max_size=12),
    risk=st.sampled_from(["low", "medium", "high", "critical"]),
    confidence=st.floats(min_value=0, max_value=1),
    resources=st.integers(min_value=0, max_value=100),
    score=st.floats(min_value=0, max_value=1),
)
def test_no_input_makes_a_denied_action_allowed(
    name: str, risk: str, confidence: float, resources: int, score: float
) -> None:
    value = sample_input()
    value["action"].update(name=name, risk_class=risk, reversible=False)
    value["target"]["environment"] = "production"
    value["diagnosis"]["confidence"] = confidence
    value["plan"]["resources"] = resources
    value["risk"]["score"] = score
    assert evaluate(DENY_PACK, [value]).effect is Effect.DENY
