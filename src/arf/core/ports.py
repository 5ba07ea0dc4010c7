"""Ports: the Protocols through which layers reach each other, wired by `arf.runtime`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pydantic import JsonValue

from arf.core.records import (
    ActionSpec,
    Approval,
    BlastRadius,
    ChatMessage,
    Completion,
    ContextSnapshot,
    Controls,
    DecisionEnvelope,
    Diagnosis,
    ExecutionRecord,
    Incident,
    IncidentState,
    LedgerEntry,
    Notification,
    PastIncident,
    PlanStep,
    ServiceInfo,
    Signal,
    SignalKind,
    SignalStatus,
    VerificationResult,
)


class LedgerSink(Protocol):
    """Where ledger entries are persisted, inside the caller's transaction."""

    def ledger_head(self) -> LedgerEntry | None: ...

    def put_ledger_entry(self, entry: LedgerEntry) -> None: ...


@dataclass(frozen=True)
class SignalMark:
    """What ingestion needs to know of a stored signal to tell a repeat from a new one."""

    signal_id: str
    fingerprint: str
    status: SignalStatus
    observed_at: datetime


class StoredSignal(Protocol):
    """A deduplicated signal as the store keeps it."""

    @property
    def signal(self) -> Signal: ...

    @property
    def incident_id(self) -> str | None: ...

    @property
    def occurrences(self) -> int: ...

    @property
    def last_seen_at(self) -> datetime: ...


class UnitOfWork(LedgerSink, Protocol):
    """One transaction: every state change and its ledger entries commit together or not at all."""

    # incidents
    def get_incident(self, incident_id: str) -> Incident: ...

    def find_incident(self, incident_id: str) -> Incident | None: ...

    def list_incidents(
        self,
        states: Sequence[IncidentState] | None = None,
        opened_since: datetime | None = None,
    ) -> Sequence[Incident]: ...

    def insert_incident(self, incident: Incident) -> None: ...

    def update_incident(self, incident: Incident, expected_revision: int) -> None: ...

    # signals
    def find_firing_signals(self, fingerprints: Sequence[str]) -> Mapping[str, StoredSignal]: ...

    def signal_marks(self, fingerprints: Sequence[str]) -> Sequence[SignalMark]:
        """Every stored signal of these fingerprints, as id, status and start (one query)."""
        ...

    def firing_signals_from(self, source: str) -> Sequence[StoredSignal]: ...

    def insert_signals(self, items: Sequence[tuple[Signal, str | None]]) -> None: ...

    def record_repeats(self, counts: Mapping[str, int], seen_at: datetime) -> None: ...

    def resolve_signals(self, signal_ids: Sequence[str], resolved_at: datetime) -> None: ...

    def claim_delivery(self, source: str, delivery_id: str, at: datetime) -> bool: ...

    def signals_for_incident(self, incident_id: str) -> Sequence[StoredSignal]: ...

    def fingerprints_of(self, incident_ids: Sequence[str]) -> dict[str, str]: ...

    def signals_between(
        self,
        services: Sequence[str],
        since: datetime,
        until: datetime,
        kinds: Sequence[SignalKind] | None = None,
    ) -> Sequence[StoredSignal]: ...

    def count_signals(self) -> int: ...

    def expire_signals(self, before: datetime, remove: bool = True) -> list[tuple[str, str]]: ...

    # artifacts
    def put_snapshot(self, snapshot: ContextSnapshot) -> None: ...

    def latest_snapshot(self, incident_id: str) -> ContextSnapshot | None: ...

    def put_diagnosis(self, diagnosis: Diagnosis) -> None: ...

    def latest_diagnosis(self, incident_id: str) -> Diagnosis | None: ...

    def put_decision(self, decision: DecisionEnvelope) -> None: ...

    def latest_decision(self, incident_id: str) -> DecisionEnvelope | None: ...

    def decisions_for(self, incident_id: str) -> Sequence[DecisionEnvelope]: ...

    def decisions_since(self, since: datetime) -> Sequence[DecisionEnvelope]: ...

    # operator controls (kill switch, shadow mode)
    def get_controls(self) -> Controls: ...

    # per-target leases: one remediation executes on a target at a time
    def claim_targets(
        self, incident_id: str, targets: Sequence[str], now: datetime, until: datetime
    ) -> dict[str, str]: ...

    def release_targets(self, incident_id: str) -> None: ...

    def put_controls(self, controls: Controls) -> None: ...

    def put_approval(self, approval: Approval) -> None: ...

    def approvals_for(self, incident_id: str) -> Sequence[Approval]: ...

    def put_execution(self, record: ExecutionRecord) -> None: ...

    def executions_for(self, incident_id: str) -> Sequence[ExecutionRecord]: ...

    def put_verification(self, result: VerificationResult) -> None: ...

    def verifications_for(self, incident_id: str) -> Sequence[VerificationResult]: ...

    def put_notification(self, notification: Notification) -> None: ...

    def notifications_for(self, incident_id: str) -> Sequence[Notification]: ...

    def pending_notifications(
        self, channel: str, max_attempts: int, limit: int = 100
    ) -> Sequence[tuple[Notification, int]]: ...

    def record_delivery(
        self, notification_id: str, channel: str, sent: bool, detail: str, at: datetime
    ) -> int: ...

    # ledger (read side)
    def iter_ledger(self) -> Iterator[LedgerEntry]: ...

    def ledger_for_incident(self, incident_id: str) -> Sequence[LedgerEntry]: ...


class Store(Protocol):
    def unit_of_work(self) -> AbstractContextManager[UnitOfWork]: ...

    def close(self) -> None: ...


class TokenCounter(Protocol):
    """Counts tokens the way the reasoner will (layer 1 budgets with layer 2's tokenizer)."""

    def count(self, text: str) -> int: ...


class Topology(Protocol):
    """The service dependency graph, from the service catalog."""

    def service(self, name: str) -> ServiceInfo | None: ...

    def dependencies(self, name: str) -> tuple[str, ...]: ...

    def neighbourhood(self, name: str, hops: int) -> frozenset[str]: ...

    def related(self, name: str, hops: int) -> frozenset[str]: ...

    def downstream(self, name: str, hops: int) -> frozenset[str]: ...


class IncidentHistory(Protocol):
    """Past incidents and their outcomes, served from the store to layer 1."""

    def similar(self, incident: Incident, limit: int) -> Sequence[PastIncident]: ...


class Reasoner(Protocol):
    """Turns a snapshot into a Diagnosis. Has no side effects and no access to executors."""

    @property
    def name(self) -> str: ...

    def diagnose(
        self, snapshot: ContextSnapshot, catalog: Sequence[ActionSpec], diagnosis_id: str
    ) -> Diagnosis: ...


class ChatModel(Protocol):
    """A language model behind some API; answers are untrusted text, nothing more."""

    @property
    def model_id(self) -> str: ...

    @property
    def hosted(self) -> bool:
        """True when prompts leave this machine (egress rules apply)."""
        ...

    @property
    def grammar_constrained(self) -> bool:
        """True when decoding is held to the answer schema by a grammar: the output limit is
        then raised to the schema's worst case, so the grammar can always close the JSON."""
        ...

    def complete(
        self,
        messages: Sequence[ChatMessage],
        schema: Mapping[str, JsonValue],
        *,
        max_tokens: int,
        timeout_s: float,
    ) -> Completion: ...


class DiagnosisCache(Protocol):
    """Stored answers by cache key (see `arf.reasoning.cache`)."""

    def get(self, key: str) -> Diagnosis | None: ...

    def put(self, key: str, diagnosis: Diagnosis) -> None: ...


class BlastRadiusEstimator(Protocol):
    def estimate(self, steps: Sequence[PlanStep]) -> BlastRadius: ...


class TargetDriver(Protocol):
    """The platform an executor acts on (the simulated platform, a cluster, a repository)."""

    def describe(self, target: str) -> Mapping[str, JsonValue] | None: ...

    def operations(self) -> frozenset[str]:
        """The operation verbs this platform implements: an action that sends any other is
        not offered to reasoning here."""
        ...

    def perform(
        self, operation: str, target: str, args: Mapping[str, JsonValue], idempotency_key: str
    ) -> Mapping[str, JsonValue]: ...


class Telemetry(Protocol):
    """What verification probes read: metrics and scanner results, never ground truth."""

    def sample(self, service: str, metric: str) -> float | None: ...

    def scan(self, resource: str) -> tuple[str, ...] | None: ...
