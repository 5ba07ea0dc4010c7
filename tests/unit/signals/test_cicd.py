from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from arf.core.records import Severity, SignalKind, SignalStatus
from arf.signals.cicd import looks_like_cicd, parse_cicd

NOW = datetime(2026, 11, 24, 13, 30, tzinfo=UTC)
DATA = Path(__file__).resolve().parents[2] / "data"


def load(name: str) -> dict[str, object]:
    value: dict[str, object] = json.loads((DATA / name).read_text())
    return value


def test_github_workflow_run_failure_and_its_recovery() -> None:
    failed = load("github-workflow-run-failure.json")
    assert looks_like_cicd(failed)
    (signal,) = parse_cicd(failed, NOW).signals
    assert signal.kind is SignalKind.EVENT and signal.status is SignalStatus.FIRING
    assert signal.service == "checkout" and signal.severity is Severity.HIGH  # default branch
    assert signal.observed_at == datetime(2026, 11, 24, 13, 4, 50, tzinfo=UTC)
    run = dict(failed["workflow_run"])  # type: ignore[call-overload]
    fixed = {**failed, "workflow_run": {**run, "conclusion": "success", "head_sha": "f00d"}}
    (recovered,) = parse_cicd(fixed, NOW).signals
    assert recovered.status is SignalStatus.RESOLVED
    assert recovered.fingerprint == signal.fingerprint
    running = {**failed, "workflow_run": {**run, "conclusion": None, "status": "in_progress"}}
    assert parse_cicd(running, NOW).signals == ()
    feature = {**failed, "workflow_run": {**run, "head_branch": "feature/x"}}
    assert parse_cicd(feature, NOW).signals[0].severity is Severity.MEDIUM


def test_gitlab_pipeline_hook() -> None:
    (signal,) = parse_cicd(load("gitlab-pipeline-failed.json"), NOW).signals
    assert signal.source == "gitlab-ci" and signal.service == "payments"
    assert signal.observed_at == datetime(2026, 11, 24, 13, 6, 29, tzinfo=UTC)
    assert signal.severity is Severity.HIGH


def test_check_run() -> None:
    payload = {
        "action": "completed",
        "check_run": {
            "name": "unit-tests",
            "conclusion": "timed_out",
            "head_sha": "abc",
            "completed_at": "2026-11-24T13:02:00Z",
            "check_suite": {"head_branch": "main"},
        },
        "repository": {"full_name": "acme/auth", "default_branch": "main"},
    }
    (signal,) = parse_cicd(payload, NOW).signals
    assert signal.service == "auth" and "timed_out" in signal.title
