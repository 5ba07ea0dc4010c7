"""One incident's fault stops no other: an error while advancing an incident is recorded
against it, the incident is given to a person after a few tries, and every other incident
runs its lifecycle as if nothing had happened."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from unittest.mock import patch

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arf.core.clock import ManualClock
from arf.core.errors import StoreUnavailableError
from arf.core.records import Diagnosis, IncidentState, Outcome, PlanStep
from arf.runtime import snapshots
from arf.runtime.container import Runtime
from arf.runtime.demo import DemoDriver
from arf.runtime.faults import KIND as FAULT_KIND
from arf.sim.faults import config_drift, memory_exhaustion
from arf.sim.platform import SimPlatform
from tests.conftest import START, make_runtime

S = IncidentState
ERRORS: tuple[type[Exception], ...] = (
    RuntimeError,
    KeyError,
    ValueError,
    ZeroDivisionError,
    AttributeError,
    OSError,
)
FAULTS: dict[str, Callable[[SimPlatform], object]] = {
    "payments": lambda platform: config_drift(platform, "payments", "db_pool_size", "2"),
    "reporting": lambda platform: memory_exhaustion(platform, "reporting", 900),
}
POINTS = ("snapshot", "reasoner", "non-finite-plan", "capture", "run_step", "verify", "rollback")


def _services_of_steps(args: tuple[Any, ...]) -> set[str]:
    found: set[str] = set()
    for arg in args:
        if isinstance(arg, PlanStep):
            found.add(arg.target)
        elif isinstance(arg, tuple | list):
            found |= {s.target for s in arg if isinstance(s, PlanStep)}
    return found


@contextmanager
def poisoned(runtime: Runtime, point: str, service: str, error: Exception) -> Iterator[None]:
    """Make one component fail at `point` for everything about `service` (other services
    pass through untouched)."""

    def wrap(original: Callable[..., Any], hit: Callable[[tuple[Any, ...]], bool]) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            if hit(args):
                raise error
            return original(*args, **kwargs)

        return call

    def on_steps(args: tuple[Any, ...]) -> bool:
        return service in _services_of_steps(args)

    with ExitStack() as stack:
        if point == "snapshot":
            stack.enter_context(
                patch(
                    "arf.runtime.orchestrator.build_snapshot",
                    wrap(snapshots.build_snapshot, lambda a: service in a[1].services),
                )
            )
        elif point in ("reasoner", "non-finite-plan"):
            original = runtime.reasoner.diagnose

            def diagnose(*args: Any, **kwargs: Any) -> Diagnosis:
                diagnosis = original(*args, **kwargs)
                if not any(h.service == service for h in diagnosis.hypotheses):
                    return diagnosis
                if point == "reasoner":
                    raise error
                # A plan carrying NaN past every parser (as a reasoner bug would): storing it
                # fails, outside the reasoner's own error boundary.
                plans = tuple(
                    p.model_copy(
                        update={
                            "steps": tuple(
                                s.model_copy(update={"params": {**s.params, "x": math.nan}})
                                for s in p.steps
                            )
                        }
                    )
                    for p in diagnosis.plans
                )
                return diagnosis.model_copy(update={"plans": plans})

            stack.enter_context(patch.object(runtime.reasoner, "diagnose", diagnose))
        elif point == "capture":
            executor = runtime.executor
            stack.enter_context(patch.object(executor, "capture", wrap(executor.capture, on_steps)))
        elif point == "run_step":
            executor = runtime.executor
            stack.enter_context(
                patch.object(executor, "run_step", wrap(executor.run_step, on_steps))
            )
        elif point == "rollback":
            executor = runtime.executor
            # The forward step fails in a way ARF understands, then its rollback raises.
            stack.enter_context(
                patch.object(executor, "run_step", wrap(executor.run_step, on_steps))
            )
            stack.enter_context(
                patch.object(executor, "rollback_step", wrap(executor.rollback_step, on_steps))
            )
        elif point == "verify":
            verifier = runtime.verifier
            stack.enter_context(patch.object(verifier, "verify", wrap(verifier.verify, on_steps)))
        yield


def _run(runtime: Runtime, driver: DemoDriver, ticks: int = 60) -> None:
    for _ in range(ticks):
        driver.tick()
        with runtime.store.unit_of_work() as uow:
            incidents = uow.list_incidents()
        if incidents and all(i.state in (S.RESOLVED, S.ESCALATED) for i in incidents):
            return


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    point=st.sampled_from(POINTS),
    victim=st.sampled_from(sorted(FAULTS)),
    error=st.sampled_from(ERRORS),
)
def test_a_poisoned_incident_is_given_to_a_person_and_every_other_incident_proceeds(
    tmp_path_factory: Any, point: str, victim: str, error: type[Exception]
) -> None:
    home: Path = tmp_path_factory.mktemp("home")
    runtime = make_runtime(home, ManualClock(START))
    driver = DemoDriver(runtime, lambda _line: None)
    for inject in FAULTS.values():
        inject(runtime.platform)
    with poisoned(runtime, point, victim, error(f"poison for {victim}")):
        _run(runtime, driver)
    with runtime.store.unit_of_work() as uow:
        incidents = uow.list_incidents()
        by_service = {s: [i for i in incidents if s in i.services] for s in FAULTS}
        ledgers = {i.incident_id: uow.ledger_for_incident(i.incident_id) for i in incidents}
    runtime.store.close()
    for service, found in by_service.items():
        assert found, f"no incident for {service}"
        final = [i for i in found if i.state in (S.RESOLVED, S.ESCALATED)]
        assert len(final) == len(found), f"{service}: an incident was left mid-way"
        if service == victim:
            assert all(i.outcome is not Outcome.RESOLVED for i in found), point
            assert any(i.state is S.ESCALATED for i in found)
        else:
            assert any(i.state is S.RESOLVED for i in found), f"{service} did not resolve"
    victims = [i for i in by_service[victim]]
    faults = [e for i in victims for e in ledgers[i.incident_id] if e.kind == FAULT_KIND]
    if point != "reasoner":  # the reasoner's own boundary escalates without a fault
        assert faults, f"{point}: the error was not recorded as a fault"
    for entry in faults:
        assert "Traceback" not in str(entry.payload["error"])
        expected = "ValueError" if point == "non-finite-plan" else error.__name__
        assert str(entry.payload["error"]).startswith(expected)


def test_a_store_that_is_unavailable_is_nobody_s_fault(tmp_path: Path) -> None:
    """A locked or unreachable store stops the pass; no incident is charged with it."""
    runtime = make_runtime(tmp_path, ManualClock(START))
    driver = DemoDriver(runtime, lambda _line: None)
    FAULTS["payments"](runtime.platform)
    real_step = driver.orchestrator.step
    outage = {"passes": 0}

    def step(incident_id: str) -> bool:
        if outage["passes"] < 5:
            outage["passes"] += 1
            raise StoreUnavailableError("the store is unavailable: database is locked")
        return real_step(incident_id)

    with patch.object(driver.orchestrator, "step", step):
        _run(runtime, driver)
    with runtime.store.unit_of_work() as uow:
        incidents = uow.list_incidents()
        entries = [e for i in incidents for e in uow.ledger_for_incident(i.incident_id)]
    runtime.store.close()
    assert outage["passes"] == 5
    assert not [e for e in entries if e.kind == FAULT_KIND]
    assert [i.state for i in incidents] == [S.RESOLVED]
