"""Kill the control plane with SIGKILL at a chosen step boundary and restart it.

A worker process (forked, so no start-up cost) runs the lifecycle on a home directory whose
database and simulated platform are both on disk. The platform is the outside world: it saves
its state after every tick and after every effect, so what happened there survives the kill,
as a real cluster's state would. At the chosen checkpoint the worker sends itself SIGKILL:
no `finally`, no flush, no goodbye. The next worker starts from the files alone.

Checkpoints are the orchestrator's (`before-effect:forward`, `after-effect:forward`,
`before-record:...`, `after-commit:...`, `before-effect:rollback`, ...) plus `during-effect`,
inside the platform's `perform` after the change is durable and before the call returns.
"""

from __future__ import annotations

import os
import random
import signal
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import JsonValue

from arf.core.records import IncidentState, StepStatus
from arf.core.states import TERMINAL_STATES
from arf.runtime.audit import compliance_of, verify_ledger
from arf.runtime.container import Runtime, build_runtime
from arf.runtime.demo import DemoDriver
from arf.runtime.settings import Settings
from arf.sim.faults import bad_deploy, memory_exhaustion
from arf.sim.platform import SimPlatform

Inject = Callable[[SimPlatform], object]
SCENARIOS: Mapping[str, Inject] = {
    "bad-deploy": lambda p: bad_deploy(p, "checkout", "1.5.0"),  # converges
    "oom-too-big": lambda p: memory_exhaustion(p, "inventory", 4000),  # rolls back
}
MAX_TICKS = 80


RESENT_LOG = "resent.log"  # in the home: one line per operation sent again under a used key


class _Durable:
    """Saves the platform after every effect, then reports `during-effect`. An operation the
    platform answers as a replay (its key was used before) is logged: a resend."""

    def __init__(self, runtime: Runtime, checkpoint: Callable[[str], None], home: Path) -> None:
        self._runtime = runtime
        self._checkpoint = checkpoint
        self._perform = runtime.platform.perform
        self._log = home / RESENT_LOG

    def perform(
        self, operation: str, target: str, args: Mapping[str, JsonValue], idempotency_key: str
    ) -> dict[str, JsonValue]:
        result = self._perform(operation, target, args, idempotency_key)
        if result.get("replayed"):
            with self._log.open("a", encoding="utf-8") as out:
                out.write(idempotency_key + "\n")
        self._runtime.save_platform()
        self._checkpoint("during-effect")
        return result


def _work(home: Path, scenario: str, kill_at: int | None, trace: Path | None) -> None:
    """One worker's life: resume from disk, run until the incident ends or the kill."""
    runtime = build_runtime(Settings(home=home, clock="sim", seed=7))
    seen = 0

    def checkpoint(name: str) -> None:
        nonlocal seen
        seen += 1
        if trace is not None:
            with trace.open("a", encoding="utf-8") as out:
                out.write(name + "\n")
        if kill_at is not None and seen == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    durable = _Durable(runtime, checkpoint, home)
    runtime.platform.perform = durable.perform  # type: ignore[method-assign]
    driver = DemoDriver(runtime, lambda _line: None, checkpoint=checkpoint)
    if not runtime.platform.state.faults:
        SCENARIOS[scenario](runtime.platform)
        runtime.save_platform()
    for _ in range(MAX_TICKS):
        driver.tick()
        runtime.save_platform()
        with runtime.store.unit_of_work() as uow:
            states = [i.state for i in uow.list_incidents()]
        if states and all(s in TERMINAL_STATES for s in states):
            break
    runtime.close()


def run_worker(home: Path, scenario: str, kill_at: int | None, trace: Path | None = None) -> bool:
    """Fork a worker; True when it was killed by SIGKILL, False when it finished."""
    pid = os.fork()
    if pid == 0:  # the worker: never returns into the caller's code
        code = 0
        try:
            _work(home, scenario, kill_at, trace)
        except BaseException:  # noqa: BLE001 - reported through the exit code
            code = 3
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        if os.WTERMSIG(status) != signal.SIGKILL:
            raise RuntimeError(f"worker died of signal {os.WTERMSIG(status)}")
        return True
    if os.WEXITSTATUS(status) != 0:
        raise RuntimeError(f"worker failed with exit code {os.WEXITSTATUS(status)}")
    return False


@dataclass(frozen=True)
class Outcome:
    final: tuple[str, str]
    applied: tuple[str, ...]  # effects the platform applied: step/kind/operation of each key
    releases: tuple[str, ...]
    memory_limit_mb: int
    succeeded_once: bool
    ledger_ok: bool
    compliant: int
    # every step recorded "in doubt" later got an outcome (succeeded or failed)
    in_doubt_settled: bool
    in_doubt: int = field(compare=False)  # steps a restart found in doubt
    resent: int = field(compare=False)  # operations sent again (the platform deduplicated)


def outcome(home: Path) -> Outcome:
    runtime = build_runtime(Settings(home=home, clock="sim", seed=7))
    try:
        with runtime.store.unit_of_work() as uow:
            (incident,) = uow.list_incidents()
            executions = uow.executions_for(incident.incident_id)
        succeeded = Counter(
            (e.kind, e.step_index) for e in executions if e.status is StepStatus.SUCCEEDED
        )
        services = runtime.platform.state.services
        doubted = {(e.kind, e.step_index) for e in executions if e.status is StepStatus.IN_DOUBT}
        settled = {
            (e.kind, e.step_index)
            for e in executions
            if e.status in (StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.DIVERGED)
        }
        resent = home / RESENT_LOG
        return Outcome(
            final=(incident.state.value, incident.outcome.value),
            # keys are incident/plan-hash/step/kind/operation; ids differ between runs
            applied=tuple(sorted(k.split("/", 2)[2] for k in runtime.platform.state.applied)),
            releases=tuple(services["checkout"].release_history),
            memory_limit_mb=services["inventory"].memory_limit_mb,
            succeeded_once=all(count == 1 for count in succeeded.values()),
            ledger_ok=verify_ledger(runtime).ok,
            compliant=compliance_of(runtime).compliant,
            in_doubt_settled=doubted <= settled,
            in_doubt=sum(1 for e in executions if e.status is StepStatus.IN_DOUBT),
            resent=len(resent.read_text("utf-8").split()) if resent.exists() else 0,
        )
    finally:
        runtime.store.close()


def reference(root: Path, scenario: str) -> tuple[Outcome, list[str]]:
    """A run without a kill, and the checkpoints it passes, in order."""
    home = root / f"reference-{scenario}"
    trace = root / f"reference-{scenario}.trace"
    assert not run_worker(home, scenario, None, trace)
    return outcome(home), trace.read_text("utf-8").split()


@dataclass(frozen=True)
class KillPlan:
    scenario: str
    kills: tuple[int, ...]  # checkpoint numbers, one per successive worker
    where: tuple[str, ...]


def plan_for(seed: int, references: Mapping[str, list[str]]) -> KillPlan:
    """Seeded: a scenario, one kill point, and in a third of the cases a second kill in the
    restarted worker (a crash during recovery)."""
    rng = random.Random(f"kill:{seed}")
    scenario = rng.choice(sorted(references))
    trace = references[scenario]
    first = rng.randint(1, len(trace))
    kills = [first]
    where = [trace[first - 1]]
    if rng.random() < 1 / 3 and first < len(trace):
        kills.append(rng.randint(1, len(trace) - first))
        where.append("(after restart)")
    return KillPlan(scenario, tuple(kills), tuple(where))


def run_plan(home: Path, plan: KillPlan) -> tuple[Outcome, int]:
    """Kill at each planned point, then let a last worker finish; returns what happened and
    how many workers were killed."""
    killed = 0
    for kill_at in plan.kills:
        if run_worker(home, plan.scenario, kill_at):
            killed += 1
    for _ in range(3):  # a worker finishes unless the incident needs more than one life
        run_worker(home, plan.scenario, None)
        result = outcome(home)
        if IncidentState(result.final[0]) in TERMINAL_STATES:
            return result, killed
    return outcome(home), killed
