from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from arf.core.records import Incident, Severity, Signal, SignalKind, SignalStatus
from arf.reasoning.tokens import ApproxTokenCounter
from arf.runtime.container import packaged_service_catalog
from arf.signals.context import ContextRules, assemble
from arf.signals.correlate import CorrelationRules, absorb, choose_incident, opens_incident
from arf.testing.fakes import make_incident

AT = datetime(2026, 1, 1, 12, tzinfo=UTC)
TOPOLOGY = packaged_service_catalog()


def signal(
    service: str,
    kind: SignalKind = SignalKind.ALERT,
    minutes: float = 0,
    severity: Severity = Severity.CRITICAL,
    sid: str = "",
    alertname: str = "HighErrorRate",
) -> Signal:
    when = AT + timedelta(minutes=minutes)
    return Signal(
        signal_id=sid or f"sig-{service}-{minutes}",
        source="test",
        kind=kind,
        fingerprint=f"fp-{service}-{kind.value}",
        service=service,
        severity=severity,
        status=SignalStatus.FIRING,
        title=f"{kind.value} on {service}",
        observed_at=when,
        received_at=when,
        payload_digest="d",
        attributes={"alertname": alertname},
    )


def incident(services: tuple[str, ...], minutes: float = 0) -> Incident:
    return make_incident(AT + timedelta(minutes=minutes), services=services)


RULES = CorrelationRules()


def test_only_firing_alerts_and_findings_open_incidents() -> None:
    assert opens_incident(signal("checkout"), RULES)
    assert not opens_incident(signal("checkout", SignalKind.CHANGE), RULES)
    assert not opens_incident(signal("checkout", SignalKind.LOG), RULES)
    assert not opens_incident(signal("checkout", severity=Severity.INFO), RULES)


def test_neighbours_join_and_strangers_do_not() -> None:
    open_incident = incident(("checkout",))
    assert choose_incident(signal("frontend", minutes=1), [open_incident], TOPOLOGY, RULES)
    assert choose_incident(signal("reporting", minutes=1), [open_incident], TOPOLOGY, RULES) is None
    late = signal("frontend", minutes=30)
    assert choose_incident(late, [open_incident], TOPOLOGY, RULES) is None


def test_absorb_widens_services_and_keeps_earliest_impact() -> None:
    grown = absorb(incident(("checkout",)), signal("frontend", minutes=-2))
    assert grown.services == ("checkout", "frontend")
    assert grown.impact_started_at == AT - timedelta(minutes=2)


@dataclass
class Stored:
    signal: Signal
    incident_id: str | None
    occurrences: int
    last_seen_at: datetime


def test_context_is_bounded_ranked_and_records_what_was_cut() -> None:
    attached = [Stored(signal("checkout", sid="sig-root"), "INC-1", 1, AT)]
    noise = [
        Stored(
            signal(
                "frontend",
                minutes=1,
                severity=Severity.HIGH,
                sid=f"sig-n{i}",
                alertname=f"Noise{chr(65 + i % 26)}{chr(65 + i // 26)}",
            ),
            None,
            1,
            AT,
        )
        for i in range(200)
    ]
    snapshot = assemble(
        incident(("checkout",)),
        attached,
        noise,
        TOPOLOGY,
        ApproxTokenCounter(),
        ContextRules(token_budget=1_000),
        1,
        AT + timedelta(minutes=2),
    )
    assert snapshot.token_count <= 1_000
    assert snapshot.cut  # something had to go
    assert snapshot.evidence[0].evidence_id == "ev-root"  # attached root evidence ranks first
    assert len(snapshot.evidence) + len(snapshot.cut) == 201  # 200 distinct alert names
    assert snapshot.content_hash() == snapshot.model_copy().content_hash()


def test_independent_siblings_stay_apart_but_dependencies_join() -> None:
    open_incident = incident(("checkout",))
    # auth and checkout share a caller (frontend) but neither depends on the other
    assert choose_incident(signal("auth", minutes=1), [open_incident], TOPOLOGY, RULES) is None
    assert choose_incident(signal("payments", minutes=1), [open_incident], TOPOLOGY, RULES)


def test_repeats_of_the_same_alert_fold_into_one_item_with_the_earliest_onset() -> None:
    same = [
        Stored(signal("checkout", minutes=i, sid=f"sig-r{i}"), "INC-1", 2, AT) for i in range(50)
    ]
    snapshot = assemble(
        incident(("checkout",)),
        same,
        [],
        TOPOLOGY,
        ApproxTokenCounter(),
        ContextRules(),
        1,
        AT + timedelta(minutes=60),
    )
    (item,) = snapshot.evidence
    assert item.occurrences == 100 and item.attributes["folded"] == 50
    assert item.observed_at == AT


def test_changes_keep_their_share_of_the_budget_in_a_storm() -> None:
    storm = [
        Stored(signal("checkout", sid=f"sig-s{i}", alertname=f"Decoy{i}"), "INC-1", 1, AT)
        for i in range(300)
    ]
    change = signal(
        "checkout", SignalKind.CHANGE, minutes=-5, severity=Severity.INFO, sid="sig-change"
    )
    snapshot = assemble(
        incident(("checkout",)),
        storm,
        [Stored(change, None, 1, AT)],
        TOPOLOGY,
        ApproxTokenCounter(),
        ContextRules(),
        1,
        AT + timedelta(minutes=2),
    )
    assert "ev-change" in snapshot.evidence_ids()
    assert snapshot.token_count <= 6_000 and len(snapshot.cut) > 200


def test_a_caller_many_calls_above_a_failing_root_joins_its_incident() -> None:
    """A failure spreads up the call chain beyond `max_hops`: a distant caller's symptom joins
    the incident of the dependency it ultimately calls, and only within `max_depth`."""
    from arf.governance.service_catalog import ServiceCatalog
    from arf.testing.fakes import make_incident as fake

    lines = [
        f"  - {{name: s{i}, owner: t, environment: production, criticality: high,"
        f" depends_on: [{f's{i + 1}' if i < 5 else ''}]}}"
        for i in range(6)
    ]
    chain = ServiceCatalog.from_yaml("services:\n" + "\n".join(lines), "chain.yaml")
    root = fake(AT, services=("s5",))
    rules = CorrelationRules(max_hops=1, max_depth=6)
    assert choose_incident(signal("s0", minutes=1), [root], chain, rules) is root
    shallow = CorrelationRules(max_hops=1, max_depth=2)
    assert choose_incident(signal("s0", minutes=1), [root], chain, shallow) is None
    # the other direction is still bounded by max_hops: a root's far dependency is a stranger
    top = fake(AT, services=("s0",))
    assert choose_incident(signal("s5", minutes=1), [top], chain, rules) is None
