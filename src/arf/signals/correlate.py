"""Grouping signals of one failure into one incident: by target, topology and time window.

A signal joins an open incident when its target lies on one dependency path, within a few
hops, with one of the incident's root candidates (members with no failing dependency inside
the incident), and it arrives within the window. Siblings that merely share a caller are kept
apart, and so are failures that only share a symptomatic caller: two independent failures at
once make two incidents.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from arf.core.ports import Topology
from arf.core.records import Incident, Severity, Signal, SignalKind, SignalStatus
from arf.signals.manual import requester_of

OPENING_KINDS = frozenset({SignalKind.ALERT, SignalKind.FINDING})


@dataclass(frozen=True)
class CorrelationRules:
    """Configurable grouping: how far apart in time and topology signals may be."""

    window: timedelta = timedelta(minutes=10)
    max_hops: int = 2
    min_severity: Severity = Severity.MEDIUM
    # A failure spreads up the call chain further than `max_hops`: a signal also joins an
    # incident whose root lies this many calls below it (something it depends on).
    max_depth: int = 6
    # An alert that fires again (same fingerprint) while the incident it belonged to sits
    # escalated with a person joins that incident instead of opening and escalating a new one:
    # a flapping symptom of a failure someone already owns must not page them again.
    escalation_hold: timedelta = timedelta(hours=6)


def target_of(signal: Signal) -> str | None:
    return signal.service or signal.resource


def opens_incident(signal: Signal, rules: CorrelationRules) -> bool:
    """Firing alerts and findings at or above the configured severity open incidents, and so
    do platform events that mean a workload is failing (high severity)."""
    if signal.status is not SignalStatus.FIRING or target_of(signal) is None:
        return False
    if signal.kind is SignalKind.EVENT:  # platform events: only ones that mean failure
        return signal.severity.rank >= Severity.HIGH.rank
    return signal.kind in OPENING_KINDS and signal.severity.rank >= rules.min_severity.rank


def choose_incident(
    signal: Signal,
    candidates: Sequence[Incident],
    topology: Topology,
    rules: CorrelationRules,
) -> Incident | None:
    """The open incident this signal belongs to, or None when it starts a new one.

    An incident whose root is within `max_hops` of the signal's target wins; only when there
    is none does a root further down the target's dependencies (within `max_depth`) count.
    A caller of two failing paths so joins the nearer failure, not the more recent one.
    """
    target = target_of(signal)
    if target is None:
        return None
    live = [
        i
        for i in candidates
        if i.environment == signal.environment
        and signal.received_at - i.last_signal_at <= rules.window
    ]
    near = topology.related(target, rules.max_hops) | {target}
    for deeper in (False, True):
        reach = near | topology.downstream(target, rules.max_depth) if deeper else near
        best: Incident | None = None
        for incident in live:
            if not reach.intersection(root_candidates(incident, topology)):
                continue
            if best is None or incident.last_signal_at > best.last_signal_at:
                best = incident
        if best is not None:
            return best
    return None


def root_candidates(incident: Incident, topology: Topology) -> frozenset[str]:
    """The incident's services none of whose direct dependencies are also in the incident:
    where its cause may lie. A caller that only shows symptoms (one that calls two failing
    services) is not a root, so it cannot glue two independent failures together."""
    members = set(incident.services)
    return frozenset(
        s for s in incident.services if not members.intersection(topology.dependencies(s))
    )


def absorb(incident: Incident, signal: Signal, received_at: datetime | None = None) -> Incident:
    """The incident after a new signal joined it (services, severity, timing)."""
    arrived = received_at or signal.received_at
    target = target_of(signal)
    services = incident.services
    if target is not None and target not in services:
        services = (*services, target)
    severity = (
        signal.severity if signal.severity.rank > incident.severity.rank else (incident.severity)
    )
    requested_by = incident.requested_by or requester_of(signal)
    if (
        services is incident.services
        and severity is incident.severity
        and arrived <= incident.last_signal_at
        and signal.observed_at >= incident.impact_started_at
        and requested_by == incident.requested_by
    ):
        return incident  # one more symptom of what it already knows (most of a storm)
    return incident.model_copy(
        update={
            "requested_by": requested_by,
            "services": services,
            "severity": severity,
            "last_signal_at": max(incident.last_signal_at, arrived),
            "impact_started_at": min(incident.impact_started_at, signal.observed_at),
        }
    )
