"""Stop the orchestrator at every checkpoint of a run, restart it, and compare with a clean run.

The outside world (the simulated platform) survives the crash; the control plane restarts
from its database alone. Every run must end in the same state, with no effect applied twice.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from arf.core.clock import ManualClock
from arf.core.ids import RandomIds
from arf.core.records import IncidentState, Outcome, StepStatus
from arf.runtime.audit import compliance_of, verify_ledger
from arf.runtime.container import build_runtime
from arf.runtime.demo import DemoDriver
from arf.runtime.settings import Settings
from arf.sim.faults import deploy
from arf.sim.platform import SimPlatform
from arf.testing.crash import SCENARIOS as KILL_SCENARIOS
from arf.testing.crash import Inject
from tests.conftest import START, make_runtime


class SimulatedCrash(BaseException):
    """The process dies here: like SystemExit, no error boundary of ARF's may catch it (the
    per-incident boundary catches `Exception`, which a real crash never raises)."""


# the same two runs the SIGKILL test uses: a fix that converges, and one that does not
# (demand far above twice the limit), which takes the rollback path
SCENARIOS: dict[str, tuple[Inject, Outcome]] = {
    "bad-deploy": (KILL_SCENARIOS["bad-deploy"], Outcome.RESOLVED),
    "oom-too-big": (KILL_SCENARIOS["oom-too-big"], Outcome.ROLLED_BACK),
}


@dataclass
class RunResult:
    platform: SimPlatform
    final: tuple[str, str]
    checkpoints: list[str]
    crashed: bool


def run(home: Path, inject: Inject, crash_after: int | None) -> RunResult:
    clock = ManualClock(START)
    runtime = make_runtime(home, clock)
    seen: list[str] = []

    def hook(name: str) -> None:
        seen.append(name)
        if crash_after is not None and len(seen) == crash_after:
            raise SimulatedCrash(name)

    driver = DemoDriver(runtime, lambda _l: None, checkpoint=hook)
    inject(runtime.platform)
    crashed = False
    for _ in range(60):
        try:
            driver.tick()
        except SimulatedCrash:
            crashed = True
            # Restart: a new process with a fresh store connection on the same database.
            runtime.store.close()
            runtime = build_runtime(
                Settings(home=home, clock="sim"),
                clock=clock,
                platform=runtime.platform,
                ids=RandomIds(),
            )
            driver = DemoDriver(runtime, lambda _l: None)
    with runtime.store.unit_of_work() as uow:
        (incident,) = uow.list_incidents()
        executions = uow.executions_for(incident.incident_id)
    succeeded = Counter(
        (e.kind, e.step_index) for e in executions if e.status is StepStatus.SUCCEEDED
    )
    assert all(count == 1 for count in succeeded.values()), succeeded
    assert verify_ledger(runtime).ok
    assert compliance_of(runtime).compliant == 1
    runtime.store.close()
    return RunResult(
        runtime.platform, (incident.state.value, incident.outcome.value), seen, crashed
    )


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_crash_at_any_checkpoint_resumes_to_the_same_end(tmp_path: Path, name: str) -> None:
    inject, outcome = SCENARIOS[name]
    clean = run(tmp_path / "reference", inject, None)
    assert clean.final[1] == outcome.value
    assert len(clean.checkpoints) >= 10
    for n, where in enumerate(clean.checkpoints, start=1):
        resumed = run(tmp_path / f"crash-{n}", inject, n)
        assert resumed.crashed, f"checkpoint {n} ({where}) was never reached"
        assert resumed.final == clean.final, f"crash at {where} ended {resumed.final}"
        assert len(resumed.platform.state.applied) == len(clean.platform.state.applied), where
        for service, state in clean.platform.state.services.items():
            after = resumed.platform.state.services[service]
            assert after.release_history == state.release_history, where
            assert after.memory_limit_mb == state.memory_limit_mb, where


def test_the_reference_runs_end_as_expected(tmp_path: Path) -> None:
    result = run(tmp_path, SCENARIOS["bad-deploy"][0], None)
    assert result.final == (IncidentState.RESOLVED.value, Outcome.RESOLVED.value)
    assert "before-effect:forward" in result.checkpoints
    assert "after-effect:forward" in result.checkpoints


def test_a_step_in_doubt_that_someone_else_changed_is_left_alone_for_a_person(
    tmp_path: Path,
) -> None:
    """Stopped after the forward step was started, before its effect; meanwhile a person deploys
    another release. On restart the step is in doubt, the platform shows neither the release
    before nor the one ARF meant to deploy: ARF records it diverged, sends nothing, rolls
    nothing back over the person's change, and escalates saying so."""
    clock = ManualClock(START)
    runtime = make_runtime(tmp_path / "home", clock)

    def hook(name: str) -> None:
        if name == "before-effect:forward":
            raise SimulatedCrash(name)

    driver = DemoDriver(runtime, lambda _l: None, checkpoint=hook)
    KILL_SCENARIOS["bad-deploy"](runtime.platform)
    with pytest.raises(SimulatedCrash):
        for _ in range(60):
            driver.tick()
    deploy(runtime.platform, "checkout", "1.6.0")  # a person's release, while ARF was down
    applied = dict(runtime.platform.state.applied)
    runtime.store.close()
    runtime = build_runtime(
        Settings(home=tmp_path / "home", clock="sim"),
        clock=clock,
        platform=runtime.platform,
        ids=RandomIds(),
    )
    driver = DemoDriver(runtime, lambda _l: None)
    for _ in range(60):
        driver.tick()
        with runtime.store.unit_of_work() as uow:
            (incident,) = uow.list_incidents()
        if incident.state in (IncidentState.ESCALATED, IncidentState.RESOLVED):
            break
    with runtime.store.unit_of_work() as uow:
        executions = uow.executions_for(incident.incident_id)
    statuses = [(e.kind.value, e.status.value) for e in executions]
    assert statuses == [("forward", "started"), ("forward", "in_doubt"), ("forward", "diverged")]
    assert "'1.6.0'" in executions[-1].detail
    assert runtime.platform.state.applied == applied  # nothing was sent
    assert runtime.platform.state.services["checkout"].version == "1.6.0"
    assert incident.state is IncidentState.ESCALATED
    assert "left alone, something else changed checkout" in incident.outcome_reason
    assert verify_ledger(runtime).ok
    runtime.store.close()
