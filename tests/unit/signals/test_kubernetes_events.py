from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from arf.core.errors import InputError
from arf.core.records import Severity, SignalKind
from arf.signals.kubernetes_events import looks_like_kubernetes_events, parse_events, workload_of

NOW = datetime(2026, 11, 24, 13, 30, tzinfo=UTC)
SAMPLE = Path(__file__).resolve().parents[2] / "data" / "kubectl-events.json"


def test_core_v1_and_events_k8s_io_v1() -> None:
    payload = json.loads(SAMPLE.read_text())
    assert looks_like_kubernetes_events(payload)
    result = parse_events(payload, NOW)
    assert [i for i, _ in result.rejected] == [3]  # the event that names no object
    backoff, scaled, oom = result.signals
    assert backoff.kind is SignalKind.EVENT and backoff.service == "checkout"
    assert backoff.severity is Severity.HIGH and backoff.attributes["count"] == 17
    assert backoff.observed_at == datetime(2026, 11, 24, 13, 24, 10, tzinfo=UTC)
    assert scaled.severity is Severity.INFO
    assert oom.service == "orders-db" and oom.severity is Severity.HIGH
    assert oom.observed_at == datetime(2026, 11, 24, 13, 23, tzinfo=UTC)  # series.lastObserved
    assert oom.attributes["count"] == 4


@pytest.mark.parametrize(
    ("kind", "name", "workload"),
    [
        ("Pod", "checkout-7d9f8b6c5d-x2k4q", "checkout"),
        ("Pod", "orders-db-0", "orders-db"),
        ("Pod", "node-exporter-x2k4q", "node-exporter"),
        ("ReplicaSet", "checkout-7d9f8b6c5d", "checkout"),
        ("Deployment", "checkout", "checkout"),
    ],
)
def test_workload_names(kind: str, name: str, workload: str) -> None:
    assert workload_of(kind, name) == workload


def test_not_events() -> None:
    with pytest.raises(InputError):
        parse_events({"kind": "List", "items": [{"kind": "Pod"}]}, NOW)
