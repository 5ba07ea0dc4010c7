"""Routing: constraints, floors no policy can lower, autonomy grants, history facts, risk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arf.core.errors import PolicyLoadError
from arf.core.records import (
    ActionRun,
    BlastRadius,
    Criticality,
    Effect,
    PlanStep,
    RiskClass,
    Route,
)
from arf.governance.decide import step_history
from arf.governance.policy import load_policy_text, route
from arf.governance.risk import WEIGHTS, RiskInputs, risk_score
from arf.governance.schema import deep_merge, neutral_input
from arf.runtime.container import packaged_policy

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday, 10:00 UTC


def policy(rules: str, extra: str = "") -> Any:
    return load_policy_text(f"name: t\n{extra}rules:\n{rules}", "t.yaml")


def step(**override: Any) -> dict[str, Any]:
    return deep_merge(neutral_input(), override)


ALLOW_ALL = "  - {id: allow-all, when: 'true', effect: allow}\n"


def test_a_constraint_violation_applies_its_effect() -> None:
    bundle = policy(
        "  - id: small-only\n    when: 'true'\n    effect: allow\n"
        "    constraints: {max_resources: 2, on_violation: acknowledge}\n"
    )
    assert route(bundle, [step(plan={"resources": 2})]).effect is Effect.ALLOW
    routed = route(bundle, [step(plan={"resources": 3})])
    assert routed.effect is Effect.ACKNOWLEDGE
    assert any("constraint violated" in m.reason for m in routed.matched)


def test_time_windows_allow_only_inside_them() -> None:
    bundle = policy(
        "  - id: office-hours\n    when: 'true'\n    effect: allow\n"
        "    constraints:\n      windows: [{days: [mon, tue, wed, thu, fri],"
        " from: '08:00', to: '18:00'}]\n"
    )
    monday_ten = step(now={"hour": 10, "minute": 0, "weekday": 1})
    monday_night = step(now={"hour": 23, "minute": 30, "weekday": 1})
    sunday_ten = step(now={"hour": 10, "minute": 0, "weekday": 7})
    assert route(bundle, [monday_ten]).effect is Effect.ALLOW
    assert route(bundle, [monday_night]).effect is Effect.DENY
    assert route(bundle, [sunday_ten]).effect is Effect.DENY


@pytest.mark.parametrize(
    ("constraint", "message"),
    [
        ("{windows: [{days: [mon], from: '18:00', to: '08:00'}]}", "end after it starts"),
        ("{windows: [{days: [monday], from: '08:00', to: '18:00'}]}", "window days"),
        ("{windows: [{days: [mon], from: '8am', to: '18:00'}]}", "HH:MM"),
        ("{max_blast: 3}", "unknown constraint"),
        ("{on_violation: maybe}", "constraints"),
    ],
)
def test_bad_constraints_are_load_errors(constraint: str, message: str) -> None:
    with pytest.raises(Exception, match=message):
        policy(f"  - id: r\n    when: 'true'\n    effect: allow\n    constraints: {constraint}\n")


def test_limits_deny_whatever_the_rules_say() -> None:
    bundle = policy(ALLOW_ALL, "limits: {max_resources: 2, max_replica_share: 0.5}\n")
    assert route(bundle, [step(plan={"resources": 2, "replica_share": 0.5})]).effect is (
        Effect.ALLOW
    )
    too_many = route(bundle, [step(plan={"resources": 3})])
    assert too_many.effect is Effect.DENY
    assert "limit-blast-radius" in {m.rule_id for m in too_many.matched}
    too_much = route(bundle, [step(plan={"replica_share": 0.75})])
    assert too_much.effect is Effect.DENY
    assert "limit-replica-share" in {m.rule_id for m in too_much.matched}


def test_an_irreversible_step_is_never_autonomous_even_if_a_rule_allows_it() -> None:
    routed = route(policy(ALLOW_ALL), [step(), step(action={"reversible": False})])
    assert routed.effect is Effect.APPROVE
    assert "principle-irreversible" in {m.rule_id for m in routed.matched}


@pytest.mark.parametrize(
    ("granted", "effect", "shadow"),
    [
        ("autonomous", Effect.ALLOW, False),
        ("acknowledge", Effect.ACKNOWLEDGE, False),
        ("approve", Effect.APPROVE, False),
        ("shadow", Effect.ALLOW, True),
        ("typo", Effect.APPROVE, False),
    ],
)
def test_autonomy_grants_cap_the_route(granted: str, effect: Effect, shadow: bool) -> None:
    routed = route(policy(ALLOW_ALL), [step(target={"autonomy": granted})])
    assert (routed.effect, routed.shadow) == (effect, shadow)


def test_autonomy_never_lowers_a_stricter_route() -> None:
    with pytest.raises(PolicyLoadError, match="quote it"):
        policy("  - {id: no, when: 'true', effect: deny}\n")  # YAML reads `no` as false
    bundle = policy("  - {id: never, when: 'true', effect: deny}\n")
    assert route(bundle, [step(target={"autonomy": "autonomous"})]).effect is Effect.DENY


@pytest.mark.parametrize("section", ["risk", "plan", "target", "action"])
def test_an_input_the_floors_cannot_read_denies(section: str) -> None:
    broken = step()
    del broken[section]
    routed = route(policy("  - {id: x, when: 'false', effect: allow}\n"), [broken])
    assert routed.effect is Effect.DENY


def test_a_plan_without_steps_denies() -> None:
    assert route(policy(ALLOW_ALL), []).effect is Effect.DENY


def test_no_matching_rule_routes_by_risk_thresholds() -> None:
    bundle = policy(
        "  - {id: never, when: 'false', effect: allow}\n",
        "routing: {autonomous_below: 0.3, acknowledge_below: 0.6}\n",
    )
    effects = [route(bundle, [step(risk={"score": s})]).effect for s in (0.1, 0.3, 0.59, 0.6)]
    assert effects == [Effect.ALLOW, Effect.ACKNOWLEDGE, Effect.ACKNOWLEDGE, Effect.APPROVE]


def run(
    incident: str,
    action: str = "restart_service",
    target: str = "api",
    minutes_ago: float = 10,
    route_: Route = Route.AUTONOMOUS,
    outcome: str = "verified",
    kind: str = "service",
) -> ActionRun:
    return ActionRun(
        incident_id=incident,
        action=action,
        target=target,
        target_kind=kind,
        route=route_,
        at=NOW - timedelta(minutes=minutes_ago),
        outcome=outcome,
    )


def test_history_facts_from_hand_made_runs() -> None:
    runs = [
        run("INC-A", minutes_ago=10),
        run("INC-B", minutes_ago=50, route_=Route.ACKNOWLEDGE),
        run("INC-C", minutes_ago=90, outcome="rolled_back"),
        run("INC-D", minutes_ago=60 * 30, outcome="failed"),  # older than a day
        run("INC-E", target="db", kind="datastore", outcome="rolled_back"),
        run("INC-F", outcome="in_progress", minutes_ago=2),
        run("INC-SELF", minutes_ago=1),  # the incident being decided never counts
        run("INC-OLD", minutes_ago=60 * 24 * 40, outcome="rolled_back"),  # outside 30 days
    ]
    facts = step_history(
        runs, PlanStep(action="restart_service", target="api"), "service", "INC-SELF", NOW
    )
    assert facts == {
        "target_runs_24h": 4,  # A, B, C, F
        "service_autonomous_1h": 2,  # A and F (B was acknowledged, C is 90 min old)
        "active_on_target": 1,  # F
        "action_runs": 4,  # A, B, C, D on services (E is a datastore, F unfinished)
        "action_failures": 2,  # C, D
        "action_failure_rate": 0.5,
    }


def risk(**override: Any) -> tuple[float, dict[str, float]]:
    values: dict[str, Any] = {
        "risk_classes": [RiskClass.LOW],
        "criticalities": [Criticality.LOW],
        "blast": BlastRadius(services=1, resources=1, replicas=3, replica_share=0.34),
        "all_reversible": True,
        "confidence": 0.9,
        "agreement": 1.0,
        "failure_rates": [(0, 0.0)],
        "budget_remaining": 1.0,
        "hour": 10,
        "weekday": 1,
    }
    values.update(override)
    score, factors = risk_score(RiskInputs(**values))
    return score, {f.name: f.value for f in factors}


def test_every_risk_factor_is_reported_with_weights_summing_to_one() -> None:
    score, factors = risk()
    assert set(factors) == set(WEIGHTS)
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)
    assert 0 <= score <= 1


@pytest.mark.parametrize(
    ("override", "factor", "value"),
    [
        ({"hour": 3}, "off_hours", 1.0),
        ({"weekday": 6}, "off_hours", 1.0),
        ({"failure_rates": [(2, 1.0)]}, "failure_rate", 0.0),  # too few runs to judge
        ({"failure_rates": [(4, 0.75)]}, "failure_rate", 0.75),
        ({"budget_remaining": 0.25}, "error_budget", 0.75),
        ({"agreement": 0.5}, "disagreement", 0.5),
        ({"criticalities": []}, "criticality", 1.0),  # unknown target counts as critical
        ({"all_reversible": False}, "irreversibility", 1.0),
    ],
)
def test_risk_factors_move_the_score(override: dict[str, Any], factor: str, value: float) -> None:
    base, _ = risk()
    score, factors = risk(**override)
    assert factors[factor] == value
    assert score >= base


# ------------------------------------------------------------------ property-based safety

PACK = packaged_policy()
DENIED_ACTIONS = ["delete_namespace", "delete_datastore", "drop_database", "disable_tls"]


@settings(max_examples=300, deadline=None)
@given(
    action=st.sampled_from(DENIED_ACTIONS),
    risk_class=st.sampled_from(["low", "medium", "high", "critical"]),
    reversible=st.booleans(),
    environment=st.sampled_from(["production", "staging", "dev", ""]),
    confidence=st.floats(min_value=0, max_value=1),
    agreement=st.floats(min_value=0, max_value=1),
    score=st.floats(min_value=0, max_value=1),
    resources=st.integers(min_value=0, max_value=50),
    share=st.floats(min_value=0, max_value=1),
    autonomy=st.sampled_from(["autonomous", "acknowledge", "approve", "shadow", "x"]),
    frozen=st.booleans(),
    runs=st.integers(min_value=0, max_value=50),
    params=st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
)
def test_no_input_makes_a_denied_action_anything_but_denied(
    action: str,
    risk_class: str,
    reversible: bool,
    environment: str,
    confidence: float,
    agreement: float,
    score: float,
    resources: int,
    share: float,
    autonomy: str,
    frozen: bool,
    runs: int,
    params: dict[str, str],
) -> None:
    document = step(
        action={"name": action, "risk_class": risk_class, "reversible": reversible},
        target={"environment": environment, "autonomy": autonomy, "frozen": frozen},
        diagnosis={"confidence": confidence, "agreement": agreement},
        plan={"confidence": confidence, "resources": resources, "replica_share": share},
        history={"action_runs": runs, "target_runs_24h": runs},
        risk={"score": score},
        step={"params": params, "params_text": params},
    )
    neighbour = step()  # a harmless second step cannot dilute the deny
    assert route(PACK, [neighbour, document]).effect is Effect.DENY


@settings(max_examples=300, deadline=None)
@given(
    params=st.dictionaries(
        st.text(max_size=10),
        st.one_of(st.text(max_size=10), st.booleans(), st.integers(), st.floats(allow_nan=False)),
        max_size=4,
    ),
    field=st.sampled_from(["cidr", "source", "ingress", "x"]),
)
def test_world_ingress_in_any_parameter_is_denied(params: dict[str, Any], field: str) -> None:
    from arf.governance.decide import params_text

    params = {**params, field: "0.0.0.0/0"}
    document = step(
        step={"params": params, "params_text": {k: params_text(v) for k, v in params.items()}}
    )
    assert route(PACK, [document]).effect is Effect.DENY
