"""The simulated platform at scale: a stream of incidents through the whole control plane.

The evaluation's 54-service generated platform (deterministic under the seed, virtual
clock) gets rounds of faults: each round injects several at once on services that share no
dependency path (release, configuration, memory, crash, scale-to-zero, dead process), then
the platform ticks every 15 virtual seconds (alert rules, logs, change events) while ARF
ingests, correlates, assembles, diagnoses (evidence reasoner), decides, executes, verifies
and ledgers. A scripted reviewer approves at once whatever waits for a person, so the figure
is the control plane's and the simulator's, not a human's. A round ends when every incident
it opened is closed and every fault is undone, or when its incidents are closed and nothing
has changed for five minutes, or after 60 ticks; a fault still there is then repaired by hand
and counted as not undone by ARF.

Run: .venv/bin/python -m benchmarks.sim_scale [--rounds 50] [--faults 4] [--seed 1]
Prints incidents, how they ended, wall time, incidents per second on one core, and how the
time splits between the simulator and ARF. Asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from arf.bench.episode import START
from arf.bench.run import arf_runtime
from arf.bench.systems import REVIEWERS
from arf.core.clock import ManualClock
from arf.core.errors import ArfError
from arf.core.records import IncidentState, Verdict
from arf.core.states import TERMINAL_STATES
from arf.governance.calibration import FINISHED
from arf.oversight.explain import routed_confidence
from arf.runtime.container import Runtime
from arf.runtime.ingest import Ingestor
from arf.runtime.orchestrator import Orchestrator
from arf.runtime.reasoning_eval import calibration
from arf.sim import faults
from arf.sim.model import FaultRecord
from arf.sim.platform import SimPlatform
from arf.sim.topology import API, DOMAIN, generate_platform

TICK_S = 15.0
MAX_TICKS = 60
QUIET_TICKS = 20  # five minutes without a new incident or a state change
Inject = Callable[[SimPlatform, str, int], FaultRecord]
FAULTS: dict[str, Inject] = {
    "bad_deploy": lambda p, s, n: faults.bad_deploy(p, s, f"9.{n}.0"),
    "crash_loop": lambda p, s, n: faults.crash_loop(p, s, f"9.{n}.1"),
    "config_drift": lambda p, s, n: faults.config_drift(p, s, "db_pool_size", "2"),
    "memory_exhaustion": lambda p, s, n: faults.memory_exhaustion(
        p, s, p.state.services[s].memory_limit_mb * 3 // 2
    ),
    "scaled_to_zero": lambda p, s, n: faults.scaled_to_zero(p, s),
    "dependency_outage": lambda p, s, n: faults.dependency_outage(p, s),
}


def _independent(runtime: Runtime, rng: random.Random, count: int, pool: list[str]) -> list[str]:
    """Services whose dependency paths (callers and dependencies, 6 hops) do not meet, so
    no caller sees two faults and each fault is an incident of its own."""
    catalog = runtime.services
    chosen: list[tuple[str, frozenset[str]]] = []
    for name in rng.sample(pool, len(pool)):
        area = catalog.related(name, 6) | {name}
        if all(not area & other for _, other in chosen):
            chosen.append((name, area))
        if len(chosen) == count:
            break
    return [name for name, _ in chosen]


def run(rounds: int, per_round: int, seed: int) -> dict[str, float]:
    clock = ManualClock(START)
    generated = generate_platform(seed, clock.now().timestamp())
    platform = SimPlatform(generated.state.model_copy(deep=True), clock)
    with tempfile.TemporaryDirectory(prefix="arf-scale-") as tmp:
        runtime = arf_runtime(platform, clock, Path(tmp))
        ingestor, orchestrator = Ingestor(runtime), Orchestrator(runtime)
        rng = random.Random(f"sim-scale:{seed}")
        pool = [s for s in (*API, *DOMAIN) if s in platform.state.services]
        outcomes: Counter[str] = Counter()
        undone = ticks = injected_total = 0
        sim_s = 0.0

        def deliver() -> None:
            for emission in platform.drain():
                try:
                    ingestor.ingest(emission.format, emission.payload)
                except ArfError:
                    continue

        started = time.perf_counter()
        for number in range(rounds):
            round_start = clock.now()
            injected = [
                FAULTS[kind](platform, service, number)
                for service, kind in zip(
                    _independent(runtime, rng, per_round, pool),
                    rng.choices(sorted(FAULTS), k=per_round),
                    strict=False,
                )
            ]
            injected_total += len(injected)
            deliver()
            seen: dict[str, IncidentState] = {}
            quiet = 0
            for _ in range(MAX_TICKS):
                clock.advance(TICK_S)
                ticked = time.perf_counter()
                platform.tick()
                sim_s += time.perf_counter() - ticked
                ticks += 1
                deliver()
                orchestrator.run_pending()
                _approve_waiting(runtime, orchestrator)
                deliver()
                states = _states(runtime, round_start)
                settled = all(s in TERMINAL_STATES for s in states.values())
                if settled and all(faults.fault_undone(platform, f) for f in injected):
                    break
                quiet = quiet + 1 if states == seen else 0
                seen = states
                if settled and states and quiet >= QUIET_TICKS:
                    break  # ARF has finished with what it saw; what is left is unfixed
            for fault in injected:
                if faults.fault_undone(platform, fault):
                    undone += 1
                else:
                    faults.repair(platform, fault)
            for _ in range(2):  # let alerts resolve before the next round
                clock.advance(TICK_S)
                platform.tick()
                deliver()
                orchestrator.run_pending()
        elapsed = time.perf_counter() - started
        for state in _states(runtime, START).values():
            outcomes[state.value] += 1
        calibrated = _calibration_figures(runtime)
        runtime.store.close()
    incidents = sum(outcomes.values())
    return {
        "faults": float(injected_total),
        "faults_undone_by_arf": float(undone),
        "incidents": float(incidents),
        **{f"incidents_{k}": float(v) for k, v in sorted(outcomes.items())},
        "ticks": float(ticks),
        "seconds": elapsed,
        "incidents_per_s": incidents / elapsed,
        "simulator_share": sim_s / elapsed,
        **calibrated,
    }


def _calibration_figures(runtime: Runtime) -> dict[str, float]:
    """Prequential calibration: for every finished plan, the confidence its reasoner claimed
    and the one governance routed on (calibrated on the plans finished before it), scored
    against whether ARF's verification held (Brier, ECE; lower is better)."""
    raw: list[float] = []
    routed: list[float] = []
    held: list[bool] = []
    runs = runtime.run_history.runs(runtime.clock.now())
    finished = {r.incident_id: r.outcome == "verified" for r in runs if r.outcome in FINISHED}
    with runtime.store.unit_of_work() as uow:
        for incident_id, verified in sorted(finished.items()):
            decision = uow.latest_decision(incident_id)
            seen = routed_confidence(decision) if decision else {}
            if not seen:
                continue
            raw.append(float(str(seen["raw_confidence"])))
            routed.append(float(str(seen["confidence"])))
            held.append(verified)
    brier_raw, ece_raw = calibration(raw, held)
    brier, ece = calibration(routed, held)
    return {
        "plans_finished": float(len(held)),
        "plans_verified": float(sum(held)),
        "brier_claimed": brier_raw,
        "brier_calibrated": brier,
        "ece_claimed": ece_raw,
        "ece_calibrated": ece,
        "plans_marked_down": float(sum(1 for r, c in zip(raw, routed, strict=True) if c < r)),
        "plans_marked_up": float(sum(1 for r, c in zip(raw, routed, strict=True) if c > r)),
    }


def _states(runtime: Runtime, since: datetime) -> dict[str, IncidentState]:
    """The incidents opened since `since`, with their states."""
    with runtime.store.unit_of_work() as uow:
        return {i.incident_id: i.state for i in uow.list_incidents(opened_since=since)}


def _approve_waiting(runtime: Runtime, orchestrator: Orchestrator) -> None:
    with runtime.store.unit_of_work() as uow:
        waiting = [i.incident_id for i in uow.list_incidents([IncidentState.AWAITING_HUMAN])]
    for incident_id in waiting:
        for reviewer in REVIEWERS:
            try:
                orchestrator.answer(incident_id, reviewer, Verdict.APPROVE)
            except ArfError:
                break  # quorum reached, or no longer waiting
    if waiting:
        orchestrator.run_pending()


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--faults", type=int, default=3, help="faults injected per round")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    args = parser.parse_args(argv)
    results = run(3 if args.quick else args.rounds, args.faults, args.seed)
    for name, value in results.items():
        print(f"{name:28s} {value:12.4f}")
    return results


if __name__ == "__main__":
    main()
