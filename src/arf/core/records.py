"""Frozen, validated records that cross boundaries (API, reasoners, ledger, store).

Every record serialises to canonical JSON (see `arf.core.canonical`). Records are immutable:
an update is a new record (`model_copy(update=...)`), never an in-place change.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue

from arf.core.canonical import content_hash

Confidence = Annotated[float, Field(ge=0.0, le=1.0)]
ShortText = Annotated[str, Field(max_length=2_000)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Params = dict[str, JsonValue]


class Record(BaseModel):
    """Base of every boundary record: frozen, strict about unknown fields, finite numbers
    only (NaN and infinities have no canonical JSON, so no record may carry one)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    def digest(self) -> str:
        return content_hash(self)


# --------------------------------------------------------------------------- signals

# The attribute of an alert signal that holds when its source says it started firing (an
# alert that fires again later has a later start: a new instance of the same fingerprint).
STARTS_AT = "starts_at"


class SignalKind(StrEnum):
    ALERT = "alert"
    FINDING = "finding"
    CHANGE = "change"
    LOG = "log"
    METRIC = "metric"
    EVENT = "event"


class Severity(StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


class SignalStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Signal(Record):
    """One normalised observation from an external tool. `body` is untrusted text."""

    signal_id: Name
    source: Name
    kind: SignalKind
    fingerprint: Name
    service: str | None = None
    resource: str | None = None
    environment: str = "production"
    severity: Severity = Severity.MEDIUM
    status: SignalStatus = SignalStatus.FIRING
    title: ShortText
    body: Annotated[str, Field(max_length=20_000)] = ""
    labels: dict[str, str] = Field(default_factory=dict)
    attributes: Params = Field(default_factory=dict)
    observed_at: AwareDatetime
    received_at: AwareDatetime
    payload_digest: str


# --------------------------------------------------------------------------- incidents


class IncidentState(StrEnum):
    OPEN = "open"
    CONTEXT_READY = "context_ready"
    DIAGNOSED = "diagnosed"
    DECIDED = "decided"
    AWAITING_HUMAN = "awaiting_human"
    READY = "ready"
    EXECUTING = "executing"
    VERIFYING = "verifying"
    ROLLING_BACK = "rolling_back"
    RESOLVED = "resolved"
    ESCALATED = "escalated"
    CLOSED = "closed"


class Outcome(StrEnum):
    PENDING = "pending"
    RESOLVED = "resolved"
    ROLLED_BACK = "rolled_back"
    ESCALATED = "escalated"
    NO_ACTION = "no_action"
    SHADOWED = "shadowed"  # shadow mode: decided and recorded, deliberately not executed


class Incident(Record):
    incident_id: Name
    state: IncidentState
    title: ShortText
    services: tuple[str, ...]
    environment: str
    severity: Severity
    opened_at: AwareDatetime
    updated_at: AwareDatetime
    impact_started_at: AwareDatetime
    last_signal_at: AwareDatetime
    resolved_at: AwareDatetime | None = None
    outcome: Outcome = Outcome.PENDING
    outcome_reason: ShortText = ""
    revision: int = 0
    requested_by: str | None = None  # who asked for a remediation (`arf request`), if anyone


class Transition(Record):
    """One state change, as written to the ledger."""

    incident_id: Name
    from_state: IncidentState
    to_state: IncidentState
    reason: ShortText
    at: AwareDatetime
    actor: Name


# --------------------------------------------------------------------------- context


class Evidence(Record):
    evidence_id: Name
    kind: SignalKind
    source: Name
    service: str | None = None
    resource: str | None = None
    severity: Severity
    status: SignalStatus
    summary: ShortText
    observed_at: AwareDatetime
    relevance: Confidence
    occurrences: int = 1
    provenance: tuple[str, ...] = ()
    attributes: Params = Field(default_factory=dict)


class PastIncident(Record):
    """An earlier incident like this one, and how it ended (similar-incident memory)."""

    incident_id: Name
    services: tuple[str, ...]
    opened_at: AwareDatetime
    outcome: Outcome
    cause: ShortText = ""
    actions: tuple[str, ...] = ()
    similarity: Confidence


class ContextSnapshot(Record):
    """A bounded, immutable view of one incident for the reasoners."""

    incident_id: Name
    version: int
    created_at: AwareDatetime
    services: tuple[str, ...]
    environment: str
    evidence: tuple[Evidence, ...]
    topology: dict[str, tuple[str, ...]]
    token_count: int
    token_budget: int
    cut: tuple[str, ...] = ()
    similar_incidents: tuple[PastIncident, ...] = ()

    def content_hash(self) -> str:
        return content_hash(self)

    def evidence_ids(self) -> frozenset[str]:
        return frozenset(e.evidence_id for e in self.evidence)

    def targets(self) -> frozenset[str]:
        found: set[str] = set(self.services)
        for item in self.evidence:
            if item.service:
                found.add(item.service)
            if item.resource:
                found.add(item.resource)
        return frozenset(found)


# --------------------------------------------------------------------------- diagnosis


class HypothesisCategory(StrEnum):
    BAD_DEPLOY = "bad_deploy"
    CONFIG_CHANGE = "config_change"
    RESOURCE_EXHAUSTION = "resource_exhaustion"
    DEPENDENCY_FAILURE = "dependency_failure"
    CRASH_LOOP = "crash_loop"
    DATASTORE_FAILURE = "datastore_failure"
    SECURITY_MISCONFIGURATION = "security_misconfiguration"
    TRANSIENT = "transient"
    UNKNOWN = "unknown"


class Support(StrEnum):
    """What a hypothesis rests on besides the evidence it cites."""

    CHANGE = "change"  # a change on the failing service shortly before its symptoms
    FINDING = "finding"  # a scanner finding on the resource
    RUNBOOK = "runbook"  # a runbook whose matchers the evidence matched
    CATALOG = "catalog"  # only what an action declares it remedies
    MODEL = "model"  # a language model's reading of the evidence


class Hypothesis(Record):
    hypothesis_id: Name
    cause: ShortText
    category: HypothesisCategory
    service: str | None = None
    confidence: Confidence
    evidence_ids: Annotated[tuple[str, ...], Field(max_length=50)]
    rejected_alternatives: tuple[ShortText, ...] = ()
    reasoners: tuple[str, ...] = ()  # provenance: which reasoners put this hypothesis forward
    support: tuple[Support, ...] = ()  # what it rests on besides its evidence (policy reads it)


class PlanStep(Record):
    action: Name
    target: Name
    params: Params = Field(default_factory=dict)


class RemediationPlan(Record):
    plan_id: Name
    hypothesis_ids: Annotated[tuple[str, ...], Field(min_length=1, max_length=10)]
    steps: Annotated[tuple[PlanStep, ...], Field(min_length=1, max_length=10)]
    rationale: ShortText
    expected_impact: ShortText
    rollback: ShortText
    confidence: Confidence

    def plan_hash(self) -> str:
        return content_hash(self)


class Diagnosis(Record):
    diagnosis_id: Name
    incident_id: Name
    snapshot_hash: str
    reasoner: Name
    model_id: str = ""
    hypotheses: Annotated[tuple[Hypothesis, ...], Field(max_length=20)]
    plans: Annotated[tuple[RemediationPlan, ...], Field(max_length=10)]
    created_at: AwareDatetime
    latency_ms: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    prompt_version: str = ""
    notes: tuple[ShortText, ...] = ()  # agreement, disagreement, reasoners that failed

    def top_hypothesis(self) -> Hypothesis | None:
        return max(self.hypotheses, key=lambda h: h.confidence, default=None)

    def plan(self, plan_id: str) -> RemediationPlan | None:
        return next((p for p in self.plans if p.plan_id == plan_id), None)


class ChatMessage(Record):
    """One turn sent to a language model."""

    role: Literal["system", "user", "assistant"]
    content: str


class Completion(Record):
    """What a language model answered, with its usage."""

    text: str
    model_id: str
    tokens_in: int = 0
    tokens_out: int = 0
    mode: str = ""  # how structured output was obtained (json_schema, json_object, tools, grammar)


# --------------------------------------------------------------------------- governance


class RiskClass(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Route(StrEnum):
    AUTONOMOUS = "autonomous"
    ACKNOWLEDGE = "acknowledge"
    APPROVE = "approve"
    DENY = "deny"


class Effect(StrEnum):
    ALLOW = "allow"
    ACKNOWLEDGE = "acknowledge"
    APPROVE = "approve"
    DENY = "deny"

    @property
    def strictness(self) -> int:
        return _EFFECT_STRICTNESS[self]


_EFFECT_STRICTNESS = {Effect.ALLOW: 0, Effect.ACKNOWLEDGE: 1, Effect.APPROVE: 2, Effect.DENY: 3}


class MatchedRule(Record):
    rule_id: Name
    effect: Effect
    reason: ShortText


class RiskFactor(Record):
    name: Name
    value: Confidence
    weight: Confidence
    contribution: float


class BlastRadius(Record):
    services: int
    resources: int
    replicas: int
    # The largest share of one target's capacity (replicas or hosts) out of service at once.
    replica_share: Confidence = 0.0


class DecisionEnvelope(Record):
    decision_id: Name
    incident_id: Name
    plan_id: Name
    plan_hash: str
    policy_version: str
    matched_rules: tuple[MatchedRule, ...]
    risk_score: Confidence
    risk_factors: tuple[RiskFactor, ...]
    route: Route
    required_roles: tuple[str, ...] = ()
    quorum: int = 0
    blast_radius: BlastRadius
    max_resources: int
    decided_at: AwareDatetime
    expires_at: AwareDatetime | None = None
    policy_input: Params = Field(default_factory=dict)
    max_replica_share: Confidence = 1.0
    # Shadow mode: everything but execution; the incident closes recording what would have run.
    shadow: bool = False


class Verdict(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class Approval(Record):
    approval_id: Name
    incident_id: Name
    decision_id: Name
    plan_hash: str
    approver: Name
    roles: tuple[str, ...]
    verdict: Verdict
    reason: ShortText = ""
    at: AwareDatetime


class Notification(Record):
    """Something that reached a person: an approval request, an acknowledgement, an escalation."""

    notification_id: Name
    incident_id: Name
    kind: Name
    audience: Name
    summary: ShortText
    at: AwareDatetime


# --------------------------------------------------------------------------- execution


class ActionParam(Record):
    name: Name
    type: Annotated[str, Field(pattern="^(string|integer|number|boolean)$")]
    required: bool = True
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    description: ShortText = ""
    pattern: str | None = None  # a string parameter's values match it in full
    max_length: int | None = None
    default: JsonValue = None  # what the action's expressions see when a plan leaves it out


class ChangeRemedy(Record):
    """A kind of change the action undoes, and where each of its parameters comes from: the
    change attribute (`from`, `key`, ...) read as the parameter's type."""

    kind: Name
    params: dict[str, Name] = Field(default_factory=dict)


class ActionRemedies(Record):
    """What an action declares it remedies, so reasoning can find it for a symptom set no
    rule names: symptom categories, alert names, scanner finding ids (given to the parameter
    `finding_param`) and kinds of change it undoes."""

    symptoms: tuple[Name, ...] = ()
    alerts: tuple[Name, ...] = ()
    findings: tuple[Name, ...] = ()
    finding_param: Name | None = None
    changes: tuple[ChangeRemedy, ...] = ()


class ActionSpec(Record):
    """What the catalog declares about one action type (shared with reasoning and governance)."""

    name: Name
    description: ShortText
    target_kind: Annotated[str, Field(pattern="^(service|resource)$")]
    risk_class: RiskClass
    reversible: bool
    rollback: ShortText
    params: tuple[ActionParam, ...] = ()
    security_sensitive: bool = False
    permissions: tuple[str, ...] = ()
    verification: Name
    dry_run: bool = True
    tags: tuple[Name, ...] = ()
    remedies: ActionRemedies = Field(default_factory=ActionRemedies)
    operations: tuple[Name, ...] = ()  # the platform verbs it may send, forward or back


class StepStatus(StrEnum):
    STARTED = "started"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    # The process stopped between starting the step and recording its outcome: whether the
    # effect happened is unknown until the target's real state is read (reconciliation).
    IN_DOUBT = "in_doubt"
    # Reconciliation found the target in neither the step's before nor its after state:
    # something else changed it. ARF does not touch it again (no rollback): a person decides.
    DIVERGED = "diverged"
    # The target already showed what the step would leave (its precondition refused a no-op):
    # nothing was sent, so there is nothing to roll back.
    SKIPPED = "skipped"


class StepKind(StrEnum):
    FORWARD = "forward"
    ROLLBACK = "rollback"


class ExecutionRecord(Record):
    execution_id: Name
    incident_id: Name
    plan_hash: str
    step_index: int
    kind: StepKind
    action: Name
    target: Name
    params: Params
    idempotency_key: Name
    pre_state: Params = Field(default_factory=dict)
    status: StepStatus
    detail: ShortText = ""
    at: AwareDatetime


class ProbeVerdict(StrEnum):
    CONVERGED = "converged"
    REGRESSED = "regressed"
    INCONCLUSIVE = "inconclusive"


class ProbeResult(Record):
    probe: Name
    target: Name
    verdict: ProbeVerdict
    samples: tuple[float | None, ...] = ()
    threshold: float | None = None
    detail: ShortText = ""


class VerificationPhase(StrEnum):
    AFTER_EXECUTION = "after_execution"
    AFTER_ROLLBACK = "after_rollback"


class VerificationResult(Record):
    verification_id: Name
    incident_id: Name
    plan_hash: str
    phase: VerificationPhase
    verdict: ProbeVerdict
    probes: tuple[ProbeResult, ...]
    at: AwareDatetime


# --------------------------------------------------------------------------- catalog of services


class Criticality(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class ServiceSLO(Record):
    max_error_rate: Annotated[float, Field(ge=0.0, le=1.0)] = 0.01
    max_latency_p99_ms: Annotated[float, Field(gt=0)] = 500.0


class Autonomy(StrEnum):
    """How far ARF may act on its own for a service (or one action on it), weakest first."""

    SHADOW = "shadow"  # decide and record, never execute
    APPROVE = "approve"  # every plan needs an explicit approval
    ACKNOWLEDGE = "acknowledge"  # at least one person acknowledges before anything runs
    AUTONOMOUS = "autonomous"  # the policy decides


class FreezeWindow(Record):
    """A change freeze: from `start` (inclusive) to `end` (exclusive)."""

    start: AwareDatetime
    end: AwareDatetime
    reason: ShortText = ""


class ServiceInfo(Record):
    name: Name
    owner: Name
    environment: Name
    criticality: Criticality
    kind: Annotated[str, Field(pattern="^(service|datastore|resource)$")] = "service"
    depends_on: tuple[str, ...] = ()
    slo: ServiceSLO = ServiceSLO()
    # Share of the SLO's error budget left in the current window (written by SLO tooling).
    error_budget_remaining: Confidence = 1.0
    freeze_windows: tuple[FreezeWindow, ...] = ()
    autonomy: Autonomy = Autonomy.AUTONOMOUS
    autonomy_by_action: dict[str, Autonomy] = Field(default_factory=dict)

    def frozen_at(self, at: datetime) -> FreezeWindow | None:
        return next((w for w in self.freeze_windows if w.start <= at < w.end), None)

    def autonomy_for(self, action: str) -> Autonomy:
        return self.autonomy_by_action.get(action, self.autonomy)


class ActionRun(Record):
    """One past remediation step, as governance sees it: what ran where, how it was routed and
    how it ended. Derived from stored decisions, executions and verifications."""

    incident_id: Name
    action: Name
    target: Name
    target_kind: Name
    route: Route
    at: AwareDatetime
    # in_progress | verified | rolled_back | failed
    outcome: Annotated[str, Field(pattern="^(in_progress|verified|rolled_back|failed)$")]
    # The plan's confidence as its reasoners gave it, and which reasoners put it forward
    # (`evidence`, `evidence+llm`, ...): what confidence calibration learns from.
    plan_confidence: Confidence | None = None
    provenance: str = ""


class Controls(Record):
    """Operator controls, stored so every process sees them: the kill switch (global and per
    service) and global shadow mode."""

    stopped: bool = False
    stopped_services: tuple[str, ...] = ()
    shadow: bool = False
    reason: ShortText = ""
    changed_by: str = ""
    changed_at: AwareDatetime | None = None

    def execution_stopped(self, services: tuple[str, ...] | list[str]) -> str | None:
        if self.stopped:
            return "the global kill switch is on"
        hit = sorted(set(services) & set(self.stopped_services))
        return f"the kill switch is on for {', '.join(hit)}" if hit else None


# --------------------------------------------------------------------------- ledger


class LedgerEntry(Record):
    seq: Annotated[int, Field(ge=1)]
    prev_hash: str
    entry_hash: str
    kind: Name
    incident_id: str | None
    at: AwareDatetime
    payload: Params
