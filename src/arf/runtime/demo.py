"""`arf demo`: the demo scenario set through all eight lifecycle steps on the simulated platform.

The driver plays the outside world on a virtual clock: it injects a fault, lets the platform
evaluate its alert rules every 15 s, delivers what the platform's tools emit to ARF's ingestion,
and lets the orchestrator advance incidents. Ground truth (`fault_undone`) is read only to score.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from arf.core.clock import ManualClock
from arf.core.records import IncidentState, StepKind, StepStatus
from arf.core.states import TERMINAL_STATES
from arf.ledger.keys import create_key, publish_verifier
from arf.oversight.identities import hash_token
from arf.runtime.container import Runtime
from arf.runtime.ingest import Ingestor
from arf.runtime.orchestrator import Orchestrator
from arf.runtime.settings import write_settings_file
from arf.runtime.step_log import Checkpoint
from arf.sim.faults import Scenario, demo_scenarios, fault_undone
from arf.sim.model import FaultRecord

DEMO_APPROVER = "demo-approver"
Progress = Callable[[str], None]


@dataclass
class IncidentRow:
    scenario: str
    incident_id: str
    state: str
    outcome: str
    raw_alerts: int
    top_hypothesis: str
    plan: str
    route: str
    ttd_s: float
    ttr_s: float | None
    executed: bool


@dataclass
class ScenarioResult:
    scenario: Scenario
    incidents: list[str]
    faults_undone: list[bool]
    executed: bool
    faults: list[FaultRecord] = field(default_factory=list)  # ground truth, for scoring only


@dataclass
class DemoReport:
    results: list[ScenarioResult] = field(default_factory=list)
    rows: list[IncidentRow] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)


def prepare_demo_home(home: Path) -> str:
    """A fresh demo home: settings, a demo approver identity and its credentials file."""
    home.mkdir(parents=True, exist_ok=True)
    for name in ("arf.db", "arf.db-wal", "arf.db-shm", "sim-state.json"):
        (home / name).unlink(missing_ok=True)
    for folder in ("keys", "witness"):  # a fresh ledger needs a fresh key and witness
        shutil.rmtree(home / folder, ignore_errors=True)
    signer = create_key(home / "keys" / "ledger.key", "arf-demo-ledger")
    publish_verifier(home / "keys" / "ledger.keyring", signer)
    write_settings_file(home, {"clock": "sim"})
    token = secrets.token_urlsafe(24)
    identities = {
        "identities": [
            {
                "name": DEMO_APPROVER,
                "roles": ["approver", "sre"],
                "token_sha256": hash_token(token),
            },
        ]
    }
    (home / "identities.yaml").write_text(yaml.safe_dump(identities), "utf-8")
    credentials = home / "credentials"
    credentials.write_text(token + "\n", "utf-8")
    credentials.chmod(0o600)
    return token


def _incident_ids(runtime: Runtime) -> set[str]:
    with runtime.store.unit_of_work() as uow:
        return {i.incident_id for i in uow.list_incidents()}


def _settled(runtime: Runtime, incident_ids: Sequence[str]) -> bool:
    with runtime.store.unit_of_work() as uow:
        states = [uow.get_incident(i).state for i in incident_ids]
    return bool(states) and all(
        s in TERMINAL_STATES or s is IncidentState.AWAITING_HUMAN for s in states
    )


class DemoDriver:
    def __init__(
        self,
        runtime: Runtime,
        progress: Progress,
        tick_s: float = 15.0,
        max_ticks: int = 120,
        gap_s: float = 3600.0,
        checkpoint: Checkpoint | None = None,
    ) -> None:
        if not isinstance(runtime.clock, ManualClock):
            raise TypeError("the demo runs on a virtual clock")
        self._rt = runtime
        self._clock: ManualClock = runtime.clock
        self._progress = progress
        self._tick_s = tick_s
        self._max_ticks = max_ticks
        self._gap_s = gap_s
        self._ingestor = Ingestor(runtime)
        self.orchestrator = (
            Orchestrator(runtime, checkpoint) if checkpoint else Orchestrator(runtime)
        )

    def deliver(self) -> None:
        for emission in self._rt.platform.drain():
            self._ingestor.ingest(emission.format, emission.payload)

    def tick(self) -> None:
        self._clock.advance(self._tick_s)
        self._rt.platform.tick()
        self.deliver()
        self.orchestrator.run_pending()
        self.deliver()  # what remediation itself emitted (change events, re-scans)

    def run_scenario(self, scenario: Scenario) -> ScenarioResult:
        before = _incident_ids(self._rt)
        faults = scenario.inject(self._rt.platform)
        self.deliver()
        settled_ticks = 0
        new: list[str] = []
        for _ in range(self._max_ticks):
            self.tick()
            new = sorted(_incident_ids(self._rt) - before)
            if _settled(self._rt, new):
                settled_ticks += 1
                if settled_ticks >= 4:  # let resolved notifications flow in
                    break
            else:
                settled_ticks = 0
        with self._rt.store.unit_of_work() as uow:
            executed = any(
                e.kind is StepKind.FORWARD and e.status is StepStatus.SUCCEEDED
                for i in new
                for e in uow.executions_for(i)
            )
        return ScenarioResult(
            scenario, new, [fault_undone(self._rt.platform, f) for f in faults], executed, faults
        )

    def run(self, scenarios: Sequence[Scenario]) -> list[ScenarioResult]:
        results = []
        for number, scenario in enumerate(scenarios, start=1):
            self._progress(f"[{number}/{len(scenarios)}] {scenario.name}: {scenario.description}")
            result = self.run_scenario(scenario)
            with self._rt.store.unit_of_work() as uow:
                for incident_id in result.incidents:
                    incident = uow.get_incident(incident_id)
                    self._progress(
                        f"      {incident_id} -> {incident.state.value}"
                        f" ({incident.outcome_reason or incident.outcome.value})"
                    )
            if not result.incidents:
                self._progress("      no incident opened")
            results.append(result)
            if number < len(scenarios):
                self._clock.advance(self._gap_s)
                self._rt.platform.tick()
                self.deliver()
        return results


def rows_for(runtime: Runtime, results: Sequence[ScenarioResult]) -> list[IncidentRow]:
    rows = []
    with runtime.store.unit_of_work() as uow:
        for result in results:
            for incident_id in result.incidents:
                incident = uow.get_incident(incident_id)
                diagnosis = uow.latest_diagnosis(incident_id)
                decision = uow.latest_decision(incident_id)
                top = diagnosis.top_hypothesis() if diagnosis else None
                plan = ""
                if diagnosis and decision:
                    chosen = diagnosis.plan(decision.plan_id)
                    if chosen:
                        plan = " + ".join(f"{s.action}({s.target})" for s in chosen.steps)
                alerts = sum(
                    s.occurrences
                    for s in uow.signals_for_incident(incident_id)
                    if s.signal.kind.value == "alert"
                )
                rows.append(
                    IncidentRow(
                        scenario=result.scenario.name,
                        incident_id=incident_id,
                        state=incident.state.value,
                        outcome=incident.outcome.value,
                        raw_alerts=alerts,
                        top_hypothesis=top.cause if top else "-",
                        plan=plan or "-",
                        route=decision.route.value if decision else "-",
                        ttd_s=(incident.opened_at - incident.impact_started_at).total_seconds(),
                        ttr_s=(incident.resolved_at - incident.impact_started_at).total_seconds()
                        if incident.resolved_at
                        else None,
                        executed=result.executed,
                    )
                )
    return rows


def run_demo(
    runtime: Runtime, progress: Progress, scenarios: Sequence[Scenario] | None = None
) -> DemoReport:
    driver = DemoDriver(runtime, progress)
    results = driver.run(scenarios if scenarios is not None else demo_scenarios())
    rows = rows_for(runtime, results)
    pending = [r.incident_id for r in rows if r.state == IncidentState.AWAITING_HUMAN.value]
    return DemoReport(results=results, rows=rows, pending=pending)
