"""The deterministic evidence reasoner.

It explains failures from the evidence in a snapshot, in this order:
1. change correlation with a causal check: a change on a failing service, shortly before its
   symptoms began, explains them; the remedy is the catalogued action that declares it undoes
   that kind of change (`remedies.changes`), with its parameters read from the change. A change
   on a service that is not failing, or one that came after the symptoms, is not blamed
   (recorded as rejected);
2. scanner findings, fixed by the action that declares the finding id (`remedies.findings`);
3. runbooks (`reasoning/knowledge.py`: a team's, then the packaged ones) whose matchers the
   failing service's alerts, events, log lines, findings or changes match; where none does,
   an action that declares it remedies the firing alerts (`remedies.alerts`), proposed below
   the autonomy threshold so a person confirms it;
4. nothing firing any more: a transient, self-resolved blip (no action).
No action name is written here: the catalog says what each action remedies.
Similar past incidents in the snapshot then move the confidence of each candidate: the same
action on the same target resolved before (a little up) or was rolled back (more down).
Every hypothesis cites evidence ids from the snapshot. The reasoner has no side effects.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import JsonValue

from arf.core.clock import Clock
from arf.core.grounding import param_problems
from arf.core.records import (
    ActionParam,
    ActionSpec,
    ChangeRemedy,
    ContextSnapshot,
    Diagnosis,
    Evidence,
    Hypothesis,
    HypothesisCategory,
    Outcome,
    PastIncident,
    PlanStep,
    RemediationPlan,
    RiskClass,
    Severity,
    SignalKind,
    SignalStatus,
    Support,
)
from arf.reasoning.knowledge import KnowledgeBase, Runbook


@dataclass
class _Candidate:
    hypothesis: Hypothesis
    steps: tuple[PlanStep, ...]
    impact: str


# Kinds of change the engine judges as causes even when no catalogued action undoes them
# (the hypothesis then explains the escalation); any other kind is judged when an action
# declares it undoes it.
CAUSAL_CHANGES = frozenset({"deploy", "config", "scale"})
# A proposal found only through what an action declares it remedies (no knowledge entry,
# no change) stays below the default policy's autonomy threshold: a person confirms it.
CATALOG_CONFIDENCE = 0.45

HISTORY_SUCCESS = 0.05  # per similar incident the same action resolved, times its similarity
HISTORY_FAILURE = 0.15  # per similar incident where it was rolled back or escalated


def _weigh_history(
    candidates: Sequence[_Candidate], similar: Sequence[PastIncident]
) -> tuple[list[_Candidate], list[str]]:
    """Similar-incident memory: past outcomes of the same action on the same target move
    confidence (success raises it a little, failure lowers it more)."""
    weighed: list[_Candidate] = []
    notes: list[str] = []
    for candidate in candidates:
        if not candidate.steps or not similar:
            weighed.append(candidate)
            continue
        shift = 0.0
        for step in candidate.steps:
            label = f"{step.action}({step.target})"
            for past in similar:
                if label not in past.actions:
                    continue
                if past.outcome is Outcome.RESOLVED:
                    shift += HISTORY_SUCCESS * past.similarity
                elif past.outcome in (Outcome.ROLLED_BACK, Outcome.ESCALATED):
                    shift -= HISTORY_FAILURE * past.similarity
        if shift == 0.0:
            weighed.append(candidate)
            continue
        before = candidate.hypothesis.confidence
        after = round(min(0.99, max(0.05, before + shift)), 3)
        notes.append(
            f"history: past outcomes of {', '.join(s.action for s in candidate.steps)} on"
            f" {', '.join(s.target for s in candidate.steps)} moved confidence"
            f" {before:.2f} -> {after:.2f}"
        )
        weighed.append(
            _Candidate(
                candidate.hypothesis.model_copy(update={"confidence": after}),
                candidate.steps,
                candidate.impact,
            )
        )
    return weighed, notes


def _reverted_pairs(changes: Sequence[Evidence], own_authors: frozenset[str]) -> dict[str, str]:
    """Changes that a later change on the same service undid (back from its `to` to its
    `from`, the same key for configuration), and those later reverts, each with why it is no
    candidate for rolling back. A change that undoes one of ARF's own (verified) fixes is no
    such revert: it brings back the value the fix removed, and stays a candidate."""
    found: dict[str, str] = {}
    ordered = sorted(changes, key=lambda e: e.observed_at)
    for index, later in enumerate(ordered):
        kind, key = later.attributes.get("change_type"), later.attributes.get("key")
        back_to, back_from = later.attributes.get("to"), later.attributes.get("from")
        if later.service is None or back_to is None or back_from is None:
            continue
        for earlier in reversed(ordered[:index]):
            if earlier.evidence_id in found or (
                earlier.service,
                earlier.attributes.get("change_type"),
                earlier.attributes.get("key"),
            ) != (later.service, kind, key):
                continue
            if earlier.attributes.get("author") in own_authors:
                break  # ARF's fix, undone by a later change: that change is the suspect
            if (earlier.attributes.get("from"), earlier.attributes.get("to")) == (
                back_to,
                back_from,
            ):
                found[earlier.evidence_id] = f"already undone by a later change ({back_to})"
                found[later.evidence_id] = (
                    f"a revert of an earlier change; undoing it would bring back {back_from}"
                )
            break  # only the latest earlier change of the same thing can be the one undone
    return found


def _undoers(specs: Mapping[str, ActionSpec], kind: str) -> list[tuple[ActionSpec, ChangeRemedy]]:
    """The catalogued actions that declare they undo changes of `kind`: lowest risk first,
    then by name, so the choice never depends on load order."""
    ranked = sorted(specs.values(), key=lambda s: (list(RiskClass).index(s.risk_class), s.name))
    return [(spec, r) for spec in ranked for r in spec.remedies.changes if r.kind == kind]


def _typed(param: ActionParam, value: JsonValue) -> JsonValue:
    """A change attribute read as the parameter's type; None when it is not one."""
    if value is None or param.type == "boolean":
        return value if isinstance(value, bool) else None
    if param.type in ("integer", "number"):
        try:
            return int(str(value)) if param.type == "integer" else float(str(value))
        except ValueError:
            return None
    return str(value)


def _with_defaults(spec: ActionSpec, params: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
    filled = {p.name: p.default for p in spec.params if p.default is not None}
    return {**filled, **params}


def _undo_step(specs: Mapping[str, ActionSpec], change: Evidence, service: str) -> PlanStep | None:
    """The step that undoes `change`, with its parameters read from the change, or None when
    no catalogued action undoes it or the change does not say what to go back to."""
    for spec, remedy in _undoers(specs, str(change.attributes.get("change_type"))):
        declared = {p.name: p for p in spec.params}
        params: dict[str, JsonValue] = {}
        for name, attribute in remedy.params.items():
            value = _typed(declared[name], change.attributes.get(attribute))
            if value is None:
                break
            params[name] = value
        else:
            params = _with_defaults(spec, params)
            if not param_problems(spec, params):  # replicas 0, NaN, ... are no values
                return PlanStep(action=spec.name, target=service, params=params)
    return None


def _alertname(item: Evidence) -> str:
    value = item.attributes.get("alertname")
    return value if isinstance(value, str) else ""


def _target(item: Evidence) -> str | None:
    return item.service or item.resource


class EvidenceReasoner:
    """Implements `arf.core.ports.Reasoner` from evidence alone."""

    def __init__(
        self,
        clock: Clock,
        knowledge: KnowledgeBase,
        change_window: timedelta = timedelta(minutes=30),
        grace: timedelta = timedelta(seconds=60),
        own_authors: frozenset[str] = frozenset({"arf"}),
    ) -> None:
        self._clock = clock
        self._knowledge = knowledge
        self._window = change_window
        self._grace = grace
        self._own_authors = own_authors  # the author ARF's own changes carry

    @property
    def name(self) -> str:
        return "evidence"

    def diagnose(
        self, snapshot: ContextSnapshot, catalog: Sequence[ActionSpec], diagnosis_id: str
    ) -> Diagnosis:
        started = time.perf_counter()
        specs = {spec.name: spec for spec in catalog}
        evidence = snapshot.evidence
        firing = [
            e
            for e in evidence
            if e.kind is SignalKind.ALERT
            and e.status is SignalStatus.FIRING
            and e.severity.rank >= Severity.MEDIUM.rank
        ]
        findings = [
            e for e in evidence if e.kind is SignalKind.FINDING and e.status is SignalStatus.FIRING
        ]
        failing = {e.service for e in firing if e.service}
        onset: dict[str, datetime] = {}
        for alert in firing:
            if alert.service:
                current = onset.get(alert.service)
                onset[alert.service] = min(alert.observed_at, current or alert.observed_at)
        deps = snapshot.topology
        roots = {s for s in failing if not set(deps.get(s, ())) & failing}

        counter = iter(range(1, 1000))
        candidates: list[_Candidate] = []
        rejected: list[str] = []
        explained: set[str] = set()

        def next_id(kind: str) -> str:
            return f"{diagnosis_id}-{kind}{next(counter)}"

        # 1. change correlation with a causal check; a change and its later revert are both
        # history, not a cause: undoing the revert brings back what the first change did
        # (ARF's own earlier fixes are such reverts), undoing the first is already done
        changes = [e for e in evidence if e.kind is SignalKind.CHANGE]
        undone = _reverted_pairs(changes, self._own_authors)
        for change in changes:
            if change.evidence_id in undone:
                rejected.append(f"{change.summary}: {undone[change.evidence_id]}")
                continue
            if change.attributes.get("author") in self._own_authors:
                # ARF's own remediation, verified (or it would have been rolled back):
                # undoing it brings back the state it was run to fix; a person decides that
                rejected.append(f"{change.summary}: ARF's own remediation, not undone by ARF")
                continue
            candidate = self._from_change(
                change, failing, roots, onset, firing, specs, next_id, rejected
            )
            if candidate is not None:
                candidates.append(candidate)
                explained.add(change.service or "")

        # every change hypothesis shows which other changes were considered and not blamed
        candidates = [
            _Candidate(
                c.hypothesis.model_copy(update={"rejected_alternatives": tuple(rejected[:10])}),
                c.steps,
                c.impact,
            )
            for c in candidates
        ]

        # 2. scanner findings with a catalogued fix
        for finding in findings:
            candidates.append(self._from_finding(finding, evidence, specs, next_id))

        # 3. runbooks, then what actions declare, on failing services no change explains
        for service in sorted(failing - explained):
            alerts = [a for a in firing if a.service == service]
            others = [
                e for e in evidence if e.service == service and e.kind is not SignalKind.ALERT
            ]
            matched = self._knowledge.match([*alerts, *others])
            if matched is None:
                names = {_alertname(a) for a in alerts}
                found = self._from_catalog(service, names, firing, roots, specs, next_id)
                if found is not None:
                    candidates.append(found)
                    explained.add(service)
                continue
            runbook, hits = matched
            candidates.append(
                self._from_runbook(runbook, hits, alerts, service, roots, specs, next_id, rejected)
            )
            explained.add(service)

        # 4. roots nobody explains, or nothing firing any more
        for service in sorted(roots - explained):
            cited = tuple(a.evidence_id for a in firing if a.service == service)[:10]
            candidates.append(
                _Candidate(
                    Hypothesis(
                        hypothesis_id=next_id("h"),
                        cause=f"{service} is failing; no recent change or known signature"
                        " explains it",
                        category=HypothesisCategory.UNKNOWN,
                        service=service,
                        confidence=0.3,
                        evidence_ids=cited,
                        rejected_alternatives=tuple(rejected[:10]),
                    ),
                    (),
                    "",
                )
            )
        if not firing and not findings:
            resolved = tuple(e.evidence_id for e in evidence if e.kind is SignalKind.ALERT)[:10]
            if resolved:
                candidates.append(
                    _Candidate(
                        Hypothesis(
                            hypothesis_id=next_id("h"),
                            cause="every alert of this incident resolved by itself;"
                            " no fault persists",
                            category=HypothesisCategory.TRANSIENT,
                            confidence=0.8,
                            evidence_ids=resolved,
                            rejected_alternatives=tuple(rejected[:10]),
                        ),
                        (),
                        "",
                    )
                )

        candidates, notes = _weigh_history(candidates, snapshot.similar_incidents)
        plans = self._plans(candidates, specs, diagnosis_id)
        return Diagnosis(
            diagnosis_id=diagnosis_id,
            incident_id=snapshot.incident_id,
            snapshot_hash=snapshot.content_hash(),
            reasoner=self.name,
            model_id="evidence-engine/1",
            hypotheses=tuple(
                sorted((c.hypothesis for c in candidates), key=lambda h: -h.confidence)
            )[:20],
            plans=plans,
            created_at=self._clock.now(),
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
            notes=tuple(notes[:20]),
        )

    def _from_change(
        self,
        change: Evidence,
        failing: set[str],
        roots: set[str],
        onset: Mapping[str, datetime],
        firing: Sequence[Evidence],
        specs: Mapping[str, ActionSpec],
        next_id: Callable[[str], str],
        rejected: list[str],
    ) -> _Candidate | None:
        service = change.service
        change_type = str(change.attributes.get("change_type"))
        if service is None or (
            change_type not in CAUSAL_CHANGES and not _undoers(specs, change_type)
        ):
            return None  # a kind of change nothing here knows how to judge or undo
        if service not in failing:
            rejected.append(f"{change.summary}: {service} shows no symptoms (red herring)")
            return None
        symptoms_from = onset[service]
        if change.observed_at > symptoms_from + self._grace:
            rejected.append(f"{change.summary}: came after the symptoms began")
            return None
        lead = symptoms_from - change.observed_at
        if lead > self._window:
            rejected.append(f"{change.summary}: too long before the symptoms to explain them")
            return None
        closeness = 1 - max(lead, timedelta(0)) / self._window
        confidence = min(0.95, 0.6 + (0.15 if service in roots else 0.0) + 0.2 * closeness)
        alerts = [a for a in firing if a.service == service]
        cited = (change.evidence_id, *(a.evidence_id for a in alerts))[:10]
        names = {_alertname(a) for a in alerts}
        previous = change.attributes.get("from")
        to = change.attributes.get("to", "?")
        if change_type == "deploy":
            crash = bool(names & {"KubePodCrashLooping", "CrashLooping", "ServiceDown"})
            category = HypothesisCategory.CRASH_LOOP if crash else HypothesisCategory.BAD_DEPLOY
            cause = f"the deploy of {service} {change.attributes.get('to', '')} broke it"
            impact = f"{service} runs {previous} again and its errors stop"
        elif change_type == "scale":
            category = HypothesisCategory.CONFIG_CHANGE
            cause = f"{service} was scaled from {previous} to {to}"
            impact = f"{service} runs {previous} replicas again and serves traffic"
        elif change_type == "config":
            category = HypothesisCategory.CONFIG_CHANGE
            key = str(change.attributes.get("key", ""))
            cause = f"the configuration change of {key} on {service} degraded it"
            impact = f"{service} gets {key}={previous} back and recovers"
        else:  # a kind of change only a catalogued action knows how to undo
            category = HypothesisCategory.CONFIG_CHANGE
            cause = f"the {change_type} change on {service} ({previous} -> {to}) broke it"
            impact = f"{service} is back to {previous} and recovers"
        step = _undo_step(specs, change, service)
        steps: tuple[PlanStep, ...] = () if step is None else (step,)
        hypothesis = Hypothesis(
            hypothesis_id=next_id("h"),
            cause=cause,
            category=category,
            service=service,
            confidence=round(confidence, 3),
            evidence_ids=cited,
            rejected_alternatives=tuple(rejected[:10]),
            support=(Support.CHANGE,),
        )
        return _Candidate(hypothesis, steps, impact)

    def _from_runbook(
        self,
        runbook: Runbook,
        hits: Sequence[Evidence],
        alerts: Sequence[Evidence],
        service: str,
        roots: set[str],
        specs: Mapping[str, ActionSpec],
        next_id: Callable[[str], str],
        rejected: Sequence[str],
    ) -> _Candidate:
        """A runbook applied to `service`: it cites the service's firing alerts and whatever
        else matched (an event, a log line), and proposes the first of its actions the
        catalog holds."""
        meta = runbook.meta
        cited = tuple(dict.fromkeys(e.evidence_id for e in (*alerts, *hits)))[:10]
        confidence = min(0.95, meta.confidence + (0.1 if service in roots else -0.2))
        hypothesis = Hypothesis(
            hypothesis_id=next_id("h"),
            cause=meta.hypothesis.replace("{service}", service),
            category=meta.category,
            service=service,
            confidence=round(max(0.05, confidence), 3),
            evidence_ids=cited,
            rejected_alternatives=tuple(rejected[:10]),
            support=(Support.RUNBOOK,),
        )
        steps: tuple[PlanStep, ...] = ()
        for suggested in meta.actions:
            if suggested.action in specs:
                params = dict(suggested.params)
                steps = (PlanStep(action=suggested.action, target=service, params=params),)
                break
        return _Candidate(hypothesis, steps, f"{service} recovers")

    def _from_catalog(
        self,
        service: str,
        names: set[str],
        firing: Sequence[Evidence],
        roots: set[str],
        specs: Mapping[str, ActionSpec],
        next_id: Callable[[str], str],
    ) -> _Candidate | None:
        """An action that declares it remedies the alerts firing on `service`, when no
        knowledge entry names them: the most alerts matched, then the lowest risk, then the
        name. Only an action whose parameters all have defaults can be proposed this way."""
        ranked = sorted(
            (
                (
                    -len(names & set(spec.remedies.alerts)),
                    list(RiskClass).index(spec.risk_class),
                    name,
                )
                for name, spec in specs.items()
                if spec.target_kind == "service" and names & set(spec.remedies.alerts)
            ),
        )
        for _, _, name in ranked:
            spec = specs[name]
            params = _with_defaults(spec, {})
            if param_problems(spec, params):
                continue
            matched = sorted(names & set(spec.remedies.alerts))
            categories = [c for c in HypothesisCategory if c.value in spec.remedies.symptoms]
            confidence = CATALOG_CONFIDENCE + (0.1 if service in roots else -0.2)
            hypothesis = Hypothesis(
                hypothesis_id=next_id("h"),
                cause=f"{service} fires {', '.join(matched)}, which {name} declares it"
                " remedies (no knowledge entry names this failure)",
                category=categories[0] if categories else HypothesisCategory.UNKNOWN,
                service=service,
                confidence=round(confidence, 3),
                evidence_ids=tuple(a.evidence_id for a in firing if a.service == service)[:10],
                support=(Support.CATALOG,),
            )
            step = PlanStep(action=name, target=service, params=params)
            return _Candidate(hypothesis, (step,), f"{service} recovers")
        return None

    def _from_finding(
        self,
        finding: Evidence,
        evidence: Sequence[Evidence],
        specs: Mapping[str, ActionSpec],
        next_id: Callable[[str], str],
    ) -> _Candidate:
        resource = finding.resource or ""
        check_id = str(finding.attributes.get("check_id", ""))
        related_changes = [
            e.evidence_id
            for e in evidence
            if e.kind is SignalKind.CHANGE and e.resource == resource
        ]
        hypothesis = Hypothesis(
            hypothesis_id=next_id("h"),
            cause=f"{resource} fails scanner check {check_id}",
            category=HypothesisCategory.SECURITY_MISCONFIGURATION,
            service=resource,
            confidence=0.9 if related_changes else 0.85,
            evidence_ids=(finding.evidence_id, *related_changes)[:10],
            support=(Support.FINDING,),
        )
        steps: tuple[PlanStep, ...] = ()
        for _, spec in sorted(specs.items()):
            param = spec.remedies.finding_param
            if param is None or check_id not in spec.remedies.findings:
                continue
            params = _with_defaults(spec, {param: check_id})
            if not param_problems(spec, params):
                steps = (PlanStep(action=spec.name, target=resource, params=params),)
                break
        return _Candidate(hypothesis, steps, f"{check_id} no longer fails on {resource}")

    def _plans(
        self,
        candidates: Sequence[_Candidate],
        specs: Mapping[str, ActionSpec],
        diagnosis_id: str,
    ) -> tuple[RemediationPlan, ...]:
        actionable = sorted(
            (c for c in candidates if c.steps), key=lambda c: -c.hypothesis.confidence
        )
        plans: list[RemediationPlan] = []
        # a proposal found only through the catalog never joins a combined plan: it would
        # hide among stronger support there and escape the person policy asks for
        strong = [
            c
            for c in actionable
            if c.hypothesis.confidence >= 0.6 and Support.CATALOG not in c.hypothesis.support
        ]
        targets = {c.steps[0].target for c in strong}
        if len(strong) >= 2 and len(targets) == len(strong):
            plans.append(
                RemediationPlan(
                    plan_id=f"{diagnosis_id}-p0",
                    hypothesis_ids=tuple(c.hypothesis.hypothesis_id for c in strong),
                    steps=tuple(step for c in strong for step in c.steps),
                    rationale="independent causes, each with its own evidence: "
                    + "; ".join(c.hypothesis.cause for c in strong),
                    expected_impact="; ".join(c.impact for c in strong),
                    rollback="; ".join(specs[s.action].rollback for c in strong for s in c.steps),
                    confidence=round(min(c.hypothesis.confidence for c in strong), 3),
                )
            )
        for index, candidate in enumerate(actionable, start=1):
            plans.append(
                RemediationPlan(
                    plan_id=f"{diagnosis_id}-p{index}",
                    hypothesis_ids=(candidate.hypothesis.hypothesis_id,),
                    steps=candidate.steps,
                    rationale=candidate.hypothesis.cause,
                    expected_impact=candidate.impact,
                    rollback="; ".join(specs[s.action].rollback for s in candidate.steps),
                    confidence=candidate.hypothesis.confidence,
                )
            )
        return tuple(plans[:10])
