from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import JsonValue

from arf.core.clock import ManualClock
from arf.core.errors import ExecutionError, IntegrityError
from arf.core.records import (
    Approval,
    BlastRadius,
    DecisionEnvelope,
    PlanStep,
    RemediationPlan,
    Route,
    StepKind,
    Verdict,
)
from arf.execution.action_packs import ActionCatalog, default_actions
from arf.execution.executor import Executor, Reconciliation
from arf.sim.faults import bad_deploy
from arf.sim.platform import SimPlatform, default_state

AT = datetime(2026, 1, 1, tzinfo=UTC)


def platform() -> SimPlatform:
    clock = ManualClock(AT)
    return SimPlatform(default_state(1, clock.now().timestamp()), clock)


def plan(version: str = "1.4.2") -> RemediationPlan:
    return RemediationPlan(
        plan_id="p1",
        hypothesis_ids=("h1",),
        steps=(
            PlanStep(action="rollback_deploy", target="checkout", params={"to_version": version}),
        ),
        rationale="r",
        expected_impact="i",
        rollback="b",
        confidence=0.9,
    )


def decision_for(p: RemediationPlan, max_resources: int = 5) -> DecisionEnvelope:
    return DecisionEnvelope(
        decision_id="d",
        incident_id="INC-1",
        plan_id=p.plan_id,
        plan_hash=p.plan_hash(),
        policy_version="v",
        matched_rules=(),
        risk_score=0.1,
        risk_factors=(),
        route=Route.AUTONOMOUS,
        blast_radius=BlastRadius(services=1, resources=1, replicas=3),
        max_resources=max_resources,
        decided_at=AT,
    )


def test_every_catalogued_action_declares_everything() -> None:
    catalog = ActionCatalog(default_actions())
    assert catalog.specs()
    for spec in catalog.specs():
        assert spec.description and spec.rollback and spec.verification
        assert spec.permissions, f"{spec.name} declares no permissions"
        assert spec.risk_class is not None
        definition = catalog.get(spec.name)
        assert definition is not None
        assert callable(definition.preconditions) and callable(definition.backward)
        if not spec.reversible:
            assert "irreversible" in spec.rollback
    # an action whose effect a description cannot show settles a crash by its idempotency key
    # only; a new action must either declare its effect or be added here on purpose
    traceless = {s.name for s in catalog.specs() if (d := catalog.get(s.name)) and not d.effect}
    assert traceless == {"restart_service", "failover_database"}


def test_a_plan_edited_after_its_decision_is_refused() -> None:
    executor = Executor(ActionCatalog(default_actions()), platform())
    decided = plan("1.4.2")
    decision = decision_for(decided)
    edited = plan("0.0.1-evil")
    with pytest.raises(IntegrityError, match="changed after its decision"):
        executor.check_integrity(edited, decision, [])
    executor.check_integrity(decided, decision, [])  # the decided plan itself passes


def test_an_approval_for_another_plan_is_refused() -> None:
    executor = Executor(ActionCatalog(default_actions()), platform())
    decided = plan()
    other = Approval(
        approval_id="a",
        incident_id="INC-1",
        decision_id="d",
        plan_hash="f" * 64,
        approver="alice",
        roles=("approver",),
        verdict=Verdict.APPROVE,
        at=AT,
    )
    with pytest.raises(IntegrityError, match="approval"):
        executor.check_integrity(decided, decision_for(decided), [other])


def test_blast_radius_is_rechecked_at_execution() -> None:
    executor = Executor(ActionCatalog(default_actions()), platform())
    decided = plan()
    with pytest.raises(IntegrityError, match="over the decided limit"):
        executor.check_integrity(decided, decision_for(decided, max_resources=0), [])


def test_the_capacity_share_is_rechecked_against_the_real_replica_count() -> None:
    world = platform()
    executor = Executor(ActionCatalog(default_actions()), world)
    decided = plan()
    radius = executor.estimate(decided.steps)
    assert radius.replica_share == pytest.approx(1 / 3, abs=1e-3)  # rolling, 3 replicas
    limited = decision_for(decided).model_copy(update={"max_replica_share": 0.5})
    executor.check_integrity(decided, limited, [])
    scaled = world.state.services["checkout"].model_copy(update={"replicas": 1})
    world.state.services["checkout"] = scaled  # someone scaled it down after the decision
    with pytest.raises(IntegrityError, match="100% of a target's capacity"):
        executor.check_integrity(decided, limited, [])


def test_preconditions_refuse_a_rollback_to_a_version_never_deployed() -> None:
    sim = platform()
    bad_deploy(sim, "checkout", "1.5.0")
    executor = Executor(ActionCatalog(default_actions()), sim)
    with pytest.raises(ExecutionError, match="not an earlier release"):
        executor.capture(plan("9.9.9").steps[0])


def test_an_idempotency_key_never_applies_twice() -> None:
    sim = platform()
    bad_deploy(sim, "checkout", "1.5.0")
    executor = Executor(ActionCatalog(default_actions()), sim)
    step = plan("1.4.2").steps[0]
    pre = executor.capture(step)
    executor.run_step(step, pre, "key-1")
    history = list(sim.state.services["checkout"].release_history)
    executor.run_step(step, pre, "key-1")  # a retry after a crash
    assert sim.state.services["checkout"].release_history == history
    executor.rollback_step(step, pre, "key-1-rb")
    assert sim.state.services["checkout"].version == "1.5.0"


def test_scaling_restores_capacity_never_reduces_it_and_rolls_back_to_the_old_count() -> None:
    from arf.sim.faults import scaled_to_zero

    sim = platform()
    executor = Executor(ActionCatalog(default_actions()), sim)
    down = PlanStep(action="scale_service", target="inventory", params={"replicas": 2})
    with pytest.raises(ExecutionError, match="scaling down is no remedy"):
        executor.capture(down)  # inventory runs 3
    scaled_to_zero(sim, "inventory")
    step = PlanStep(action="scale_service", target="inventory", params={"replicas": 3})
    pre = executor.capture(step)
    executor.run_step(step, pre, "scale-1")
    assert sim.state.services["inventory"].replicas == 3
    assert sim.health_of("inventory").up == 1.0
    executor.rollback_step(step, pre, "scale-1-rb")
    assert sim.state.services["inventory"].replicas == 0


def test_a_step_in_doubt_is_settled_by_reading_the_target() -> None:
    sim = platform()
    bad_deploy(sim, "checkout", "1.5.0")
    executor = Executor(ActionCatalog(default_actions()), sim)
    step = plan("1.4.2").steps[0]
    pre = executor.capture(step)
    forward, backward = StepKind.FORWARD, StepKind.ROLLBACK
    assert executor.reconcile(step, pre, forward)[0] is Reconciliation.NOT_APPLIED
    executor.run_step(step, pre, "k")
    found, why = executor.reconcile(step, pre, forward)
    assert found is Reconciliation.APPLIED and "'1.4.2'" in why
    assert executor.reconcile(step, pre, backward)[0] is Reconciliation.NOT_APPLIED
    executor.rollback_step(step, pre, "k-rb")
    assert executor.reconcile(step, pre, backward)[0] is Reconciliation.APPLIED
    bad_deploy(sim, "checkout", "1.6.0")  # someone else deployed meanwhile
    found, why = executor.reconcile(step, pre, forward)
    assert found is Reconciliation.DIVERGED and "'1.6.0'" in why


def test_a_target_that_no_longer_shows_the_effect_is_unknown_not_diverged() -> None:
    """A description without the field the effect reads (a platform that cannot see what an
    HTTP step changed, a field that went away) settles nothing: the step is re-sent under
    its idempotency key, never reported as changed by someone else."""
    sim = platform()
    bad_deploy(sim, "checkout", "1.5.0")
    executor = Executor(ActionCatalog(default_actions()), sim)
    step = PlanStep(action="scale_service", target="checkout", params={"replicas": 5})
    pre = executor.capture(step)

    class Blind:
        def describe(self, target: str) -> dict[str, JsonValue]:
            return {key: value for key, value in pre.items() if key != "replicas"}

        def operations(self) -> frozenset[str]:
            return sim.operations()

        def perform(self, *args: object) -> dict[str, JsonValue]:
            raise AssertionError("reconciliation sends nothing")

    blind = Executor(ActionCatalog(default_actions()), Blind())
    found, why = blind.reconcile(step, pre, StepKind.FORWARD)
    assert found is Reconciliation.UNKNOWN and "reads nothing" in why


def test_each_action_with_a_visible_effect_reconciles_on_the_simulated_platform() -> None:
    from arf.sim.faults import config_drift, memory_exhaustion, scaled_to_zero

    sim = platform()
    executor = Executor(ActionCatalog(default_actions()), sim)
    config_drift(sim, "checkout", "db_pool_size", "1")
    memory_exhaustion(sim, "inventory", 900)
    scaled_to_zero(sim, "payments")
    steps = [
        PlanStep(
            action="revert_config",
            target="checkout",
            params={"key": "db_pool_size", "to_value": "20"},
        ),
        PlanStep(action="increase_memory_limit", target="inventory", params={"factor": 2.0}),
        PlanStep(action="scale_service", target="payments", params={"replicas": 3}),
    ]
    for n, step in enumerate(steps):
        pre = executor.capture(step)
        assert executor.reconcile(step, pre, StepKind.FORWARD)[0] is Reconciliation.NOT_APPLIED
        executor.run_step(step, pre, f"k{n}")
        assert executor.reconcile(step, pre, StepKind.FORWARD)[0] is Reconciliation.APPLIED


def test_an_effect_without_a_trace_stays_unknown_and_is_left_to_the_idempotency_key() -> None:
    sim = platform()
    executor = Executor(ActionCatalog(default_actions()), sim)
    step = PlanStep(action="restart_service", target="checkout", params={})
    pre = executor.capture(step)
    found, why = executor.reconcile(step, pre, StepKind.FORWARD)
    assert found is Reconciliation.UNKNOWN and "no trace" in why
    gone = PlanStep(action="rollback_deploy", target="nowhere", params={"to_version": "1"})
    assert executor.reconcile(gone, pre, StepKind.FORWARD)[0] is Reconciliation.UNKNOWN


def test_a_step_is_already_done_only_when_the_target_shows_what_it_would_leave() -> None:
    sim = platform()
    executor = Executor(ActionCatalog(default_actions()), sim)
    running = sim.state.services["checkout"].version
    pool = sim.state.services["checkout"].config.get("db_pool_size", "")
    deployed = PlanStep(action="rollback_deploy", target="checkout", params={"to_version": running})
    assert executor.already_done(deployed) == (
        f"checkout already shows {running!r}, what rollback_deploy would leave"
    )
    assert executor.already_done(plan("0.0.1").steps[0]) is None  # another release
    same = {"key": "db_pool_size", "to_value": pool}
    assert executor.already_done(PlanStep(action="revert_config", target="checkout", params=same))
    other = {"key": "db_pool_size", "to_value": pool + "0"}
    assert not executor.already_done(
        PlanStep(action="revert_config", target="checkout", params=other)
    )
    # relative changes and traceless actions are never "already done"
    doubled = PlanStep(action="increase_memory_limit", target="checkout", params={"factor": 2.0})
    assert executor.already_done(doubled) is None
    assert executor.already_done(PlanStep(action="restart_service", target="checkout")) is None
    assert executor.already_done(PlanStep(action="restart_service", target="nope")) is None
