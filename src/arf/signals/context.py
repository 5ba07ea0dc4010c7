"""Context assembly: one bounded, immutable, content-hashed snapshot per incident version."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from arf.core.canonical import canonical_json
from arf.core.ports import StoredSignal, TokenCounter, Topology
from arf.core.records import ContextSnapshot, Evidence, Incident, SignalKind


@dataclass(frozen=True)
class ContextRules:
    token_budget: int = 6_000
    change_lookback: timedelta = timedelta(minutes=30)
    topology_hops: int = 2


def evidence_id_for(signal_id: str) -> str:
    return "ev-" + signal_id.removeprefix("sig-")[:16]


def _relevance(
    stored: StoredSignal, attached: bool, distance: int, impact_start: datetime, now: datetime
) -> float:
    signal = stored.signal
    severity = signal.severity.rank / 4
    closeness = 1.0 / (1 + distance)
    age_minutes = max(0.0, (now - stored.last_seen_at).total_seconds() / 60)
    recency = 1.0 / (1 + age_minutes / 30)
    score = 0.35 * severity + 0.25 * closeness + 0.2 * recency + (0.2 if attached else 0.0)
    if signal.kind is SignalKind.CHANGE:
        lead = (impact_start - signal.observed_at).total_seconds() / 60
        if 0 <= lead <= 30:
            score = max(score, 0.9 - lead / 100)
    return round(min(1.0, score), 4)


def _evidence(stored: StoredSignal, relevance: float) -> Evidence:
    signal = stored.signal
    return Evidence(
        evidence_id=evidence_id_for(signal.signal_id),
        kind=signal.kind,
        source=signal.source,
        service=signal.service,
        resource=signal.resource,
        severity=signal.severity,
        status=signal.status,
        summary=signal.title,
        observed_at=signal.observed_at,
        relevance=relevance,
        occurrences=stored.occurrences,
        provenance=(signal.signal_id,),
        attributes=dict(signal.attributes),
    )


def distance_to(
    service: str | None, incident_services: Sequence[str], topology: Topology, max_hops: int
) -> int:
    if service is None or service in incident_services:
        return 0
    for hops in range(1, max_hops + 1):
        if any(service in topology.neighbourhood(s, hops) for s in incident_services):
            return hops
    return max_hops + 1


def assemble(
    incident: Incident,
    attached: Sequence[StoredSignal],
    nearby: Sequence[StoredSignal],
    topology: Topology,
    counter: TokenCounter,
    rules: ContextRules,
    version: int,
    now: datetime,
) -> ContextSnapshot:
    """Rank evidence by relevance and keep what fits the token budget; record what was cut."""
    seen: set[str] = set()
    scored: list[Evidence] = []
    for group, is_attached in ((attached, True), (nearby, False)):
        for stored in group:
            if stored.signal.signal_id in seen:
                continue
            seen.add(stored.signal.signal_id)
            target = stored.signal.service or stored.signal.resource
            distance = distance_to(target, incident.services, topology, rules.topology_hops)
            relevance = _relevance(stored, is_attached, distance, incident.impact_started_at, now)
            scored.append(_evidence(stored, relevance))
    scored.sort(key=lambda e: (-e.relevance, e.observed_at, e.evidence_id))
    kept: list[Evidence] = []
    cut: list[str] = []
    used = 0
    for item in scored:
        cost = counter.count(canonical_json(item))
        if used + cost <= rules.token_budget:
            kept.append(item)
            used += cost
        else:
            cut.append(item.evidence_id)
    area: set[str] = set()
    for service in incident.services:
        area |= topology.neighbourhood(service, rules.topology_hops) | {service}
    neighbourhood = {
        name: topology.dependencies(name) for name in sorted(area) if topology.service(name)
    }
    return ContextSnapshot(
        incident_id=incident.incident_id,
        version=version,
        created_at=now,
        services=incident.services,
        environment=incident.environment,
        evidence=tuple(kept),
        topology=neighbourhood,
        token_count=used,
        token_budget=rules.token_budget,
        cut=tuple(cut),
    )
