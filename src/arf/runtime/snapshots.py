"""Context snapshots of an incident: the first one, and new versions when evidence arrives late.

A snapshot never changes once written. Signals that join an incident after its latest
snapshot was assembled ("late evidence") make a new version, which names the one it
supersedes; the orchestrator then diagnoses again before anything is decided or run (see
`late_signals`). The number of versions is bounded (`ContextRules.max_versions`), so a storm
that keeps adding symptoms cannot keep an incident from ever being decided.
"""

from __future__ import annotations

from collections.abc import Sequence

from arf.core.ports import StoredSignal, UnitOfWork
from arf.core.records import ContextSnapshot, Incident
from arf.ledger import chain
from arf.runtime.container import Runtime
from arf.signals.context import assemble


def late_signals(snapshot: ContextSnapshot, attached: Sequence[StoredSignal]) -> int:
    """How many of the incident's signals arrived after `snapshot` was assembled."""
    return sum(1 for s in attached if s.signal.received_at > snapshot.created_at)


def has_late_evidence(rt: Runtime, incident: Incident, snapshot: ContextSnapshot) -> bool:
    """True when signals joined the incident after `snapshot` and another version is allowed.

    Ingestion moves `last_signal_at` when a new signal joins (repeats of a signal already
    attached do not), so this needs no query.
    """
    return (
        incident.last_signal_at > snapshot.created_at
        and snapshot.version < rt.context_rules.max_versions
    )


def build_snapshot(
    rt: Runtime, incident: Incident, previous: ContextSnapshot | None
) -> tuple[ContextSnapshot, int]:
    """Assemble the incident's next snapshot version; with it, how many signals arrived after
    `previous` (0 for a first version)."""
    now = rt.clock.now()
    rules = rt.context_rules
    with rt.store.unit_of_work() as uow:
        attached = uow.signals_for_incident(incident.incident_id)
        area: set[str] = set(incident.services)
        for service in incident.services:
            area |= rt.services.neighbourhood(service, rules.topology_hops)
        nearby = uow.signals_between(
            sorted(area), incident.impact_started_at - rules.change_lookback, now
        )
    similar = rt.history.similar(incident, rules.similar_incidents)
    snapshot = assemble(
        incident,
        attached,
        nearby,
        rt.services,
        rt.tokens,
        rules,
        (previous.version + 1) if previous else 1,
        now,
        similar,
    )
    late = late_signals(previous, attached) if previous else 0
    return snapshot, late


def store_snapshot(
    uow: UnitOfWork,
    rt: Runtime,
    snapshot: ContextSnapshot,
    previous: ContextSnapshot | None,
    late: int,
) -> None:
    """Write the snapshot and its `snapshot.created` ledger entry (a later version names the
    hash of the one it supersedes and how many signals arrived after it)."""
    uow.put_snapshot(snapshot)
    entry: dict[str, object] = {
        "content_hash": snapshot.content_hash(),
        "version": snapshot.version,
        "evidence": len(snapshot.evidence),
        "cut": len(snapshot.cut),
        "token_count": snapshot.token_count,
    }
    if previous is not None:
        entry["supersedes"] = previous.content_hash()
        entry["late_signals"] = late
    chain.append(uow, "snapshot.created", snapshot.incident_id, entry, rt.clock.now())
