"""Checkov JSON output (single framework object or a list of frameworks) → finding signals.

Failed checks become firing findings; passed checks resolve earlier findings with the same
fingerprint. Checkov's severities are null offline: an unknown severity is treated as high.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from arf.core.errors import InputError
from arf.core.records import Severity, Signal, SignalKind, SignalStatus
from arf.signals.alertmanager import ParseResult
from arf.signals.normalise import fingerprint, payload_digest, severity_from


def looks_like_checkov(payload: object) -> bool:
    reports = payload if isinstance(payload, list) else [payload]
    return bool(reports) and all(
        isinstance(r, Mapping) and "check_type" in r and "results" in r for r in reports
    )


def finding_fingerprint(check_id: str, resource: str, file_path: str) -> str:
    return "ckv:" + fingerprint(check_id, resource, file_path)


def _finding(
    check: Mapping[str, object], check_type: str, status: SignalStatus, received_at: datetime
) -> Signal:
    check_id = check.get("check_id")
    resource = check.get("resource")
    file_path = check.get("file_path") or check.get("repo_file_path") or ""
    if not isinstance(check_id, str) or not isinstance(resource, str):
        raise InputError("checkov: a check lacks check_id or resource")
    name = str(check.get("check_name") or check_id)
    severity_word = check.get("severity")
    severity = severity_from(
        severity_word if isinstance(severity_word, str) else None, default=Severity.HIGH
    )
    stable = finding_fingerprint(check_id, resource, str(file_path))
    line_range = check.get("file_line_range")
    return Signal(
        signal_id="sig-" + fingerprint(stable, status.value, received_at.isoformat())[:20],
        source="checkov",
        kind=SignalKind.FINDING,
        fingerprint=stable,
        service=None,
        resource=resource,
        severity=severity,
        status=status,
        title=f"{check_id}: {name} ({resource})"[:2000],
        body=str(check.get("guideline") or "")[:20_000],
        labels={"check_id": check_id, "check_type": check_type},
        attributes={
            "check_id": check_id,
            "file_path": str(file_path),
            "line_range": [int(x) for x in line_range]
            if isinstance(line_range, list) and all(isinstance(x, int) for x in line_range)
            else [],
        },
        observed_at=received_at,
        received_at=received_at,
        payload_digest=payload_digest(dict(check)),
    )


def parse_report(payload: object, received_at: datetime) -> ParseResult:
    reports: Sequence[object] = payload if isinstance(payload, list) else [payload]
    good: list[Signal] = []
    bad: list[tuple[int, str]] = []
    index = 0
    for report in reports:
        if not isinstance(report, Mapping) or not isinstance(report.get("results"), Mapping):
            raise InputError("checkov: expected objects with 'check_type' and 'results'")
        check_type = str(report.get("check_type"))
        results = report["results"]
        for key, status in (
            ("failed_checks", SignalStatus.FIRING),
            ("passed_checks", SignalStatus.RESOLVED),
        ):
            checks = results.get(key) or []
            if not isinstance(checks, list):
                raise InputError(f"checkov: results.{key} must be a list")
            for check in checks:
                try:
                    if not isinstance(check, Mapping):
                        raise InputError("checkov: a check must be an object")
                    good.append(_finding(check, check_type, status, received_at))
                except (InputError, ValueError) as exc:
                    bad.append((index, str(exc)[:500]))
                index += 1
    return ParseResult(tuple(good), tuple(bad))
