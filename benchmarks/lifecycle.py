"""Benchmarks of the foundation: ingestion, ledger appends, and the lifecycle per incident.

Run: .venv/bin/python -m benchmarks.lifecycle [--quick]
Prints figures; asserts nothing about speed (targets live in docs, not in tests).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import JsonValue

from arf.core.clock import ManualClock
from arf.core.ids import SequentialIds
from arf.ledger.chain import append, verify_chain
from arf.runtime.container import build_runtime
from arf.runtime.demo import run_demo
from arf.runtime.ingest import Ingestor
from arf.runtime.settings import Settings
from arf.sim.platform import SimPlatform, default_state

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SERVICES = ("checkout", "payments", "inventory", "orders", "catalog", "auth", "frontend")


def _runtime(home: Path):  # type: ignore[no-untyped-def]
    clock = ManualClock(START)
    platform = SimPlatform(default_state(7, clock.now().timestamp()), clock)
    return build_runtime(
        Settings(home=home, clock="sim"), clock=clock, platform=platform, ids=SequentialIds()
    )


def webhook(batch: int, size: int) -> JsonValue:
    alerts: list[JsonValue] = []
    for i in range(size):
        service = SERVICES[(batch * size + i) % len(SERVICES)]
        starts = (START + timedelta(seconds=batch)).isoformat().replace("+00:00", "Z")
        alerts.append(
            {
                "status": "firing",
                "labels": {
                    "alertname": f"Synthetic{i % 50}",
                    "service": service,
                    "severity": "warning",
                    "pod": f"{service}-{batch}-{i}",
                },
                "annotations": {"summary": f"synthetic alert {batch}/{i}"},
                "startsAt": starts,
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": f"{batch:08x}{i:08x}",
            }
        )
    return {"version": "4", "status": "firing", "alerts": alerts}


def bench_ingest(home: Path, alerts: int, batch_size: int = 500) -> float:
    runtime = _runtime(home)
    ingestor = Ingestor(runtime)
    payloads = [webhook(b, batch_size) for b in range(max(1, alerts // batch_size))]
    started = time.perf_counter()
    for payload in payloads:
        ingestor.ingest("alertmanager", payload)
    elapsed = time.perf_counter() - started
    runtime.store.close()
    return len(payloads) * batch_size / elapsed


def bench_ledger(home: Path, entries: int) -> tuple[float, float]:
    runtime = _runtime(home)
    started = time.perf_counter()
    batch = 100
    for chunk in range(entries // batch):
        with runtime.store.unit_of_work() as uow:
            for i in range(batch):
                append(uow, "bench", None, {"n": chunk * batch + i, "text": "x" * 64}, START)
    append_rate = entries / (time.perf_counter() - started)
    started = time.perf_counter()
    with runtime.store.unit_of_work() as uow:
        report = verify_chain(uow.iter_ledger())
    verify_rate = report.entries / (time.perf_counter() - started)
    runtime.store.close()
    return append_rate, verify_rate


def bench_demo(home: Path) -> tuple[int, float]:
    runtime = _runtime(home)
    started = time.perf_counter()
    report = run_demo(runtime, lambda _line: None)
    elapsed = time.perf_counter() - started
    runtime.store.close()
    return len(report.rows), elapsed


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    args = parser.parse_args(argv)
    alerts, entries = (1_000, 1_000) if args.quick else (20_000, 50_000)
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        results["ingest_alerts_per_s"] = bench_ingest(base / "ingest", alerts)
        append_rate, verify_rate = bench_ledger(base / "ledger", entries)
        results["ledger_appends_per_s"] = append_rate
        results["ledger_verify_entries_per_s"] = verify_rate
        incidents, elapsed = bench_demo(base / "demo")
        results["demo_incidents"] = incidents
        results["demo_wall_s"] = elapsed
        results["control_plane_ms_per_incident"] = elapsed / max(1, incidents) * 1000
    for name, value in results.items():
        print(f"{name:32s} {value:12.1f}")
    return results


if __name__ == "__main__":
    main()
