"""Context assembly: one bounded, immutable, content-hashed snapshot per incident version."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from arf.core.canonical import canonical_json
from arf.core.ports import StoredSignal, TokenCounter, Topology
from arf.core.records import (
    ContextSnapshot,
    Evidence,
    Incident,
    PastIncident,
    Signal,
    SignalKind,
)
from arf.signals.correlate import root_candidates


@dataclass(frozen=True)
class ContextRules:
    token_budget: int = 6_000
    change_lookback: timedelta = timedelta(minutes=30)
    topology_hops: int = 2
    # Share of the budget kept for recent changes, so a storm of symptoms cannot crowd out
    # what changed (changes are ranked among themselves by closeness and lead time).
    change_share: float = 0.3
    similar_incidents: int = 3
    # Versions of one incident's snapshot: evidence arriving after the latest one makes a new
    # version (and a new diagnosis) until this many exist.
    max_versions: int = 3


def evidence_id_for(signal_id: str) -> str:
    return "ev-" + signal_id.removeprefix("sig-")[:16]


def _relevance(
    stored: StoredSignal, attached: bool, distance: int, opened_at: datetime, now: datetime
) -> float:
    signal = stored.signal
    severity = signal.severity.rank / 4
    closeness = 1.0 / (1 + distance)
    age_minutes = max(0.0, (now - stored.last_seen_at).total_seconds() / 60)
    recency = 1.0 / (1 + age_minutes / 30)
    score = 0.35 * severity + 0.25 * closeness + 0.2 * recency + (0.2 if attached else 0.0)
    if signal.kind is SignalKind.CHANGE:
        # Lead time to the incident's opening, which old or unrelated alerts cannot move
        # (they can pull the impact start earlier, past the change that caused it).
        lead = (opened_at - signal.observed_at).total_seconds() / 60
        if 0 <= lead <= 30:  # shortly before the incident, on or near the failing path
            score = max(score, 0.55 + 0.35 * closeness - lead / 200)
    return round(min(1.0, score), 4)


def fold_key(signal: Signal) -> tuple[str, ...]:
    """Signals that say the same thing again (the same alert on the same service, the same
    log template, the same event reason) fold into one item with a count; every change and
    finding stays on its own."""
    target = signal.service or signal.resource or ""
    attributes = signal.attributes
    if signal.kind is SignalKind.ALERT:
        return ("alert", target, str(attributes.get("alertname", "")), signal.status.value)
    if signal.kind is SignalKind.LOG:
        return ("log", target, str(attributes.get("template", signal.title)))
    if signal.kind is SignalKind.EVENT:
        return ("event", target, str(attributes.get("reason", "")), signal.status.value)
    return ("single", signal.signal_id)


def _evidence(members: list[tuple[float, StoredSignal]]) -> Evidence:
    """One evidence item for a group of scored signals (usually a group of one)."""
    relevance, best = max(members, key=lambda m: (m[0], -m[1].signal.observed_at.timestamp()))
    signal = best.signal
    summary, attributes = signal.title, dict(signal.attributes)
    observed_at, occurrences = signal.observed_at, best.occurrences
    provenance: tuple[str, ...] = (signal.signal_id,)
    if len(members) > 1:
        # Novelty: the hundredth copy of a symptom says little, so a storm's group ranks below
        # a signal seen once or a few times; the group keeps the earliest onset.
        relevance = round(relevance / (1.0 + 0.15 * math.log2(len(members))), 4)
        observed_at = min(m[1].signal.observed_at for m in members)
        occurrences = sum(m[1].occurrences for m in members)
        provenance = tuple(m[1].signal.signal_id for m in members[:5])
        summary = f"{signal.title} (and {len(members) - 1} similar)"[:2000]
        attributes["folded"] = len(members)
    return Evidence(
        evidence_id=evidence_id_for(signal.signal_id),
        kind=signal.kind,
        source=signal.source,
        service=signal.service,
        resource=signal.resource,
        severity=signal.severity,
        status=signal.status,
        summary=summary,
        observed_at=observed_at,
        relevance=relevance,
        occurrences=occurrences,
        provenance=provenance,
        attributes=attributes,
    )


def _rank(item: Evidence) -> tuple[float, datetime, str]:
    return (-item.relevance, item.observed_at, item.evidence_id)


def _within_budget(
    items: list[Evidence], counter: TokenCounter, rules: ContextRules
) -> tuple[list[Evidence], list[str], int]:
    """Keep the most relevant evidence within the token budget. Changes first get a reserved
    share; what does not fit there competes with everything else by relevance."""
    kept: list[Evidence] = []
    used = 0
    reserve = int(rules.token_budget * rules.change_share)
    overflow: list[Evidence] = []
    for item in sorted((e for e in items if e.kind is SignalKind.CHANGE), key=_rank):
        cost = counter.count(canonical_json(item))
        if used + cost <= reserve:
            kept.append(item)
            used += cost
        else:
            overflow.append(item)
    cut: list[str] = []
    rest = overflow + [e for e in items if e.kind is not SignalKind.CHANGE]
    for item in sorted(rest, key=_rank):
        cost = counter.count(canonical_json(item))
        if used + cost <= rules.token_budget:
            kept.append(item)
            used += cost
        else:
            cut.append(item.evidence_id)
    kept.sort(key=_rank)
    return kept, cut, used


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
    similar: Sequence[PastIncident] = (),
) -> ContextSnapshot:
    """Rank evidence by relevance and keep what fits the token budget; record what was cut.
    Similar past incidents (with their outcomes) come first and count against the budget."""
    seen: set[str] = set()
    groups: dict[tuple[str, ...], list[tuple[float, StoredSignal]]] = {}
    # Changes are measured from where the cause may lie (the incident's root candidates), so a
    # deploy of a service that only shows symptoms ranks below one on the failing dependency.
    roots = tuple(root_candidates(incident, topology))
    distances: dict[tuple[str | None, bool], int] = {}
    for group, is_attached in ((attached, True), (nearby, False)):
        for stored in group:
            signal = stored.signal
            if signal.signal_id in seen:
                continue
            seen.add(signal.signal_id)
            target = signal.service or signal.resource
            is_change = signal.kind is SignalKind.CHANGE
            distance = distances.get((target, is_change))
            if distance is None:
                anchors = roots if is_change else incident.services
                distance = distance_to(target, anchors, topology, rules.topology_hops)
                distances[(target, is_change)] = distance
            relevance = _relevance(stored, is_attached, distance, incident.opened_at, now)
            groups.setdefault(fold_key(signal), []).append((relevance, stored))
    memory: list[PastIncident] = []
    memory_cost = 0
    for past in similar[: rules.similar_incidents]:
        cost = counter.count(canonical_json(past))
        if memory_cost + cost <= rules.token_budget // 5:  # at most a fifth of the budget
            memory.append(past)
            memory_cost += cost
    budget = replace(rules, token_budget=rules.token_budget - memory_cost)
    kept, cut, used = _within_budget(
        [_evidence(members) for members in groups.values()], counter, budget
    )
    used += memory_cost
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
        similar_incidents=tuple(memory),
    )
