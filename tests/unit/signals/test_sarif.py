from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from arf.core.errors import InputError
from arf.core.records import Severity, SignalKind
from arf.signals.sarif import looks_like_sarif, parse_sarif

NOW = datetime(2026, 11, 24, tzinfo=UTC)


def test_real_checkov_sarif(shared_data: Path) -> None:
    payload = json.loads((shared_data / "checkov" / "checkov_output.sarif").read_text())
    assert looks_like_sarif(payload)
    result = parse_sarif(payload, NOW)
    assert result.rejected == ()
    assert len(result.signals) == 31  # 12 Terraform + 19 Kubernetes failed checks
    assert {s.kind for s in result.signals} == {SignalKind.FINDING}
    assert {s.source for s in result.signals} == {"Checkov"}
    assert {s.severity for s in result.signals} == {Severity.HIGH}  # level "error"
    ids = {s.labels["check_id"] for s in result.signals}
    assert {"CKV_K8S_12", "CKV_AWS_24"} <= ids
    assert len({s.fingerprint for s in result.signals}) == 31


def test_security_severity_and_levels_and_bad_results() -> None:
    payload = {
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "T",
                        "rules": [
                            {"id": "R1", "properties": {"security-severity": "9.8"}},
                            {"id": "R2", "defaultConfiguration": {"level": "note"}},
                        ],
                    }
                },
                "results": [
                    {"ruleId": "R1", "message": {"text": "bad"}},
                    {
                        "ruleId": "R2",
                        "ruleIndex": 1,
                        "message": {"text": "meh"},
                        "partialFingerprints": {"primaryLocationLineHash": "abc"},
                    },
                    {"message": {"text": "no rule"}},
                    {"ruleId": "R1", "kind": "pass"},
                ],
            }
        ],
    }
    result = parse_sarif(payload, NOW)
    assert [s.severity for s in result.signals] == [Severity.CRITICAL, Severity.LOW]
    assert [i for i, _ in result.rejected] == [2]
    with pytest.raises(InputError):
        parse_sarif({"version": "2.1.0"}, NOW)
