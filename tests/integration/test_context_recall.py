"""Root-cause evidence survives 1,000 times as much noise in the context snapshot.

Each simulated fault scenario runs through the real ingestion and assembly path; as soon as
its incident opens, noise is delivered: per root-cause item, 1,000 signals — decoy alerts on
the same service with the same severity, deploys of healthy neighbours within the change
window, and error log lines. The snapshot must still contain the root-cause evidence.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from arf.core.clock import ManualClock
from arf.core.records import ContextSnapshot, Evidence, SignalKind
from arf.runtime.demo import DemoDriver
from arf.runtime.ingest import Ingestor
from arf.sim.faults import demo_scenarios
from tests.conftest import START, make_runtime

Check = Callable[[Evidence], bool]


def alert(service: str, name: str) -> Check:
    return lambda e: (
        e.kind is SignalKind.ALERT
        and e.service == service
        and e.attributes.get("alertname") == name
    )


def change(target: str, kind: str) -> Check:
    return lambda e: (
        e.kind is SignalKind.CHANGE
        and target in (e.service, e.resource)
        and e.attributes.get("change_type") == kind
        and e.attributes.get("author") != "arf"
    )


def finding(resource: str, check: str) -> Check:
    return lambda e: (
        e.kind is SignalKind.FINDING
        and e.resource == resource
        and e.attributes.get("check_id") == check
    )


BUCKET = "aws_s3_bucket.audit_logs"
ROOT_EVIDENCE: dict[str, tuple[str, list[Check]]] = {
    "bad-deploy": ("checkout", [change("checkout", "deploy"), alert("checkout", "HighErrorRate")]),
    "config-drift": ("payments", [change("payments", "config"), alert("payments", "HighLatency")]),
    "memory-exhaustion": ("inventory", [alert("inventory", "KubeContainerOOMKilled")]),
    "dependency-outage": ("cache", [alert("cache", "ServiceDown")]),
    "crash-loop": ("auth", [change("auth", "deploy"), alert("auth", "KubePodCrashLooping")]),
    "iac-misconfiguration": (BUCKET, [finding(BUCKET, "CKV_AWS_20"), change(BUCKET, "iac")]),
    "compound": ("checkout", [change("checkout", "deploy"), change("payments", "config")]),
    "high-risk-datastore": ("orders-db", [alert("orders-db", "DatabaseDiskErrors")]),
}
NEIGHBOURS = ("catalog", "reporting", "inventory", "auth", "frontend", "orders")


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def noise(ingestor: Ingestor, service: str, count: int, now: datetime, seq: int) -> None:
    """Decoy alerts start up to 5 minutes before the fault (earlier than the real symptoms);
    deploys of neighbours land anywhere in the 30 minutes before it. Seeded."""
    rng = random.Random(seq)
    now_iso = iso(now)
    decoys = int(count * 0.7)
    deploys = int(count * 0.2)
    logs = count - decoys - deploys
    for first in range(0, decoys, 500):
        ingestor.ingest(
            "alertmanager",
            {
                "version": "4",
                "alerts": [
                    {
                        "status": "firing",
                        "labels": {
                            "alertname": f"Decoy{n % 40}",
                            "service": service,
                            "severity": "critical",
                            "pod": f"{service}-decoy-{seq}-{n}",
                        },
                        "annotations": {"summary": f"decoy symptom {n} on {service}"},
                        "startsAt": iso(START - timedelta(seconds=rng.randint(0, 300))),
                        "fingerprint": f"decoy{seq:04d}{n:08d}",
                    }
                    for n in range(first, min(decoys, first + 500))
                ],
            },
        )
    for n in range(deploys):
        neighbour = NEIGHBOURS[n % len(NEIGHBOURS)]
        if neighbour == service:
            continue
        ingestor.ingest(
            "cloudevent",
            {
                "specversion": "1.0",
                "id": f"noise-{seq}-{n}",
                "source": "noise/deployer",
                "type": "dev.arf.change.deploy",
                "subject": neighbour,
                "time": iso(START - timedelta(seconds=rng.randint(0, 1800))),
                "data": {"from": f"9.{n}.0", "to": f"9.{n}.1"},
            },
        )
    ingestor.ingest(
        "logs",
        "\n".join(
            json.dumps(
                {
                    "ts": now_iso,
                    "level": "error",
                    "service": service,
                    "msg": f"upstream call {n} failed after {n * 7 % 900} ms",
                }
            )
            for n in range(logs)
        ),
    )


def run_scenario(home: Path, name: str) -> tuple[ContextSnapshot, int]:
    scenario = next(s for s in demo_scenarios() if s.name == name)
    runtime = make_runtime(home, ManualClock(START))
    driver = DemoDriver(runtime, lambda _line: None)
    ingestor = Ingestor(runtime)
    scenario.inject(runtime.platform)
    driver.deliver()
    service, checks = ROOT_EVIDENCE[name]
    injected = 0
    for _ in range(60):
        driver.tick()
        with runtime.store.unit_of_work() as uow:
            incidents = uow.list_incidents()
            snapshot = uow.latest_snapshot(incidents[0].incident_id) if incidents else None
        if snapshot is not None:
            break
        if incidents and not injected:
            injected = 1000 * len(checks)
            noise(ingestor, service, injected, runtime.clock.now(), len(name))
    runtime.store.close()
    assert snapshot is not None and injected
    return snapshot, injected


def test_root_cause_evidence_recall_under_a_thousandfold_noise(tmp_path: Path) -> None:
    found = total = 0
    lines = []
    for name, (_, checks) in ROOT_EVIDENCE.items():
        snapshot, injected = run_scenario(tmp_path / name, name)
        hits = sum(1 for check in checks if any(check(e) for e in snapshot.evidence))
        found += hits
        total += len(checks)
        lines.append(
            f"{name}: {hits}/{len(checks)} root items kept among {injected} noise"
            f" signals; {len(snapshot.evidence)} kept, {len(snapshot.cut)} cut,"
            f" {snapshot.token_count}/{snapshot.token_budget} tokens"
        )
    recall = found / total
    print("\n".join(lines) + f"\nevidence recall {recall:.3f} ({found}/{total})")
    assert recall >= 0.95, lines
