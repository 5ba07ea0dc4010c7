"""Alert storms: throughput of ingestion (parse, redact, fingerprint, dedup, correlate,
persist to SQLite, ledger) and grouping, on one core.

Run: .venv/bin/python -m benchmarks.storm [--alerts 100000] [--quick]
Targets (issue 3): >= 10,000 alerts/s batched; a 100,000-alert storm correlated in < 10 s
with peak RSS < 300 MB; one failure -> one incident, two independent failures -> two.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import JsonValue

from arf.core.clock import ManualClock
from arf.core.ids import SequentialIds
from arf.runtime.container import Runtime, build_runtime
from arf.runtime.ingest import Ingestor
from arf.runtime.settings import Settings
from arf.sim.platform import SimPlatform, default_state

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
# One failure: the cache is down; its callers fail with it (every pod alerts separately).
ONE_FAILURE = ("cache", "catalog", "frontend")
# A second, independent failure at the same time: orders-db, with its callers failing too
# (frontend, which calls both paths, alerts only in the first storm).
SECOND_FAILURE = ("orders-db", "orders", "checkout", "reporting")


def storm(services: tuple[str, ...], alerts: int, batch: int) -> Iterator[JsonValue]:
    starts = START.isoformat().replace("+00:00", "Z")
    for first in range(0, alerts, batch):
        items: list[JsonValue] = []
        for n in range(first, min(alerts, first + batch)):
            service = services[n % len(services)]
            items.append(
                {
                    "status": "firing",
                    "labels": {
                        "alertname": ("ServiceDown", "HighErrorRate", "HighLatency")[n % 3],
                        "service": service,
                        "severity": "critical",
                        "pod": f"{service}-{n // len(services):06d}",
                    },
                    "annotations": {"summary": f"{service} pod {n} failing"},
                    "startsAt": starts,
                    "endsAt": "0001-01-01T00:00:00Z",
                    "fingerprint": f"{hash((service, n)) & 0xFFFFFFFFFFFF:012x}{n:08x}",
                }
            )
        yield {"version": "4", "status": "firing", "alerts": items}


def runtime_at(home: Path) -> Runtime:
    clock = ManualClock(START)
    return build_runtime(
        Settings(home=home, clock="sim"),
        clock=clock,
        platform=SimPlatform(default_state(7, clock.now().timestamp()), clock),
        ids=SequentialIds(),
    )


def run(home: Path, alerts: int, batch: int, failures: int) -> dict[str, float]:
    runtime = runtime_at(home)
    ingestor = Ingestor(runtime)
    sets = [ONE_FAILURE, SECOND_FAILURE][:failures]
    started = time.perf_counter()
    count = 0
    for services in sets:
        for payload in storm(services, alerts // failures, batch):
            report = ingestor.ingest("alertmanager", payload)
            count += report.accepted + report.duplicates
            runtime.clock.sleep(0.1)
    assert isinstance(runtime.clock, ManualClock)
    elapsed = time.perf_counter() - started
    with runtime.store.unit_of_work() as uow:
        incidents = len(uow.list_incidents())
    runtime.store.close()
    runtime.clock.advance(timedelta(seconds=1).total_seconds())
    return {
        "alerts": float(count),
        "seconds": elapsed,
        "alerts_per_s": count / elapsed,
        "incidents": float(incidents),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    args = parser.parse_args(argv)
    alerts = 2_000 if args.quick else args.alerts
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for failures in (1, 2):
            figures = run(Path(tmp) / f"storm-{failures}", alerts, args.batch, failures)
            for name, value in figures.items():
                results[f"{failures}_failure_{name}"] = value
    for name, value in results.items():
        print(f"{name:32s} {value:14.1f}")
    return results


if __name__ == "__main__":
    main()
