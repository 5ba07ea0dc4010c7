"""The systems compared on the same episodes: manual on-call, static runbooks, and ARF.

- Manual on-call: every alert of warning severity or above pages the person (Alertmanager
  grouped by alert name and service, so each distinct alert pages once; a latency SLO breach
  is a warning here and must reach someone); scanner findings become tickets. The
  person follows `HumanModel`: acknowledge, diagnose, sometimes a wrong fix first, then the
  right one.
- Static runbooks: alert name -> one fixed action on the alerting service, run at once with
  no correlation and no policy; if an alert still fires `runbook_wait_min` after its action,
  the person is paged and takes over.
- ARF: the real control plane (ingestion, correlation, context, reasoner, governance,
  execution, verification, ledger) on the same platform. Approval and acknowledgement
  requests reach the person, who answers after acknowledging and reading the explanation;
  an escalation hands the fault to the person, as on-call would receive it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial

from arf.bench.episode import (
    Episode,
    Responder,
    RunRecord,
    alert_key,
    apply_action,
    count_alerts,
    false_and_tempting,
)
from arf.bench.scenarios import UNFAMILIAR
from arf.core.errors import ArfError
from arf.core.ports import Reasoner, UnitOfWork
from arf.core.records import (
    ActionSpec,
    ContextSnapshot,
    DecisionEnvelope,
    Diagnosis,
    IncidentState,
    RemediationPlan,
    Route,
    StepKind,
    StepStatus,
    Verdict,
)
from arf.core.states import TERMINAL_STATES
from arf.oversight.identities import Identity
from arf.runtime.audit import compliance
from arf.runtime.container import Runtime
from arf.runtime.ingest import Ingestor
from arf.runtime.notifications import deliver_pending
from arf.runtime.orchestrator import Orchestrator
from arf.sim.model import Emission

# Static runbooks as teams commonly write them: one action per alert name.
RUNBOOKS: Mapping[str, str] = {
    "HighErrorRate": "rollback_deploy",
    "HighLatency": "restart_service",
    "ServiceDown": "restart_service",
    "KubePodCrashLooping": "restart_service",
    "KubeContainerOOMKilled": "increase_memory_limit",
    "DatabaseDiskErrors": "failover_database",
    "KubePodNotReady": "restart_service",
    # the standard pack's remedies, as a team that has those actions would write them
    "CPUThrottlingHigh": "raise_cpu_limit",
    "KubeHpaMaxedOut": "raise_hpa_ceiling",
    "NodeFilesystemAlmostOutOfSpace": "free_disk",
    "BlackboxSslCertificateExpired": "renew_certificate",
    "PostgresqlAuthenticationFailures": "recreate_db_user",
}


PAGING = frozenset({"critical", "warning"})


def _has_finding(emissions: Sequence[Emission]) -> bool:
    return any(e.format == "checkov" for e in emissions)


def _record(
    episode: Episode,
    system: str,
    executed: Sequence[tuple[str, str]],
    pages: int,
    governance: tuple[int, int, int, int] = (0, 0, 0, 0),
    extra_false: int = 0,
    overhead_ms: tuple[float, ...] = (),
) -> RunRecord:
    """`governance`: wrong plans proposed, of them blocked, executions audited, compliant."""
    wrong, tempting = false_and_tempting(executed, episode.injected)
    detected = episode.tally.detected_at
    unsafe, blocked, audited, compliant = governance
    return RunRecord(
        system=system,
        scenario=episode.spec.name,
        scenario_class=episode.spec.scenario_class,
        seed=episode.seed,
        detected_s=None if detected is None else detected - episode.injected.started_at,
        resolved_s=None,
        expects_remediation=episode.spec.expected.remediate or episode.spec.expected.escalate,
        human_minutes=episode.tally.human_minutes,
        pages=pages,
        raw_alerts=episode.raw_alerts,
        executed=tuple(f"{a} {t}" for a, t in executed),
        false_remediations=wrong + extra_false,
        tempting_taken=tempting,
        unsafe_proposed=unsafe,
        unsafe_blocked=blocked,
        audited=audited,
        compliant=compliant,
        escalated=episode.tally.escalated,
        overhead_ms=overhead_ms,
    )


class ManualSystem:
    name = "manual on-call"

    def begin(self, episode: Episode) -> None:
        self._episode = episode
        self._responder = Responder(episode, novel=episode.spec.scenario_class in UNFAMILIAR)
        self._paged: set[str] = set()

    def observe(self, emissions: Sequence[Emission]) -> None:
        for alert in count_alerts(emissions):
            name, service, severity = alert_key(alert)
            if severity in PAGING and f"{name}/{service}" not in self._paged:
                self._paged.add(f"{name}/{service}")
                self._episode.tally.detect(self._episode.now)
                self._responder.engage("page")
        if _has_finding(emissions) and not self._episode.fixed():
            self._episode.tally.detect(self._episode.now)
            self._responder.engage("ticket")

    def act(self) -> None:
        self._responder.act()

    def idle(self) -> bool:
        return not self._responder.waiting

    def score(self, episode: Episode) -> RunRecord:
        return _record(episode, self.name, episode.tally.executed, len(self._paged))


class RunbookSystem:
    name = "static runbooks"

    def __init__(self, wait_min: float) -> None:
        self._wait_s = 60 * wait_min

    def begin(self, episode: Episode) -> None:
        self._episode = episode
        self._responder = Responder(episode, novel=episode.spec.scenario_class in UNFAMILIAR)
        self._ran: dict[str, float] = {}  # alert -> when its runbook ran
        self._firing: set[str] = set()
        self._paged: set[str] = set()

    def observe(self, emissions: Sequence[Emission]) -> None:
        episode = self._episode
        for emission in emissions:
            if emission.format != "alertmanager" or not isinstance(emission.payload, dict):
                continue
            alerts = emission.payload.get("alerts")
            for alert in alerts if isinstance(alerts, list) else []:
                if not isinstance(alert, dict):
                    continue
                name, service, _ = alert_key(alert)
                key = f"{name}/{service}"
                if alert.get("status") != "firing":
                    self._firing.discard(key)
                    continue
                self._firing.add(key)
                if key in self._ran or name not in RUNBOOKS:
                    continue
                episode.tally.detect(episode.now)
                self._ran[key] = episode.now
                action = RUNBOOKS[name]
                idem = f"runbook-{episode.spec.name}-{episode.seed}-{len(self._ran)}"
                if apply_action(episode.platform, action, service, idem):
                    episode.tally.executed.append((action, service))
        if _has_finding(emissions) and not episode.fixed():
            episode.tally.detect(episode.now)
            self._responder.engage("ticket")

    def act(self) -> None:
        now = self._episode.now
        stuck = [k for k in self._firing if k in self._ran and now - self._ran[k] >= self._wait_s]
        if stuck and not self._responder.engaged:
            self._paged.update(stuck)
            self._responder.engage("page")
        elif self._responder.waiting:
            self._paged.update(self._firing)
        self._responder.act()

    def idle(self) -> bool:
        return not self._responder.waiting and not self._firing

    def score(self, episode: Episode) -> RunRecord:
        return _record(episode, self.name, episode.tally.executed, len(self._paged))


class TimedReasoner:
    """Wraps the configured reasoner to separate its time from the control plane's own."""

    def __init__(self, inner: Reasoner) -> None:
        self._inner = inner
        self.seconds = 0.0

    @property
    def name(self) -> str:
        return self._inner.name

    def diagnose(
        self, snapshot: ContextSnapshot, catalog: Sequence[ActionSpec], diagnosis_id: str
    ) -> Diagnosis:
        started = time.perf_counter()
        try:
            return self._inner.diagnose(snapshot, catalog, diagnosis_id)
        finally:
            self.seconds += time.perf_counter() - started


def _decided_plan(
    uow: UnitOfWork, incident_id: str
) -> tuple[DecisionEnvelope | None, RemediationPlan | None]:
    """The incident's latest decision and the plan it decided on, if any."""
    decision = uow.latest_decision(incident_id)
    diagnosis = uow.latest_diagnosis(incident_id)
    return decision, diagnosis.plan(decision.plan_id) if diagnosis and decision else None


REVIEWERS = (
    Identity("bench-oncall-1", frozenset({"approver", "sre", "security", "operator"})),
    Identity("bench-oncall-2", frozenset({"approver", "sre", "security", "operator"})),
)


class ArfSystem:
    def __init__(self, name: str, runtime: Runtime) -> None:
        self.name = name
        self._rt = runtime
        self._timer = TimedReasoner(runtime.reasoner)
        runtime.reasoner = self._timer
        self._ingestor = Ingestor(runtime)
        self._orchestrator = Orchestrator(runtime)

    def begin(self, episode: Episode) -> None:
        self._episode = episode
        self._since = datetime.fromtimestamp(episode.now - 900, UTC)
        self._responder = Responder(episode, novel=episode.spec.scenario_class in UNFAMILIAR)
        self._reviews: dict[str, float] = {}
        self._answered: set[str] = set()
        self._cpu = 0.0
        self._rejected = 0

    def _timed(self, work: Callable[[], object]) -> None:
        started, reasoning = time.perf_counter(), self._timer.seconds
        try:
            work()
        finally:
            self._cpu += (time.perf_counter() - started) - (self._timer.seconds - reasoning)

    def observe(self, emissions: Sequence[Emission]) -> None:
        def ingest() -> None:
            for emission in emissions:
                try:
                    self._ingestor.ingest(emission.format, emission.payload)
                except ArfError:
                    continue  # a rejected payload is counted by ingestion itself

        self._timed(ingest)

    def _incidents(self) -> list[tuple[str, IncidentState, datetime]]:
        with self._rt.store.unit_of_work() as uow:
            return [
                (i.incident_id, i.state, i.opened_at)
                for i in uow.list_incidents(opened_since=self._since)
            ]

    def act(self) -> None:
        def lifecycle() -> None:
            self._orchestrator.run_pending()
            deliver_pending(self._rt)

        self._timed(lifecycle)
        episode, person = self._episode, self._episode.person
        now = episode.now
        for incident_id, state, opened_at in self._incidents():
            episode.tally.detect(opened_at.timestamp())
            if state is IncidentState.AWAITING_HUMAN and incident_id not in self._reviews:
                minutes = person.minutes(person.model.acknowledge_min) + person.minutes(
                    person.model.review_min
                )
                self._reviews[incident_id] = now + 60 * minutes
                episode.tally.human_minutes += minutes
            due = self._reviews.get(incident_id)
            if (
                state is IncidentState.AWAITING_HUMAN
                and due is not None
                and due <= now
                and incident_id not in self._answered
            ):
                self._answered.add(incident_id)
                self._timed(partial(self._review, incident_id))
            if state is IncidentState.ESCALATED and not episode.fixed():
                episode.tally.escalated = True
                self._responder.engage("escalation")
        self._responder.act()

    def _review(self, incident_id: str) -> None:
        """The reviewer approves a plan that undoes the fault; otherwise rejects it (and, at the
        model's error rate, approves a wrong plan it should have rejected)."""
        episode = self._episode
        with self._rt.store.unit_of_work() as uow:
            _, plan = _decided_plan(uow, incident_id)
        steps = {(s.action, s.target) for s in plan.steps} if plan else set()
        right = bool(steps) and steps <= episode.injected.correct
        approve = right or episode.person.errs()
        for reviewer in REVIEWERS:
            try:
                if approve:
                    self._orchestrator.answer(incident_id, reviewer, Verdict.APPROVE)
                else:
                    self._rejected += 1
                    self._orchestrator.answer(
                        incident_id, reviewer, Verdict.REJECT, "the plan does not fix the fault"
                    )
            except ArfError:
                break  # already decided (quorum reached) or no longer waiting
            with self._rt.store.unit_of_work() as uow:
                if uow.get_incident(incident_id).state is not IncidentState.AWAITING_HUMAN:
                    break
        self._orchestrator.run_pending()
        deliver_pending(self._rt)

    def idle(self) -> bool:
        states = [state for _, state, _ in self._incidents()]
        active = any(s not in TERMINAL_STATES for s in states)
        return not active and not self._responder.waiting

    def score(self, episode: Episode) -> RunRecord:
        executed: list[tuple[str, str]] = []
        rolled_back: list[tuple[str, str]] = []
        unsafe = blocked = audited = compliant = pages = 0
        ids = [incident_id for incident_id, _, _ in self._incidents()]
        with self._rt.store.unit_of_work() as uow:
            for incident_id in ids:
                runs = uow.executions_for(incident_id)
                forward = [
                    (e.action, e.target)
                    for e in runs
                    if e.kind is StepKind.FORWARD and e.status is StepStatus.SUCCEEDED
                ]
                executed += forward
                rolled_back += [
                    (e.action, e.target)
                    for e in runs
                    if e.kind is StepKind.ROLLBACK and e.status is StepStatus.SUCCEEDED
                ]
                notes = uow.notifications_for(incident_id)
                pages += len(notes)
                if forward:
                    audited += 1
                    report = compliance(uow.ledger_for_incident(incident_id))
                    compliant += 1 if report.executed and not report.problems else 0
                decision, plan = _decided_plan(uow, incident_id)
                if plan is None or decision is None:
                    continue
                steps = [(s.action, s.target) for s in plan.steps]
                if steps and not set(steps) <= episode.injected.correct:
                    unsafe += 1
                    ran = decision.route is not Route.DENY and any(s in forward for s in steps)
                    blocked += 0 if ran else 1
        executed += [s for s in episode.tally.executed if s not in executed]
        # a correct step that had to be rolled back is a false remediation as well
        undone = sum(1 for s in rolled_back if s in episode.injected.correct)
        overhead = tuple([1000 * self._cpu / len(ids)] * len(ids)) if ids else ()
        return _record(
            episode,
            self.name,
            executed,
            pages,
            governance=(unsafe, blocked, audited, compliant),
            extra_false=undone,
            overhead_ms=overhead,
        )
