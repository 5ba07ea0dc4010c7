"""The real lab end to end: Prometheus, Alertmanager, real service processes, a deploy API,
a Git IaC repository, Checkov and `arf serve` on loopback. Each fault is injected the way the
outside world would make it; ARF must detect it from real alerts or scanner output, remediate
through HTTP, Ansible or Git, verify through PromQL or a Checkov re-scan, and leave the
platform healthy with the ledger intact."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from arf.core.records import Incident, Outcome
from arf.core.states import TERMINAL_STATES
from arf.lab import stack
from arf.runtime import ledger_ops, operations
from arf.runtime.container import build_runtime
from arf.runtime.settings import load_settings

pytestmark = pytest.mark.timeout(900)

# fault -> (the incident's target, the step ARF must have taken)
EXPECTED = {
    "bad-release": ("lab-api", "rollback_deploy"),
    "config-drift": ("lab-web", "revert_config"),
    "crash": ("lab-worker", "restart_service"),
    "iac": (stack.BUCKET, "apply_iac_patch"),
}


def _free_base() -> int:
    for base in range(38000, 60000, 97):
        try:
            for port in range(base, base + 7):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no 7 free consecutive ports")


@pytest.fixture
def lab(tmp_path: Path, checkov: list[str]) -> Iterator[stack.Lab]:
    started = stack.up(tmp_path / "lab", _free_base(), checkov[0], progress=lambda _m: None)
    try:
        yield started
    finally:
        stack.down(started.root, progress=lambda _m: None)


def _incidents(lab: stack.Lab) -> list[Incident]:
    runtime = build_runtime(load_settings(environ={}, home=lab.arf_home))
    try:
        return list(operations.list_incidents(runtime))
    finally:
        runtime.close()


def test_the_lab_undoes_each_fault_and_verifies_it(lab: stack.Lab) -> None:
    for fault, (target, action) in EXPECTED.items():
        injected = datetime.now(UTC)
        stack.inject(lab, fault)
        deadline = time.monotonic() + 180
        while True:
            assert time.monotonic() < deadline, f"{fault}: not remediated within 180 s"
            time.sleep(2)
            incidents = _incidents(lab)
            fresh = [i for i in incidents if i.opened_at >= injected]
            if fresh and all(i.state in TERMINAL_STATES for i in incidents):
                break
        assert len(fresh) == 1, f"{fault}: {len(fresh)} incidents"
        incident = fresh[0]
        assert incident.outcome is Outcome.RESOLVED, (fault, incident.outcome_reason)
        assert target in incident.services
        assert stack.undone(lab, fault), f"{fault}: ARF says resolved, the platform disagrees"
        runtime = build_runtime(load_settings(environ={}, home=lab.arf_home))
        try:
            explained = operations.explain_data(runtime, incident.incident_id)
        finally:
            runtime.close()
        text = str(explained)
        assert action in text and "converged" in text, f"{fault}: {text[:500]}"
    runtime = build_runtime(load_settings(environ={}, home=lab.arf_home))
    try:
        report = ledger_ops.verify(runtime)
    finally:
        runtime.close()
    assert report.ok, report.problems
