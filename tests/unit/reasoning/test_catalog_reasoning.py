"""Reasoning over the whole catalog: the evidence engine finds actions by what they declare
they remedy (alerts, kinds of change, findings), not by names written into the engine."""

from __future__ import annotations

from arf.core.records import (
    ActionSpec,
    ContextSnapshot,
    HypothesisCategory,
    Outcome,
    PastIncident,
    Support,
)
from arf.execution.action_packs import ActionCatalog, default_actions, load_definition
from arf.reasoning.evidence_engine import CATALOG_CONFIDENCE
from tests.unit.reasoning.test_evidence_engine import AT, alert, change, diagnose_with, snapshot

FLUSH = """\
format: arf/action/v1
name: flush_cache
version: 1.0.0
description: Flush a cache service's keys.
target_kind: service
risk_class: low
disruption: none
permissions: ["cache:flush"]
verification: service_health
params:
  scope:
    type: string
    enum: [all, expired]
    default: expired
forward:
  - op: restart
rollback:
  description: nothing to undo
  nothing_to_undo: true
effect:
  leaves_no_trace: true
remedies:
  symptoms: [resource_exhaustion]
  alerts: [CacheEvictionStorm, CacheMemoryHigh]
"""

FLAG = """\
format: arf/action/v1
name: restore_flag
version: 1.0.0
description: Set a feature flag back to the state it had.
target_kind: service
risk_class: low
disruption: none
permissions: ["flags:write"]
verification: service_health
params:
  flag: {type: string, pattern: "^[a-z0-9-]{1,64}$"}
  enabled: {type: string, enum: ["true", "false"]}
forward:
  - op: set_config
    args: {key: params.flag, value: params.enabled}
rollback:
  description: set the flag back
  operations:
    - op: set_config
      args: {key: params.flag, value: "params.enabled == 'true' ? 'false' : 'true'"}
effect:
  leaves_no_trace: true
remedies:
  changes:
    - kind: feature_flag
      params: {flag: key, enabled: from}
"""


def _specs(*texts: str) -> tuple[ActionSpec, ...]:
    extra = [load_definition(text, "team.yaml") for text in texts]
    return ActionCatalog([*default_actions(), *extra]).specs()


def test_an_alert_no_knowledge_entry_names_gets_the_action_that_declares_it() -> None:
    result = diagnose_with(snapshot(alert("a1", "cart", "CacheEvictionStorm")), _specs(FLUSH))
    plan = result.plans[0]
    assert [(s.action, s.target, s.params) for s in plan.steps] == [
        ("flush_cache", "cart", {"scope": "expired"})
    ]
    top = result.hypotheses[0]
    assert top.category is HypothesisCategory.RESOURCE_EXHAUSTION
    assert "flush_cache declares it remedies" in top.cause
    assert top.support == (Support.CATALOG,)  # policy reads it: a person acknowledges
    # found only through the catalog: never confident enough to run without a person
    assert plan.confidence <= CATALOG_CONFIDENCE + 0.1 < 0.6


def test_without_the_action_the_same_alert_is_an_unexplained_page() -> None:
    result = diagnose_with(snapshot(alert("a1", "cart", "CacheEvictionStorm")), _specs())
    assert not result.plans
    assert result.hypotheses[0].category is HypothesisCategory.UNKNOWN


def test_an_action_that_needs_a_value_the_evidence_does_not_give_is_not_proposed() -> None:
    needs_scope = FLUSH.replace("    default: expired\n", "")
    result = diagnose_with(snapshot(alert("a1", "cart", "CacheEvictionStorm")), _specs(needs_scope))
    assert not result.plans


def test_the_lowest_risk_action_declaring_the_alert_is_preferred() -> None:
    risky = FLUSH.replace("name: flush_cache", "name: aaa_rebuild_cache").replace(
        "risk_class: low", "risk_class: high"
    )
    result = diagnose_with(snapshot(alert("a1", "cart", "CacheMemoryHigh")), _specs(risky, FLUSH))
    assert result.plans[0].steps[0].action == "flush_cache"


def _flag_flipped(flag: str) -> ContextSnapshot:
    """A flag turned on five minutes before cart's errors began."""
    flip = change("c1", "cart", -5, kind="feature_flag", key=flag, to="true", **{"from": "false"})
    return snapshot(flip, alert("a1", "cart", "HighErrorRate"))


def test_a_kind_of_change_only_a_team_action_undoes_is_judged_and_undone() -> None:
    evidence = _flag_flipped("new-pricing")
    result = diagnose_with(evidence, _specs(FLAG))
    step = result.plans[0].steps[0]
    assert (step.action, step.params) == (
        "restore_flag",
        {"flag": "new-pricing", "enabled": "false"},
    )
    assert "feature_flag change on cart" in result.hypotheses[0].cause
    assert result.hypotheses[0].support == (Support.CHANGE,)
    # without the action, a change of that kind is no suspect at all
    assert not diagnose_with(evidence, _specs()).plans


def test_a_change_value_the_action_does_not_accept_gives_a_hypothesis_without_a_plan() -> None:
    result = diagnose_with(_flag_flipped("Bad Flag!"), _specs(FLAG))
    assert not result.plans
    assert "feature_flag change on cart" in result.hypotheses[0].cause


def test_a_change_value_that_is_no_number_gives_no_plan_and_no_crash() -> None:
    for odd in ("nan", "inf", "-1", "3.5", "lots"):
        scaled = snapshot(
            change("c1", "cart", -5, kind="scale", to="0", **{"from": odd}),
            alert("a1", "cart", "HighErrorRate"),
        )
        result = diagnose_with(scaled, _specs())
        assert not result.plans, odd
        assert "was scaled from" in result.hypotheses[0].cause


def test_an_undoer_that_refuses_the_change_gives_way_to_the_next() -> None:
    picky = FLAG.replace("name: restore_flag", "name: aaa_redeploy").replace(
        "kind: feature_flag\n      params: {flag: key, enabled: from}",
        "kind: deploy\n      params: {flag: to, enabled: from}",
    )
    deployed = snapshot(
        change("c1", "cart", -5, to="1.5.0", **{"from": "1.4.2"}),
        alert("a1", "cart", "HighErrorRate"),
    )
    step = diagnose_with(deployed, _specs(picky)).plans[0].steps[0]
    assert (step.action, step.params) == ("rollback_deploy", {"to_version": "1.4.2"})


def test_a_catalog_only_proposal_never_joins_a_combined_plan() -> None:
    evidence = snapshot(
        change("c1", "cart", -5, to="1.5.0", **{"from": "1.4.2"}),
        alert("a1", "cart", "HighErrorRate"),
        alert("a2", "search", "CacheEvictionStorm"),
    )
    past = PastIncident(
        incident_id="INC-0",
        similarity=1.0,
        services=("search",),
        opened_at=AT,
        cause="c",
        actions=("flush_cache(search)",),
        outcome=Outcome.RESOLVED,
    )
    boosted = evidence.model_copy(update={"similar_incidents": (past, past)})
    result = diagnose_with(boosted, _specs(FLUSH))
    for plan in result.plans:
        actions = {s.action for s in plan.steps}
        assert not ("flush_cache" in actions and len(plan.steps) > 1), plan
