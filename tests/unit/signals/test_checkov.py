from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from arf.core.records import Severity, SignalKind, SignalStatus
from arf.signals.checkov import looks_like_checkov, parse_report

NOW = datetime(2026, 11, 24, tzinfo=UTC)


def test_real_checkov_output(shared_data: Path) -> None:
    payload = json.loads((shared_data / "checkov" / "checkov_output.json").read_text())
    assert looks_like_checkov(payload)
    result = parse_report(payload, NOW)
    assert result.rejected == ()
    failed = [s for s in result.signals if s.status is SignalStatus.FIRING]
    by_type = {
        t: sum(1 for s in failed if s.labels["check_type"] == t)
        for t in ("terraform", "kubernetes")
    }
    assert by_type == {"terraform": 12, "kubernetes": 19}
    assert all(s.kind is SignalKind.FINDING for s in failed)
    # Severities are null offline: unknown counts as high, never low.
    assert {s.severity for s in failed} == {Severity.HIGH}
    assert any(
        s.resource == "aws_security_group.ssh_open" and s.labels["check_id"] == "CKV_AWS_24"
        for s in failed
    )


def test_fingerprints_are_stable_and_distinct(shared_data: Path) -> None:
    payload = json.loads((shared_data / "checkov" / "checkov_output.json").read_text())
    first = parse_report(payload, NOW).signals
    second = parse_report(payload, NOW).signals
    assert [s.fingerprint for s in first] == [s.fingerprint for s in second]
    failed = [s.fingerprint for s in first if s.status is SignalStatus.FIRING]
    assert len(set(failed)) == len(failed)
