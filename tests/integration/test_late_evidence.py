"""Evidence that arrives after a snapshot was assembled makes a new snapshot version, which is
diagnosed again before anything is decided; a pending approval request is withdrawn. Written
snapshots never change, repeats of a known signal are not new evidence, and the number of
versions is bounded."""

from __future__ import annotations

import pytest

from arf.core.clock import ManualClock
from arf.core.errors import InputError
from arf.core.records import IncidentState, Verdict
from arf.oversight.approvals import operations
from arf.oversight.identities import Identity
from arf.runtime.container import Runtime
from arf.runtime.demo import DemoDriver
from arf.runtime.ingest import Ingestor
from arf.runtime.orchestrator import Orchestrator
from arf.signals.context import evidence_id_for
from arf.sim.faults import datastore_disk_failure
from tests.integration.driving import firing_alert

S = IncidentState


def _snapshot_entries(runtime: Runtime, incident_id: str) -> list[dict[str, object]]:
    with runtime.store.unit_of_work() as uow:
        return [
            dict(e.payload)
            for e in uow.ledger_for_incident(incident_id)
            if e.kind == "snapshot.created"
        ]


def _state(runtime: Runtime, incident_id: str) -> IncidentState:
    with runtime.store.unit_of_work() as uow:
        return uow.get_incident(incident_id).state


def _opened(runtime: Runtime, clock: ManualClock) -> tuple[Ingestor, Orchestrator, str]:
    """An incident opened by one alert, its group wait over."""
    ingest, orchestrator = Ingestor(runtime), Orchestrator(runtime)
    [incident_id] = ingest.ingest(
        "alertmanager", firing_alert(runtime, "checkout", "HighErrorRate")
    ).opened
    clock.advance(120)
    return ingest, orchestrator, incident_id


def test_a_signal_joining_after_diagnosis_makes_a_new_version_that_is_diagnosed_again(
    runtime: Runtime, clock: ManualClock
) -> None:
    ingest, orchestrator, incident_id = _opened(runtime, clock)
    assert orchestrator.step(incident_id) and _state(runtime, incident_id) is S.CONTEXT_READY
    with runtime.store.unit_of_work() as uow:
        first = uow.latest_snapshot(incident_id)
    assert first is not None and first.version == 1
    assert orchestrator.step(incident_id) and _state(runtime, incident_id) is S.DIAGNOSED

    clock.advance(10)
    delivery = firing_alert(runtime, "checkout", "HighLatency")
    late = ingest.ingest("alertmanager", delivery)
    assert late.attached == [incident_id]
    assert orchestrator.step(incident_id) and _state(runtime, incident_id) is S.CONTEXT_READY
    with runtime.store.unit_of_work() as uow:
        second = uow.latest_snapshot(incident_id)
        [late_signal] = [
            s.signal
            for s in uow.signals_for_incident(incident_id)
            if s.signal.title.startswith("HighLatency")
        ]
        moves = [
            e.payload["reason"]
            for e in uow.ledger_for_incident(incident_id)
            if e.kind == "incident.transition"
        ]
    assert second is not None and second.version == 2
    assert evidence_id_for(late_signal.signal_id) in second.evidence_ids()
    assert evidence_id_for(late_signal.signal_id) not in first.evidence_ids()
    assert "1 signal(s) arrived after context v1; reassessing with v2" in moves
    entries = _snapshot_entries(runtime, incident_id)
    assert [e["version"] for e in entries] == [1, 2]
    assert entries[0]["content_hash"] == first.content_hash()  # v1 as written, unchanged
    assert entries[1]["supersedes"] == first.content_hash()
    assert entries[1]["late_signals"] == 1 and "supersedes" not in entries[0]

    assert orchestrator.step(incident_id) and _state(runtime, incident_id) is S.DIAGNOSED
    with runtime.store.unit_of_work() as uow:
        diagnosis = uow.latest_diagnosis(incident_id)
    assert diagnosis is not None and diagnosis.snapshot_hash == second.content_hash()

    # a repeat of a signal already attached (Alertmanager re-sends it with the same start
    # time) is not new evidence
    clock.advance(10)
    assert ingest.ingest("alertmanager", delivery).duplicates
    orchestrator.step(incident_id)
    assert _state(runtime, incident_id) is not S.CONTEXT_READY
    assert len(_snapshot_entries(runtime, incident_id)) == 2


def test_late_evidence_before_diagnosis_is_included_without_a_state_change(
    runtime: Runtime, clock: ManualClock
) -> None:
    ingest, orchestrator, incident_id = _opened(runtime, clock)
    orchestrator.step(incident_id)
    clock.advance(5)
    ingest.ingest("alertmanager", firing_alert(runtime, "checkout", "HighLatency"))
    assert orchestrator.step(incident_id) and _state(runtime, incident_id) is S.DIAGNOSED
    with runtime.store.unit_of_work() as uow:
        snapshot = uow.latest_snapshot(incident_id)
        diagnosis = uow.latest_diagnosis(incident_id)
    assert snapshot is not None and snapshot.version == 2
    assert diagnosis is not None and diagnosis.snapshot_hash == snapshot.content_hash()


def test_versions_are_bounded_so_a_storm_cannot_stall_the_decision(
    runtime: Runtime, clock: ManualClock
) -> None:
    ingest, orchestrator, incident_id = _opened(runtime, clock)
    states = []
    for n in range(12):  # a new symptom after every step
        orchestrator.step(incident_id)
        states.append(_state(runtime, incident_id))
        clock.advance(5)
        ingest.ingest("alertmanager", firing_alert(runtime, "checkout", f"Symptom{n}"))
    versions = [e["version"] for e in _snapshot_entries(runtime, incident_id)]
    assert versions == list(range(1, runtime.context_rules.max_versions + 1))
    # past the bound it was decided on the last version, symptoms still arriving
    assert states[-1] not in (S.OPEN, S.CONTEXT_READY, S.DIAGNOSED), states
    with runtime.store.unit_of_work() as uow:
        diagnosis = uow.latest_diagnosis(incident_id)
        last = uow.latest_snapshot(incident_id)
    assert last is not None and last.version == runtime.context_rules.max_versions
    assert diagnosis is not None and diagnosis.snapshot_hash == last.content_hash()


def test_a_pending_approval_request_is_withdrawn_when_new_evidence_arrives(
    runtime: Runtime, clock: ManualClock
) -> None:
    driver = DemoDriver(runtime, lambda _line: None)
    datastore_disk_failure(runtime.platform, "orders-db")
    for _ in range(40):
        driver.tick()
        with runtime.store.unit_of_work() as uow:
            waiting = uow.list_incidents([S.AWAITING_HUMAN])
        if waiting:
            break
    [incident] = waiting
    incident_id = incident.incident_id
    with runtime.store.unit_of_work() as uow:
        first_decision = uow.latest_decision(incident_id)
        version = uow.latest_snapshot(incident_id).version  # type: ignore[union-attr]
        requests = [n for n in uow.notifications_for(incident_id) if n.kind.endswith("_request")]
    assert first_decision is not None and len(requests) == 1
    assert version < runtime.context_rules.max_versions  # a version left to spend

    clock.advance(5)
    Ingestor(runtime).ingest("alertmanager", firing_alert(runtime, "orders-db", "DiskErrorsRising"))
    assert driver.orchestrator.step(incident_id)
    assert _state(runtime, incident_id) is S.CONTEXT_READY
    approver = Identity(name="sre-1", roles=frozenset(first_decision.required_roles))
    with pytest.raises(InputError, match="not waiting for approval"):
        driver.orchestrator.answer(incident_id, approver, Verdict.APPROVE)

    driver.orchestrator.run_pending()
    assert _state(runtime, incident_id) is S.AWAITING_HUMAN
    with runtime.store.unit_of_work() as uow:
        second_decision = uow.latest_decision(incident_id)
        requests = [n for n in uow.notifications_for(incident_id) if n.kind.endswith("_request")]
    assert second_decision is not None
    assert second_decision.decision_id != first_decision.decision_id
    # the same operations for the same people: the request the person holds stands (no
    # second page), though the new diagnosis words the plan differently (another plan hash)
    assert operations(second_decision) == operations(first_decision)
    assert second_decision.plan_hash != first_decision.plan_hash
    assert len(requests) == 1
    approval = driver.orchestrator.answer(incident_id, approver, Verdict.APPROVE)
    assert approval.decision_id == second_decision.decision_id
