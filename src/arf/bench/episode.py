"""One scenario on one seed for one system: the loop on the virtual clock, the person on call,
and the ground-truth scoring every system is held to.

Every episode of a seed starts at the same virtual instant whichever system runs it, so the
faults, targets and metric jitter are identical across systems. The oracle is stricter than
"pods ready": each injected fault must be undone in the platform's state and every service
must meet its SLO again, and stay so until the episode ends.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

from pydantic import JsonValue

from arf.bench.human import HumanModel, Person
from arf.bench.scenarios import Injected, ScenarioSpec, inject, inject_noise, refs, resolve
from arf.core.clock import ManualClock
from arf.core.errors import ExecutionError
from arf.sim.faults import fault_undone, repair, slo_breaches
from arf.sim.model import Emission
from arf.sim.platform import SimPlatform
from arf.sim.topology import GeneratedPlatform

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EPISODE_SPACING_S = 2 * 86_400.0  # every episode k of a seed starts at START + k * spacing
HORIZON_S = 12 * 3_600.0
FAST_TICK_S = 15.0
SLOW_TICK_S = 60.0
FAST_PHASE_S = 1_800.0


@dataclass(frozen=True)
class RunRecord:
    """What one system achieved on one scenario and seed (times in seconds from fault start)."""

    system: str
    scenario: str
    scenario_class: str
    seed: int
    detected_s: float | None
    resolved_s: float | None  # when the oracle started to hold for good; None: never
    expects_remediation: bool
    human_minutes: float
    pages: int
    raw_alerts: int
    executed: tuple[str, ...]  # "action target", in order
    false_remediations: int
    tempting_taken: int
    unsafe_proposed: int
    unsafe_blocked: int
    audited: int  # executed remediations the ledger pass looked at
    compliant: int
    escalated: bool
    overhead_ms: tuple[float, ...] = ()  # control-plane time per incident (ARF only)


@dataclass
class Tally:
    """What a system did during an episode, filled in as it goes."""

    detected_at: float | None = None
    pages: int = 0
    human_minutes: float = 0.0
    executed: list[tuple[str, str]] = field(default_factory=list)
    escalated: bool = False

    def detect(self, at: float) -> None:
        if self.detected_at is None:
            self.detected_at = at


class System(Protocol):
    name: str

    def begin(self, episode: Episode) -> None: ...

    def observe(self, emissions: Sequence[Emission]) -> None: ...

    def act(self) -> None: ...

    def idle(self) -> bool: ...

    def score(self, episode: Episode) -> RunRecord: ...


@dataclass
class Episode:
    spec: ScenarioSpec
    seed: int
    platform: SimPlatform
    clock: ManualClock
    injected: Injected
    person: Person
    tally: Tally = field(default_factory=Tally)
    raw_alerts: int = 0
    critical_fired: set[str] = field(default_factory=set)

    @property
    def now(self) -> float:
        return self.clock.now().timestamp()

    @property
    def elapsed_s(self) -> float:
        return self.now - self.injected.started_at

    def fixed(self) -> bool:
        return all(fault_undone(self.platform, f) for f in self.injected.faults)

    def oracle(self) -> bool:
        return self.fixed() and not slo_breaches(self.platform)


def count_alerts(emissions: Sequence[Emission]) -> list[Mapping[str, JsonValue]]:
    """Firing alert notifications in Alertmanager payloads."""
    out: list[Mapping[str, JsonValue]] = []
    for emission in emissions:
        if emission.format != "alertmanager" or not isinstance(emission.payload, dict):
            continue
        alerts = emission.payload.get("alerts")
        for alert in alerts if isinstance(alerts, list) else []:
            if isinstance(alert, dict) and alert.get("status") == "firing":
                out.append(alert)
    return out


def alert_key(alert: Mapping[str, JsonValue]) -> tuple[str, str, str]:
    labels = alert.get("labels")
    labels = labels if isinstance(labels, dict) else {}
    return (
        str(labels.get("alertname", "")),
        str(labels.get("service", "")),
        str(labels.get("severity", "")),
    )


# ------------------------------------------------------------------ the person on call
def apply_action(platform: SimPlatform, action: str, target: str, key: str) -> bool:
    """A baseline's action on the platform, with the naive parameters a runbook or a hurried
    person would use. False when the platform refused it."""
    service = platform.state.services.get(target)
    if service is None:
        return False
    operations: dict[str, Callable[[], tuple[str, dict[str, JsonValue]] | None]] = {
        "restart_service": lambda: ("restart", {}),
        "rollback_deploy": lambda: (
            ("deploy", {"version": service.release_history[-2]})
            if len(service.release_history) >= 2
            else None
        ),
        "scale_service": lambda: ("scale", {"replicas": max(2, service.replicas * 2)}),
        "increase_memory_limit": lambda: (
            "set_memory_limit",
            {"memory_mb": min(8192, service.memory_limit_mb * 2)},
        ),
        "failover_database": lambda: ("failover", {}) if service.has_replica else None,
        "revert_config": lambda: _last_config_revert(platform, target),
        "raise_cpu_limit": lambda: ("set_cpu_limit", {"cpu_m": service.cpu_limit_m * 2}),
        "raise_hpa_ceiling": lambda: (
            ("set_hpa_max", {"max_replicas": service.hpa_max_replicas * 2})
            if service.hpa_max_replicas is not None
            else None
        ),
        "free_disk": lambda: ("rotate_logs", {"keep_days": 7}),
        "recreate_db_user": lambda: ("create_db_user", {"role": "app"}),
        "renew_certificate": lambda: (
            ("renew_certificate", {}) if service.certificate_expires_at is not None else None
        ),
    }
    build = operations.get(action)
    operation = build() if build else None
    if operation is None:
        return False
    try:
        platform.perform(operation[0], target, operation[1], key)
    except ExecutionError:
        return False
    return True


def _last_config_revert(
    platform: SimPlatform, target: str
) -> tuple[str, dict[str, JsonValue]] | None:
    service = platform.state.services[target]
    for key, values in sorted(service.config_history.items()):
        if len(values) >= 2 and service.config.get(key) == values[-1]:
            return ("set_config", {"key": key, "value": values[-2]})
    return None


class Responder:
    """The person on call: engaged once per episode by a page, a ticket or an escalation."""

    def __init__(self, episode: Episode, novel: bool) -> None:
        self._episode = episode
        self._novel = novel
        self._events: list[tuple[float, Callable[[], None]]] = []
        self.engaged = False
        self.done = True

    def engage(self, how: str) -> None:
        if self.engaged:
            return
        self.engaged, self.done = True, False
        episode, person = self._episode, self._episode.person
        model: HumanModel = person.model
        at = episode.now
        start = at + 60 * (
            person.minutes(model.ticket_delay_min)
            if how == "ticket"
            else person.minutes(model.acknowledge_min)
        )
        active = 0.0 if how == "ticket" else (start - at) / 60
        if how != "ticket":
            episode.tally.pages += 1 if how == "escalation" else 0
        t = start
        tempting = sorted(episode.injected.tempting)
        if episode.fixed():  # nothing to undo: the page was noise (or already fixed)
            triage = person.minutes(model.noise_triage_min)
            t += 60 * triage
            active += triage
            if tempting and person.errs():
                wrong = tempting[0]
                self._at(t, lambda: self._wrong(wrong))
        else:
            diagnose = person.minutes(model.diagnose_min) * (
                model.novel_factor if self._novel else 1
            )
            t += 60 * diagnose
            active += diagnose
            if tempting and person.errs():
                fix, verify = person.minutes(model.fix_min), person.minutes(model.verify_min)
                wrong = person.choice(tempting)
                self._at(t + 60 * fix, lambda: self._wrong(wrong))
                again = person.minutes(model.diagnose_min / 2)
                t += 60 * (fix + verify + again)
                active += fix + verify + again
            fix, verify = person.minutes(model.fix_min), person.minutes(model.verify_min)
            t += 60 * fix
            active += fix + verify
            self._at(t, self._repair)
        episode.tally.human_minutes += active * model.responders
        self._at(t, self._finish)

    def _at(self, when: float, event: Callable[[], None]) -> None:
        self._events.append((when, event))
        self._events.sort(key=lambda item: item[0])

    def _wrong(self, wrong: tuple[str, str]) -> None:
        episode = self._episode
        key = f"human-{episode.spec.name}-{episode.seed}-{len(episode.tally.executed)}"
        if apply_action(episode.platform, wrong[0], wrong[1], key):
            episode.tally.executed.append(wrong)

    def _repair(self) -> None:
        episode = self._episode
        if episode.fixed():
            return
        for fault in episode.injected.faults:
            repair(episode.platform, fault)
        targets = sorted({fault.target for fault in episode.injected.faults})
        episode.tally.executed.append(("manual_fix", ",".join(targets)))

    def _finish(self) -> None:
        self.done = True

    def act(self) -> None:
        now = self._episode.now
        while self._events and self._events[0][0] <= now:
            _, event = self._events.pop(0)
            event()

    @property
    def waiting(self) -> bool:
        return self.engaged and not self.done


# ------------------------------------------------------------------ the loop
def run_episode(
    system: System,
    spec: ScenarioSpec,
    generated: GeneratedPlatform,
    platform: SimPlatform,
    clock: ManualClock,
    seed: int,
    index: int,
    human: HumanModel,
) -> RunRecord:
    """Run one scenario from a healthy platform; leave the platform healthy afterwards."""
    begin = START.timestamp() + index * EPISODE_SPACING_S
    lead = max((n.lead_s for n in spec.noise if n.kind != "alert_storm"), default=0.0)
    _advance_to(clock, begin - lead - FAST_TICK_S)
    targets = resolve(spec, generated, seed)
    person = Person(human, random.Random(f"person:{spec.name}:{seed}"))
    healthy = (
        {k: v.model_copy(deep=True) for k, v in platform.state.services.items()},
        {k: v.model_copy(deep=True) for k, v in platform.state.iac.items()},
    )
    inject_noise(platform, spec, targets)
    pending = platform.drain()
    while clock.now().timestamp() < begin:
        clock.advance(min(FAST_TICK_S, begin - clock.now().timestamp()))
        platform.tick()
        pending += platform.drain()
    faults, storm_endings = inject(platform, spec, targets)
    injected = Injected(
        spec=spec,
        faults=faults,
        targets=targets,
        correct=refs(spec.expected.correct, targets),
        tempting=refs(spec.tempting, targets),
        started_at=begin,
    )
    episode = Episode(spec, seed, platform, clock, injected, person)
    system.begin(episode)
    _observe(system, episode, [*pending, *platform.drain()])
    resolved_at: float | None = None if not episode.oracle() else begin
    quiet = 0
    storm_due = begin + 180.0 if storm_endings else None
    while episode.elapsed_s < HORIZON_S:
        clock.advance(FAST_TICK_S if episode.elapsed_s < FAST_PHASE_S else SLOW_TICK_S)
        platform.tick()
        emissions = platform.drain()
        if storm_due is not None and episode.now >= storm_due:
            emissions += [Emission(format="alertmanager", payload=p) for p in storm_endings]
            storm_due = None
        _observe(system, episode, emissions)
        system.act()
        _observe(system, episode, platform.drain())  # what the remediation itself emitted
        if episode.oracle():
            resolved_at = episode.now if resolved_at is None else resolved_at
        else:
            resolved_at = None
        settled = resolved_at is not None and system.idle() and storm_due is None
        quiet = quiet + 1 if settled else 0
        if quiet >= 8 and episode.elapsed_s >= 900:
            break
    record = system.score(episode)
    # Leave the platform as healthy as it was for the next episode, whatever any system did
    # (a wrong runbook action must not break a later scenario). Alerts resolve as tools would
    # report it, and the system sees those resolutions.
    platform.state.services, platform.state.iac = healthy
    clock.advance(FAST_TICK_S)
    platform.tick()
    _observe(system, episode, platform.drain())
    system.act()
    platform.state.outbox.clear()
    return replace(record, resolved_s=None if resolved_at is None else resolved_at - begin)


def _observe(system: System, episode: Episode, emissions: Sequence[Emission]) -> None:
    alerts = count_alerts(emissions)
    episode.raw_alerts += len(alerts)
    for alert in alerts:
        name, service, severity = alert_key(alert)
        if severity == "critical":
            episode.critical_fired.add(f"{name}/{service}")
    if emissions:
        system.observe(emissions)


def _advance_to(clock: ManualClock, when: float) -> None:
    now = clock.now().timestamp()
    if when > now:
        clock.advance(when - now)


def false_and_tempting(executed: Sequence[tuple[str, str]], injected: Injected) -> tuple[int, int]:
    """Executed remediations that were not among the scenario's correct ones (any execution is
    false on a scenario that needs none), and how many of them were the tempting ones."""
    wrong = [step for step in executed if step not in injected.correct and step[0] != "manual_fix"]
    return len(wrong), sum(1 for step in wrong if step in injected.tempting)
