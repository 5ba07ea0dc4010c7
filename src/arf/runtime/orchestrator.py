"""The lifecycle orchestrator: advances each incident one committed step at a time.

Every step reads the incident's last committed state, does its work, and commits the new state
together with its ledger entries in one transaction. A crash anywhere resumes from the last
commit. A step started but with no recorded outcome is "in doubt": it is recorded as such and
reconciled against the target's real state (applied: recorded as done and not sent again; not
applied: run; no visible trace: re-sent under the same idempotency key, which the platform
deduplicates; changed by someone else: diverged, never touched again, and escalated).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from pydantic import JsonValue

from arf.core.canonical import canonical_json
from arf.core.errors import (
    AuthError,
    ConcurrentUpdateError,
    ExecutionError,
    InputError,
    IntegrityError,
    StoreUnavailableError,
)
from arf.core.grounding import diagnosis_problems
from arf.core.ports import UnitOfWork
from arf.core.records import (
    Approval,
    ContextSnapshot,
    DecisionEnvelope,
    ExecutionRecord,
    Hypothesis,
    HypothesisCategory,
    Incident,
    IncidentState,
    Notification,
    Outcome,
    PlanStep,
    ProbeVerdict,
    RemediationPlan,
    Route,
    ServiceSLO,
    StepKind,
    StepStatus,
    Transition,
    Verdict,
    VerificationPhase,
    VerificationResult,
)
from arf.core.states import ACTIVE_STATES, TERMINAL_STATES, TRANSITION_KIND, is_allowed, transition
from arf.execution.executor import Reconciliation
from arf.governance.decide import DecisionRequest, decide, in_flight_holders
from arf.ledger import chain
from arf.oversight.approvals import check_approval, quorum_met, repeats_request
from arf.oversight.identities import SYSTEM_IDENTITY, Identity
from arf.runtime.container import Runtime
from arf.runtime.deferral import after_deferral, record_deferral
from arf.runtime.faults import FaultBoundary
from arf.runtime.leases import claim_targets
from arf.runtime.snapshots import build_snapshot, has_late_evidence, store_snapshot
from arf.runtime.step_log import Checkpoint, StepLog, StepRef, no_checkpoint

S = IncidentState


class Orchestrator:
    def __init__(self, runtime: Runtime, checkpoint: Checkpoint = no_checkpoint) -> None:
        self._rt = runtime
        self._checkpoint = checkpoint
        self._steps = StepLog(runtime, checkpoint)
        self._faults = FaultBoundary(runtime, self._give_up)
        self._handlers: Mapping[IncidentState, Callable[[Incident], bool]] = {
            S.OPEN: self._assemble,
            S.CONTEXT_READY: self._diagnose,
            S.DIAGNOSED: self._decide,
            S.DECIDED: self._route,
            S.AWAITING_HUMAN: self._check_expiry,
            S.READY: self._start_execution,
            S.EXECUTING: self._execute,
            S.VERIFYING: self._verify,
            S.ROLLING_BACK: self._rollback,
        }

    # ------------------------------------------------------------------ driving
    def run_pending(self, max_steps: int = 10_000) -> int:
        """Advance every active incident until none can move; returns the steps taken.

        Each incident is advanced inside its own error boundary: an error while advancing one
        incident is recorded against it (see `faults`), that incident is not tried again in
        this call, and every other incident proceeds.
        """
        steps = 0
        progressed = True
        faulted: set[str] = set()
        while progressed and steps < max_steps:
            progressed = False
            with self._rt.store.unit_of_work() as uow:
                active = [i.incident_id for i in uow.list_incidents(sorted(ACTIVE_STATES))]
            for incident_id in active:
                if incident_id in faulted:
                    continue
                try:
                    moved = self.step(incident_id)
                except ConcurrentUpdateError:
                    continue  # another writer moved it first: read it again next pass
                except StoreUnavailableError as exc:  # nobody's fault: stop, retry later
                    self._faults.store_unavailable(exc)
                    return steps
                except Exception as exc:  # noqa: BLE001 - one incident's fault stops no other
                    faulted.add(incident_id)
                    self._faults.record(incident_id, exc)
                    continue
                if moved:
                    progressed = True
                    steps += 1
        return steps

    def step(self, incident_id: str) -> bool:
        with self._rt.store.unit_of_work() as uow:
            incident = uow.get_incident(incident_id)
        handler = self._handlers.get(incident.state)
        return handler(incident) if handler else False

    # ------------------------------------------------------------------ commit helpers
    def _move(
        self,
        uow: UnitOfWork,
        incident: Incident,
        to_state: IncidentState,
        reason: str,
        actor: str = SYSTEM_IDENTITY,
        outcome: Outcome | None = None,
    ) -> Incident:
        changed, record = transition(
            incident, to_state, reason=reason, at=self._rt.clock.now(), actor=actor, outcome=outcome
        )
        uow.update_incident(changed, incident.revision)
        chain.append(uow, TRANSITION_KIND, incident.incident_id, record, self._rt.clock.now())
        if to_state in TERMINAL_STATES:
            uow.release_targets(incident.incident_id)  # its remediation is over
        return changed

    def _commit_move(
        self,
        incident: Incident,
        to_state: IncidentState,
        reason: str,
        outcome: Outcome | None = None,
    ) -> Incident:
        self._checkpoint(f"before-commit:{to_state.value}")
        with self._rt.store.unit_of_work() as uow:
            changed = self._move(uow, incident, to_state, reason, outcome=outcome)
        self._checkpoint(f"after-commit:{to_state.value}")
        return changed

    def _record(self, uow: UnitOfWork, kind: str, incident_id: str, payload: object) -> None:
        chain.append(uow, kind, incident_id, payload, self._rt.clock.now())

    def _notify(self, uow: UnitOfWork, incident: Incident, kind: str, summary: str) -> None:
        owners = sorted(
            {
                info.owner
                for name in incident.services
                if (info := self._rt.services.service(name)) is not None
            }
        ) or ["on-call"]
        notification = Notification(
            notification_id=self._rt.ids.new("ntf"),
            incident_id=incident.incident_id,
            kind=kind,
            audience=",".join(owners)[:200],
            summary=summary[:2000],
            at=self._rt.clock.now(),
        )
        uow.put_notification(notification)
        self._record(uow, "notification.sent", incident.incident_id, notification)

    def _escalate(
        self, incident: Incident, reason: str, outcome: Outcome = Outcome.ESCALATED
    ) -> bool:
        self._checkpoint("before-commit:escalated")
        with self._rt.store.unit_of_work() as uow:
            changed = self._move(uow, incident, S.ESCALATED, reason, outcome=outcome)
            self._notify(uow, changed, "escalation", reason)
        self._checkpoint("after-commit:escalated")
        return True

    def _give_up(self, uow: UnitOfWork, incident: Incident, reason: str) -> None:
        """The fault boundary's last resort: a person takes over. A remediation under way
        (executing, verifying) is rolled back first; the rollback escalates in turn."""
        if is_allowed(incident.state, S.ESCALATED):
            changed = self._move(uow, incident, S.ESCALATED, reason)
            self._notify(uow, changed, "escalation", reason)
        else:
            self._move(uow, incident, S.ROLLING_BACK, reason)

    def _why_rolling_back(self, incident_id: str) -> str | None:
        """The reason recorded when the incident entered `rolling_back`."""
        with self._rt.store.unit_of_work() as uow:
            entries = uow.ledger_for_incident(incident_id)
        for entry in reversed(entries):
            if entry.kind == TRANSITION_KIND:
                moved = Transition.model_validate(entry.payload)
                if moved.to_state is S.ROLLING_BACK:
                    return moved.reason or None
        return None

    # ------------------------------------------------------------------ 2 assemble
    def _assemble(self, incident: Incident) -> bool:
        now = self._rt.clock.now()
        if (now - incident.opened_at).total_seconds() < self._rt.settings.group_wait_s:
            return False  # let correlated signals arrive first (like Alertmanager's group_wait)
        with self._rt.store.unit_of_work() as uow:
            previous = uow.latest_snapshot(incident.incident_id)
        snapshot, late = build_snapshot(self._rt, incident, previous)
        self._checkpoint("before-commit:context_ready")
        with self._rt.store.unit_of_work() as uow:
            store_snapshot(uow, self._rt, snapshot, previous, late)
            self._move(uow, incident, S.CONTEXT_READY, "context snapshot assembled")
        return True

    def _reassess(self, incident: Incident, previous: ContextSnapshot, why: str = "") -> bool:
        """Late evidence after a diagnosis (or the end of a remediation it waited for): a new
        snapshot version, back to diagnosis (a pending approval request is withdrawn;
        approvals are bound to the decision)."""
        snapshot, late = build_snapshot(self._rt, incident, previous)
        why = why or f"{late} signal(s) arrived after context v{previous.version}"
        reason = f"{why}; reassessing with v{snapshot.version}"
        self._checkpoint("before-commit:context_ready")
        with self._rt.store.unit_of_work() as uow:
            store_snapshot(uow, self._rt, snapshot, previous, late)
            self._move(uow, incident, S.CONTEXT_READY, reason)
        return True

    # ------------------------------------------------------------------ 3 diagnose
    def _diagnose(self, incident: Incident) -> bool:
        with self._rt.store.unit_of_work() as uow:
            snapshot = uow.latest_snapshot(incident.incident_id)
        if snapshot is None:
            return self._escalate(incident, "no context snapshot was stored")
        if has_late_evidence(self._rt, incident, snapshot):
            previous = snapshot
            snapshot, late = build_snapshot(self._rt, incident, previous)
            with self._rt.store.unit_of_work() as uow:
                store_snapshot(uow, self._rt, snapshot, previous, late)
        leaked = self._rt.redactor.find(canonical_json(snapshot))
        if leaked:  # defence in depth: nothing unredacted reaches a reasoner
            return self._escalate(
                incident,
                "the context failed the redaction check (found "
                + ", ".join(sorted(set(leaked)))
                + "); nothing was sent to the reasoner",
            )
        try:
            diagnosis = self._rt.reasoner.diagnose(
                snapshot, self._rt.actions.specs(), self._rt.ids.new("dx")
            )
        except Exception as exc:  # noqa: BLE001 - a reasoner failure escalates; it never crashes the loop
            return self._escalate(
                incident, f"the reasoner failed: {exc.__class__.__name__}: {str(exc)[:300]}"
            )
        problems, plans = diagnosis_problems(diagnosis, snapshot, self._rt.specs)
        top = diagnosis.top_hypothesis()
        self._checkpoint("before-commit:diagnosed")
        with self._rt.store.unit_of_work() as uow:
            uow.put_diagnosis(diagnosis)
            self._record(
                uow,
                "diagnosis.recorded",
                incident.incident_id,
                {
                    "diagnosis_id": diagnosis.diagnosis_id,
                    "snapshot_hash": diagnosis.snapshot_hash,
                    "reasoner": diagnosis.reasoner,
                    "top_hypothesis": top.cause if top else None,
                    "confidence": top.confidence if top else None,
                    "plans": len(diagnosis.plans),
                    "grounded_plans": [p.plan_id for p in plans],
                    "grounding_problems": problems[:20],
                },
            )
            self._move(
                uow,
                incident,
                S.DIAGNOSED,
                f"diagnosed by {diagnosis.reasoner}: {top.cause if top else 'nothing'}",
            )
        return True

    # ------------------------------------------------------------------ 4 govern
    def _decide(self, incident: Incident) -> bool:
        with self._rt.store.unit_of_work() as uow:
            diagnosis = uow.latest_diagnosis(incident.incident_id)
            snapshot = uow.latest_snapshot(incident.incident_id)
            signal_count = len(uow.signals_for_incident(incident.incident_id))
        if diagnosis is None or snapshot is None:
            return self._escalate(incident, "diagnosis or snapshot missing")
        if has_late_evidence(self._rt, incident, snapshot):
            return self._reassess(incident, snapshot)
        problems, plans = diagnosis_problems(diagnosis, snapshot, self._rt.specs)
        top = diagnosis.top_hypothesis()
        if not plans:
            if top is not None and top.category is HypothesisCategory.TRANSIENT:
                self._commit_move(
                    incident, S.CLOSED, f"no action needed: {top.cause}", outcome=Outcome.NO_ACTION
                )
                return True
            return self._escalate(
                incident, _no_plan("no safe remediation plan", top, "rejected", problems)
            )
        plan = plans[0]
        now = self._rt.clock.now()
        history = self._rt.run_history.runs(now)
        if busy := in_flight_holders(history, incident.incident_id, (s.target for s in plan.steps)):
            record_deferral(self._rt, incident.incident_id, snapshot, busy)
            return False  # another incident's remediation is in flight on a target: wait
        waited = after_deferral(self._rt, incident.incident_id, snapshot)
        if waited == "settle":
            return False  # what it waited for just ended: its symptoms may be clearing
        if waited == "reassess":
            return self._reassess(incident, snapshot, "the remediation it waited for is over")
        runnable, refusals = [], []
        for candidate in plans:  # a plan whose preconditions fail now is never put to anyone
            refused = self._rt.executor.preflight(candidate.steps)
            refusals.extend(refused)
            if not refused:
                runnable.append(candidate)
        if not runnable:
            why = "no plan can run on its targets as they are now"
            return self._escalate(incident, _no_plan(why, top, "refused", refusals))
        plan = runnable[0]
        try:
            blast = self._rt.executor.estimate(plan.steps)
        except ExecutionError as exc:
            return self._escalate(incident, f"cannot size the plan: {exc}")
        with self._rt.store.unit_of_work() as uow:
            controls = uow.get_controls()
        decision = decide(
            DecisionRequest(
                decision_id=self._rt.ids.new("dec"),
                incident=incident,
                diagnosis=diagnosis,
                plan=plan,
                blast_radius=blast,
                signal_count=signal_count,
                now=now,
                history=history,
                controls=controls,
            ),
            self._rt.policy,
            self._rt.specs,
            self._rt.services,
        )
        self._checkpoint("before-commit:decided")
        with self._rt.store.unit_of_work() as uow:
            uow.put_decision(decision)
            self._record(
                uow,
                "decision.recorded",
                incident.incident_id,
                {
                    **_decision_summary(decision),
                    "rollback": plan.rollback,
                    "steps": [s.model_dump(mode="json") for s in plan.steps],
                    "policy_input": decision.policy_input,
                },
            )
            self._move(
                uow,
                incident,
                S.DECIDED,
                f"route {decision.route.value} (risk {decision.risk_score:.2f})",
            )
        return True

    # ------------------------------------------------------------------ 5 route
    def _route(self, incident: Incident) -> bool:
        with self._rt.store.unit_of_work() as uow:
            decisions = uow.decisions_for(incident.incident_id)
            approvals = uow.approvals_for(incident.incident_id)
        if not decisions:
            return self._escalate(incident, "decision missing")
        decision, previous = decisions[-1], (decisions[-2] if len(decisions) > 1 else None)
        if decision.shadow:
            return self._shadow(incident, decision)
        if decision.route is Route.DENY:
            rules = ", ".join(r.rule_id for r in decision.matched_rules if r.effect.value == "deny")
            return self._escalate(incident, f"policy denied the plan ({rules})")
        # A request sent before late evidence re-decided the incident is void (approvals bind
        # to the decision): the person hears of it unless the new request is the same one.
        earlier = previous is not None and previous.route in (Route.APPROVE, Route.ACKNOWLEDGE)
        if decision.route is Route.AUTONOMOUS:
            self._checkpoint("before-commit:ready")
            with self._rt.store.unit_of_work() as uow:
                changed = self._move(uow, incident, S.READY, "policy allows autonomous execution")
                if earlier:
                    self._notify(
                        uow,
                        changed,
                        "request_withdrawn",
                        "request withdrawn: new evidence"
                        " changed the decision; the plan runs without approval",
                    )
            self._checkpoint("after-commit:ready")
            return True
        self._checkpoint("before-commit:awaiting_human")
        with self._rt.store.unit_of_work() as uow:
            changed = self._move(
                uow,
                incident,
                S.AWAITING_HUMAN,
                f"{decision.route.value} required from {', '.join(decision.required_roles)}",
            )
            if not repeats_request(previous, decision, approvals):
                self._notify(
                    uow,
                    changed,
                    f"{decision.route.value}_request",
                    ("new evidence replaced the earlier request; " if earlier else "")
                    + f"{decision.route.value} needed for plan {decision.plan_hash[:12]}:"
                    f" arf approve {incident.incident_id}",
                )
        return True

    def _shadow(self, incident: Incident, decision: DecisionEnvelope) -> bool:
        """Shadow mode: record what would have run and close without executing anything."""
        plan, _, _, _ = self._load_plan(incident.incident_id)
        self._checkpoint("before-commit:closed")
        with self._rt.store.unit_of_work() as uow:
            self._record(
                uow,
                "shadow.would_execute",
                incident.incident_id,
                {
                    "decision_id": decision.decision_id,
                    "plan_hash": decision.plan_hash,
                    "route": decision.route.value,
                    "steps": [s.model_dump(mode="json") for s in plan.steps],
                },
            )
            self._move(
                uow,
                incident,
                S.CLOSED,
                f"shadow mode: would have routed {decision.route.value} and run"
                f" {', '.join(f'{s.action}({s.target})' for s in plan.steps)}; nothing executed",
                outcome=Outcome.SHADOWED,
            )
        return True

    def _held(self, incident: Incident, plan: RemediationPlan) -> bool:
        """True while the kill switch covers this incident: nothing more is executed."""
        with self._rt.store.unit_of_work() as uow:
            controls = uow.get_controls()
        names = [*incident.services, *(s.target for s in plan.steps)]
        return controls.execution_stopped(names) is not None

    def _check_expiry(self, incident: Incident) -> bool:
        with self._rt.store.unit_of_work() as uow:
            decision = uow.latest_decision(incident.incident_id)
            snapshot = uow.latest_snapshot(incident.incident_id)
        if snapshot is not None and has_late_evidence(self._rt, incident, snapshot):
            return self._reassess(incident, snapshot)
        if decision is None or decision.expires_at is None:
            return False
        if self._rt.clock.now() <= decision.expires_at:
            return False
        return self._escalate(incident, "nobody approved before the request expired")

    # ------------------------------------------------------------------ approvals
    def answer(
        self,
        incident_id: str,
        identity: Identity,
        verdict: Verdict,
        reason: str = "",
        plan_hash: str | None = None,
    ) -> Approval:
        """Record an approval or rejection by an authenticated person. Refusals raise AuthError
        and are themselves recorded in the ledger."""
        now = self._rt.clock.now()
        if verdict is Verdict.REJECT and not reason.strip():
            raise InputError("a rejection needs a reason")
        with self._rt.store.unit_of_work() as uow:
            incident = uow.get_incident(incident_id)
            decision = uow.latest_decision(incident_id)
            if incident.state is not S.AWAITING_HUMAN or decision is None:
                raise InputError(
                    f"incident {incident_id} is not waiting for approval"
                    f" (state {incident.state.value})"
                )
            existing = uow.approvals_for(incident_id)
        wanted = decision.plan_hash
        if plan_hash is not None:  # a prefix of at least 12 hex digits names the plan
            prefix_ok = len(plan_hash) >= 12 and decision.plan_hash.startswith(plan_hash)
            wanted = decision.plan_hash if prefix_ok else plan_hash
        problem = check_approval(
            decision, existing, identity, wanted, now, requested_by=incident.requested_by
        )
        if problem is not None:
            with self._rt.store.unit_of_work() as uow:
                self._record(
                    uow,
                    "approval.refused",
                    incident_id,
                    {
                        "identity": identity.name,
                        "verdict": verdict.value,
                        "decision_id": decision.decision_id,
                        "reason": problem,
                    },
                )
            raise AuthError(problem)
        approval = Approval(
            approval_id=self._rt.ids.new("apr"),
            incident_id=incident_id,
            decision_id=decision.decision_id,
            plan_hash=wanted,
            approver=identity.name,
            roles=tuple(sorted(identity.roles)),
            verdict=verdict,
            reason=reason[:2000],
            at=now,
        )
        with self._rt.store.unit_of_work() as uow:
            incident = uow.get_incident(incident_id)
            uow.put_approval(approval)
            self._record(uow, "approval.recorded", incident_id, approval)
            if verdict is Verdict.REJECT:
                changed = self._move(
                    uow,
                    incident,
                    S.ESCALATED,
                    f"rejected by {identity.name}: {reason}",
                    actor=identity.name,
                )
                self._notify(uow, changed, "escalation", f"plan rejected: {reason}")
            elif quorum_met(decision, [*existing, approval]):
                self._move(
                    uow, incident, S.READY, f"approved by {identity.name}", actor=identity.name
                )
        return approval

    # ------------------------------------------------------------------ 6 execute
    def _load_plan(
        self, incident_id: str
    ) -> tuple[RemediationPlan, DecisionEnvelope, list[Approval], list[ExecutionRecord]]:
        with self._rt.store.unit_of_work() as uow:
            decision = uow.latest_decision(incident_id)
            diagnosis = uow.latest_diagnosis(incident_id)
            approvals = list(uow.approvals_for(incident_id))
            executions = list(uow.executions_for(incident_id))
        if decision is None or diagnosis is None:
            raise IntegrityError("decision or diagnosis missing")
        plan = diagnosis.plan(decision.plan_id)
        if plan is None:
            raise IntegrityError(
                f"plan {decision.plan_id} is not in diagnosis {diagnosis.diagnosis_id}"
            )
        return plan, decision, approvals, executions

    def _start_execution(self, incident: Incident) -> bool:
        try:
            plan, decision, approvals, _ = self._load_plan(incident.incident_id)
            self._rt.executor.check_integrity(plan, decision, approvals)
        except (IntegrityError, ExecutionError) as exc:
            with self._rt.store.unit_of_work() as uow:
                self._record(uow, "execution.refused", incident.incident_id, {"reason": str(exc)})
            return self._escalate(incident, f"execution refused: {exc}")
        if self._held(incident, plan):
            return False  # the kill switch is on: the approved plan waits
        if claim_targets(self._rt, incident.incident_id, plan):
            return False  # another remediation holds a target: wait for it to finish
        self._commit_move(incident, S.EXECUTING, f"executing plan {decision.plan_hash[:12]}")
        return True

    def _execute(self, incident: Incident) -> bool:
        try:
            plan, decision, approvals, records = self._load_plan(incident.incident_id)
            self._rt.executor.check_integrity(plan, decision, approvals)
        except (IntegrityError, ExecutionError) as exc:
            with self._rt.store.unit_of_work() as uow:
                self._record(uow, "execution.refused", incident.incident_id, {"reason": str(exc)})
            self._commit_move(incident, S.ROLLING_BACK, f"execution stopped: {exc}")
            return True
        for index, step in enumerate(plan.steps):
            mine = [r for r in records if r.kind is StepKind.FORWARD and r.step_index == index]
            if any(r.status in _DONE for r in mine):
                continue
            failed = next((r for r in mine if r.status in _GIVEN_UP), None)
            if failed is not None:  # recorded, then stopped before the move: never retried
                self._commit_move(incident, S.ROLLING_BACK, f"step {index + 1} failed")
                return True
            if self._held(incident, plan):
                return False  # the kill switch: finished steps stay done, the rest waits
            lost = claim_targets(self._rt, incident.incident_id, plan)
            if lost:
                self._commit_move(incident, S.ROLLING_BACK, f"lease lost: {lost}")
                return True
            key = f"{incident.incident_id}/{plan.plan_hash()[:16]}/{index}/forward"
            ref = StepRef(
                incident.incident_id, decision.plan_hash, index, StepKind.FORWARD, step, key
            )
            started = next((r for r in mine if r.status is StepStatus.STARTED), None)
            if started is None:
                try:
                    pre_state = self._rt.executor.capture(step)
                except ExecutionError as exc:
                    if done := self._rt.executor.already_done(step):
                        self._steps.record(ref, StepStatus.SKIPPED, {}, f"nothing sent: {done}")
                        continue
                    self._steps.record(ref, StepStatus.FAILED, {}, str(exc))
                    self._commit_move(incident, S.ROLLING_BACK, f"precondition failed: {exc}")
                    return True
                self._steps.record(ref, StepStatus.STARTED, pre_state, "pre-state captured")
            else:
                pre_state = dict(started.pre_state)  # resumed after a crash: same key
                found = self._steps.settle(ref, pre_state)
                if found is Reconciliation.APPLIED:
                    continue
                if found is Reconciliation.DIVERGED:
                    self._commit_move(incident, S.ROLLING_BACK, f"step {index + 1} diverged")
                    return True
            try:
                self._checkpoint("before-effect:forward")
                detail = self._rt.executor.run_step(step, pre_state, key)
                self._checkpoint("after-effect:forward")
            except ExecutionError as exc:
                self._steps.record(ref, StepStatus.FAILED, pre_state, str(exc))
                self._commit_move(incident, S.ROLLING_BACK, f"step {index + 1} failed: {exc}")
                return True
            self._steps.record(ref, StepStatus.SUCCEEDED, pre_state, detail)
        self._commit_move(incident, S.VERIFYING, "every step executed")
        return True

    # ------------------------------------------------------------------ 7 verify
    def _slos(self, incident: Incident, steps: Sequence[PlanStep]) -> dict[str, ServiceSLO]:
        """The objectives verification samples: running services and datastores only (an IaC
        resource has no traffic to sample; its probe is the re-scan)."""
        names = set(incident.services) | {s.target for s in steps}
        return {
            name: info.slo
            for name in sorted(names)
            if (info := self._rt.services.service(name)) is not None and info.kind != "resource"
        }

    def _run_verification(
        self, incident: Incident, plan: RemediationPlan, phase: VerificationPhase
    ) -> VerificationResult:
        verdict, probes = self._rt.verifier.verify(
            plan.steps, self._rt.specs, self._slos(incident, plan.steps)
        )
        result = VerificationResult(
            verification_id=self._rt.ids.new("ver"),
            incident_id=incident.incident_id,
            plan_hash=plan.plan_hash(),
            phase=phase,
            verdict=verdict,
            probes=probes,
            at=self._rt.clock.now(),
        )
        return result

    def _store_verification(self, uow: UnitOfWork, result: VerificationResult) -> None:
        uow.put_verification(result)
        self._record(
            uow,
            "verification.recorded",
            result.incident_id,
            {
                "verification_id": result.verification_id,
                "plan_hash": result.plan_hash,
                "phase": result.phase.value,
                "verdict": result.verdict.value,
                "failing": [
                    f"{p.target}:{p.probe}:{p.verdict.value}"
                    for p in result.probes
                    if p.verdict is not ProbeVerdict.CONVERGED
                ][:20],
            },
        )

    def _verify(self, incident: Incident) -> bool:
        plan, _, _, _ = self._load_plan(incident.incident_id)
        result = self._run_verification(incident, plan, VerificationPhase.AFTER_EXECUTION)
        self._checkpoint("before-commit:verified")
        with self._rt.store.unit_of_work() as uow:
            self._store_verification(uow, result)
            if result.verdict is ProbeVerdict.CONVERGED:
                self._move(uow, incident, S.RESOLVED, "verified: every probe converged")
            else:
                self._move(
                    uow,
                    incident,
                    S.ROLLING_BACK,
                    f"verification {result.verdict.value}: rolling back",
                )
        return True

    # ------------------------------------------------------------------ rollback
    def _rollback(self, incident: Incident) -> bool:
        plan, decision, _, records = self._load_plan(incident.incident_id)
        if self._held(incident, plan):
            return False  # hands off while the kill switch is on, rollbacks included
        done_forward = {
            r.step_index: r
            for r in records
            if r.kind is StepKind.FORWARD and r.status is StepStatus.SUCCEEDED
        }
        started_forward = {
            r.step_index: r
            for r in records
            if r.kind is StepKind.FORWARD and r.status is StepStatus.STARTED
        }
        diverged = {
            r.step_index
            for r in records
            if r.kind is StepKind.FORWARD and r.status is StepStatus.DIVERGED
        }
        failures = [
            f"step {i + 1}: left alone, something else changed {plan.steps[i].target}"
            for i in sorted(diverged)
        ]
        for index in sorted((set(done_forward) | set(started_forward)) - diverged, reverse=True):
            step = plan.steps[index]
            mine = [r for r in records if r.kind is StepKind.ROLLBACK and r.step_index == index]
            if any(r.status in _GIVEN_UP or r.status is StepStatus.SUCCEEDED for r in mine):
                continue
            source = done_forward.get(index) or started_forward[index]
            key = f"{incident.incident_id}/{plan.plan_hash()[:16]}/{index}/rollback"
            ref = StepRef(
                incident.incident_id, decision.plan_hash, index, StepKind.ROLLBACK, step, key
            )
            if not any(r.status is StepStatus.STARTED for r in mine):
                self._steps.record(ref, StepStatus.STARTED, source.pre_state, "rolling back")
            else:
                found = self._steps.settle(ref, source.pre_state)
                if found is Reconciliation.DIVERGED:
                    failures.append(f"step {index + 1}: left alone, something else changed it")
                if found in (Reconciliation.APPLIED, Reconciliation.DIVERGED):
                    continue
            try:
                self._checkpoint("before-effect:rollback")
                detail = self._rt.executor.rollback_step(step, source.pre_state, key)
                self._checkpoint("after-effect:rollback")
                status = StepStatus.SUCCEEDED
            except ExecutionError as exc:
                detail, status = str(exc), StepStatus.FAILED
                failures.append(f"step {index + 1}: {exc}")
            self._steps.record(ref, status, source.pre_state, detail)
        result = self._run_verification(incident, plan, VerificationPhase.AFTER_ROLLBACK)
        reason, outcome = "remediation did not verify; rolled back", Outcome.ROLLED_BACK
        after = "after rollback the system is"
        if not done_forward and not started_forward:  # refused or not needed: nothing changed
            refused = [r.detail for r in records if r.status in _NOT_RUN][:1]
            why = refused or [self._why_rolling_back(incident.incident_id) or "no step ran"]
            reason = "nothing was changed: " + "; ".join(why)
            outcome, after = Outcome.ESCALATED, "the system is"
        if failures:
            reason += f"; rollback failed for {', '.join(failures)}"
        reason += f"; {after} {result.verdict.value}"
        self._checkpoint("before-commit:escalated")
        with self._rt.store.unit_of_work() as uow:
            self._store_verification(uow, result)
            changed = self._move(uow, incident, S.ESCALATED, reason, outcome=outcome)
            self._notify(uow, changed, "escalation", reason)
        return True


_GIVEN_UP = frozenset({StepStatus.FAILED, StepStatus.DIVERGED})
_DONE = frozenset({StepStatus.SUCCEEDED, StepStatus.SKIPPED})
_NOT_RUN = frozenset({StepStatus.FAILED, StepStatus.SKIPPED})


def _decision_summary(decision: DecisionEnvelope) -> dict[str, JsonValue]:
    return {
        "decision_id": decision.decision_id,
        "plan_id": decision.plan_id,
        "plan_hash": decision.plan_hash,
        "policy_version": decision.policy_version,
        "route": decision.route.value,
        "risk_score": decision.risk_score,
        "required_roles": list(decision.required_roles),
        "quorum": decision.quorum,
        "matched_rules": [f"{r.rule_id}:{r.effect.value}" for r in decision.matched_rules],
    }


def _no_plan(reason: str, top: Hypothesis | None, label: str, problems: Sequence[str]) -> str:
    """Why an incident escalates without a plan: the leading hypothesis and the first
    problems found with the plans."""
    if top is not None:
        reason += f"; leading hypothesis: {top.cause}"
    if problems:
        reason += f"; {label}: {'; '.join(problems[:3])}"
    return reason
