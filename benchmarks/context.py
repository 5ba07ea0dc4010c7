"""Context assembly for an incident with many signals (issue 3 target: 10,000 in < 100 ms).

Run: .venv/bin/python -m benchmarks.context [--signals 10000] [--quick]
Measures `signals.context.assemble` alone (the store read is measured separately).
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from arf.core.records import Incident, IncidentState, Severity, Signal, SignalKind
from arf.reasoning.tokens import ApproxTokenCounter
from arf.runtime.container import packaged_service_catalog
from arf.signals.context import ContextRules, assemble

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SERVICES = ("cache", "catalog", "frontend")


@dataclass
class Stored:
    signal: Signal
    incident_id: str | None
    occurrences: int
    last_seen_at: datetime


def signals(count: int) -> list[Stored]:
    out = []
    for n in range(count):
        service = SERVICES[n % 3]
        at = START + timedelta(milliseconds=n)
        out.append(
            Stored(
                Signal(
                    signal_id=f"sig-{n:012d}",
                    source="alertmanager",
                    kind=SignalKind.ALERT,
                    fingerprint=f"am:{n:016x}",
                    service=service,
                    severity=Severity.CRITICAL,
                    title=f"Alert{n % 60}: {service} pod {n} failing",
                    labels={"alertname": f"Alert{n % 60}", "service": service, "pod": f"p{n}"},
                    attributes={"alertname": f"Alert{n % 60}"},
                    observed_at=at,
                    received_at=at,
                    payload_digest="0" * 64,
                ),
                "INC-1",
                1,
                at,
            )
        )
    return out


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--signals", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    count = 500 if args.quick else args.signals
    attached = signals(count)
    incident = Incident(
        incident_id="INC-1",
        state=IncidentState.OPEN,
        title="t",
        services=SERVICES,
        environment="production",
        severity=Severity.CRITICAL,
        opened_at=START,
        updated_at=START,
        impact_started_at=START,
        last_signal_at=START,
        resolved_at=None,
        outcome_reason="",
    )
    topology, counter, rules = packaged_service_catalog(), ApproxTokenCounter(), ContextRules()
    timings = []
    for _ in range(3 if args.quick else 7):
        started = time.perf_counter()
        snapshot = assemble(
            incident, attached, [], topology, counter, rules, 1, START + timedelta(minutes=5)
        )
        timings.append((time.perf_counter() - started) * 1000)
    results = {
        "signals": float(count),
        "median_ms": statistics.median(timings),
        "max_ms": max(timings),
        "evidence_kept": float(len(snapshot.evidence)),
        "token_count": float(snapshot.token_count),
    }
    for name, value in results.items():
        print(f"{name:16s} {value:12.1f}")
    return results


if __name__ == "__main__":
    main()
