"""Per-target leases: one remediation executes on a target at a time, all targets or none,
renewed per step, taken over only after expiry, released when the incident ends."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from arf.core.clock import ManualClock
from arf.core.records import IncidentState, Outcome
from arf.runtime.audit import verify_ledger
from arf.runtime.container import Runtime
from arf.runtime.demo import DemoDriver
from arf.sim.faults import bad_deploy
from tests.conftest import START, make_runtime


def test_claims_are_exclusive_all_or_nothing_and_expire(runtime: Runtime) -> None:
    now = START
    later = now + timedelta(hours=1)
    with runtime.store.unit_of_work() as uow:
        assert uow.claim_targets("INC-A", ["checkout", "payments"], now, later) == {}
        assert uow.claim_targets("INC-A", ["checkout"], now, later) == {}  # a renewal
        assert uow.claim_targets("INC-B", ["auth", "checkout"], now, later) == {"checkout": "INC-A"}
    with runtime.store.unit_of_work() as uow:
        # all or nothing: INC-B did not keep auth while it waited for checkout
        assert uow.claim_targets("INC-C", ["auth"], now, later) == {}
        uow.release_targets("INC-C")
        # an expired lease (a crashed worker) is taken over
        after = later + timedelta(seconds=1)
        assert uow.claim_targets("INC-B", ["checkout"], after, after + timedelta(hours=1)) == {}
        assert uow.claim_targets("INC-A", ["checkout"], after, after) == {"checkout": "INC-B"}
        uow.release_targets("INC-B")
        assert uow.claim_targets("INC-A", ["checkout"], after, after) == {}


def test_a_remediation_waits_for_the_lease_on_its_target_and_releases_its_own(
    tmp_path: Path,
) -> None:
    runtime = make_runtime(tmp_path / "home", ManualClock(START))
    driver = DemoDriver(runtime, lambda _line: None)
    now = runtime.clock.now()
    with runtime.store.unit_of_work() as uow:  # another worker is remediating checkout
        uow.claim_targets("INC-ELSEWHERE", ["checkout"], now, now + timedelta(hours=2))
    bad_deploy(runtime.platform, "checkout", "1.5.0")
    for _ in range(30):
        driver.tick()
    with runtime.store.unit_of_work() as uow:
        (incident,) = uow.list_incidents()
        waiting = [
            e
            for e in uow.ledger_for_incident(incident.incident_id)
            if e.kind == "execution.waiting"
        ]
    assert incident.state is IncidentState.READY  # decided, but not executing
    assert runtime.platform.state.services["checkout"].version == "1.5.0"
    assert len(waiting) == 1  # recorded once, not on every pass
    assert "held by INC-ELSEWHERE" in str(waiting[0].payload["held"])
    with runtime.store.unit_of_work() as uow:
        uow.release_targets("INC-ELSEWHERE")
    for _ in range(30):
        driver.tick()
    with runtime.store.unit_of_work() as uow:
        (incident,) = uow.list_incidents()
        # resolved, and its own lease is gone with it
        assert uow.claim_targets("INC-NEXT", ["checkout"], now, now) == {}
    assert (incident.state, incident.outcome) == (IncidentState.RESOLVED, Outcome.RESOLVED)
    assert runtime.platform.state.services["checkout"].version != "1.5.0"
    assert verify_ledger(runtime).ok
