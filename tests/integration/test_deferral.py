"""A decision waits while another incident's remediation is in flight on one of its targets,
then is reassessed on the world that remediation left, instead of escalating on the policy's
one-remediation-per-target rule."""

from __future__ import annotations

from collections.abc import Sequence

from arf.core.clock import ManualClock
from arf.core.records import (
    ActionSpec,
    ContextSnapshot,
    Diagnosis,
    Hypothesis,
    HypothesisCategory,
    IncidentState,
    RemediationPlan,
    Verdict,
)
from arf.oversight.identities import Identity
from arf.runtime.container import Runtime
from arf.runtime.demo import DemoDriver
from arf.runtime.ingest import Ingestor
from arf.sim.faults import datastore_disk_failure
from tests.integration.driving import firing_alert

S = IncidentState


class SamePlan:
    """A reasoner that proposes the given plan for any incident (citing its first evidence)."""

    def __init__(self, plan: RemediationPlan) -> None:
        self._plan = plan

    @property
    def name(self) -> str:
        return "scripted"

    def diagnose(
        self, snapshot: ContextSnapshot, catalog: Sequence[ActionSpec], diagnosis_id: str
    ) -> Diagnosis:
        hypothesis = Hypothesis(
            hypothesis_id=f"{diagnosis_id}-h1",
            cause="the datastore's disk is failing",
            category=HypothesisCategory.DATASTORE_FAILURE,
            service="orders-db",
            confidence=0.9,
            evidence_ids=(snapshot.evidence[0].evidence_id,),
        )
        plan = self._plan.model_copy(
            update={"plan_id": f"{diagnosis_id}-p1", "hypothesis_ids": (hypothesis.hypothesis_id,)}
        )
        return Diagnosis(
            diagnosis_id=diagnosis_id,
            incident_id=snapshot.incident_id,
            snapshot_hash=snapshot.content_hash(),
            reasoner=self.name,
            hypotheses=(hypothesis,),
            plans=(plan,),
            created_at=snapshot.created_at,
        )


def _state(runtime: Runtime, incident_id: str) -> IncidentState:
    with runtime.store.unit_of_work() as uow:
        return uow.get_incident(incident_id).state


def test_a_second_incident_waits_for_the_remediation_on_its_target_then_is_reassessed(
    runtime: Runtime, clock: ManualClock
) -> None:
    driver = DemoDriver(runtime, lambda _line: None)
    datastore_disk_failure(runtime.platform, "orders-db")
    first = ""
    for _ in range(40):  # the failover needs an approver: the first incident waits for one
        driver.tick()
        with runtime.store.unit_of_work() as uow:
            waiting = uow.list_incidents([S.AWAITING_HUMAN])
        if waiting:
            first = waiting[0].incident_id
            break
    with runtime.store.unit_of_work() as uow:
        decision = uow.latest_decision(first)
        diagnosis = uow.latest_diagnosis(first)
    assert decision is not None and diagnosis is not None
    held = diagnosis.plan(decision.plan_id)
    assert held is not None and {s.target for s in held.steps} == {"orders-db"}

    # Past the correlation window, a new symptom opens a second incident whose plan names
    # the same target (the reasoner is scripted so that it surely does).
    clock.advance(11 * 60)
    [second] = (
        Ingestor(runtime)
        .ingest("alertmanager", firing_alert(runtime, "orders-db", "ReplicationLagHigh"))
        .opened
    )
    runtime.reasoner = SamePlan(held)
    clock.advance(runtime.settings.group_wait_s + 1)
    driver.orchestrator.run_pending()
    assert _state(runtime, second) is S.DIAGNOSED  # waiting, not escalated
    assert not driver.orchestrator.step(second)  # and it stays so while the first is open
    with runtime.store.unit_of_work() as uow:
        deferred = [e.payload for e in uow.ledger_for_incident(second) if e.kind.endswith("ed")]
        deferrals = [p for p in deferred if "waiting_for" in p]
    assert deferrals == [{"waiting_for": [first], "targets": ["orders-db"], "snapshot_version": 1}]

    approver = Identity(name="sre-1", roles=frozenset(decision.required_roles))
    driver.orchestrator.answer(first, approver, Verdict.APPROVE)
    for _ in range(40):
        driver.tick()
        if _state(runtime, first) in (S.RESOLVED, S.ESCALATED):
            break
    assert _state(runtime, first) is S.RESOLVED
    # its own symptoms get `group_wait_s` to clear before it is looked at again
    assert _state(runtime, second) is S.DIAGNOSED
    for _ in range(20):
        driver.tick()
        if _state(runtime, second) is not S.DIAGNOSED:
            break

    # the first remediation is over: the second is reassessed on a new snapshot, decided
    # and routed like any other (here: to a person), never denied for the shared target
    with runtime.store.unit_of_work() as uow:
        snapshot = uow.latest_snapshot(second)
        transitions = [
            e.payload for e in uow.ledger_for_incident(second) if e.kind == "incident.transition"
        ]
        incident = uow.get_incident(second)
    assert snapshot is not None and snapshot.version == 2
    reasons = [str(t["reason"]) for t in transitions]
    assert any(r.startswith("the remediation it waited for is over") for r in reasons)
    assert "one-remediation-per-target" not in incident.outcome_reason
    # the failover it proposes again cannot run any more (the replica was promoted): it is
    # refused before anyone is asked, for that reason, never for the shared target
    assert incident.state is S.ESCALATED
    assert "orders-db has no replica to fail over to" in incident.outcome_reason
