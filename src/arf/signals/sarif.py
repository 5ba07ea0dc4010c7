"""SARIF 2.1.0 from any scanner (Checkov, Bandit, Semgrep, CodeQL, ...) → finding signals.

Fingerprint: the result's own `partialFingerprints` or `fingerprints` when present, else
tool + rule + artifact + start line. Target: the first logical location's fully qualified
name, else the artifact URI. Severity: `properties.security-severity` (0-10) when present,
else the result's (or its rule's default) level; an unknown severity counts as high.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from arf.core.errors import InputError
from arf.core.records import Severity, Signal, SignalKind, SignalStatus
from arf.signals.alertmanager import ParseResult
from arf.signals.normalise import fingerprint, payload_digest

_LEVELS = {
    "error": Severity.HIGH,
    "warning": Severity.MEDIUM,
    "note": Severity.LOW,
    "none": Severity.INFO,
}


def looks_like_sarif(payload: object) -> bool:
    return (
        isinstance(payload, Mapping)
        and str(payload.get("version", "")).startswith("2.1")
        and isinstance(payload.get("runs"), list)
    )


def _severity(result: Mapping[str, Any], rule: Mapping[str, Any]) -> Severity:
    for holder in (result.get("properties"), rule.get("properties")):
        if isinstance(holder, Mapping) and "security-severity" in holder:
            try:
                score = float(holder["security-severity"])
            except (TypeError, ValueError):
                break
            if score >= 9:
                return Severity.CRITICAL
            if score >= 7:
                return Severity.HIGH
            if score >= 4:
                return Severity.MEDIUM
            return Severity.LOW if score > 0 else Severity.INFO
    level = result.get("level")
    if level is None:
        default = rule.get("defaultConfiguration")
        level = default.get("level") if isinstance(default, Mapping) else None
    return _LEVELS.get(str(level), Severity.HIGH) if level is not None else Severity.HIGH


def _location(result: Mapping[str, Any]) -> tuple[str, int | None, str | None]:
    locations = result.get("locations") or []
    if not locations or not isinstance(locations[0], Mapping):
        return "", None, None
    first = locations[0]
    physical = first.get("physicalLocation") or {}
    uri = str((physical.get("artifactLocation") or {}).get("uri") or "")
    region = physical.get("region") or {}
    line = region.get("startLine") if isinstance(region.get("startLine"), int) else None
    logical = first.get("logicalLocations") or []
    name = None
    if logical and isinstance(logical[0], Mapping):
        name = logical[0].get("fullyQualifiedName") or logical[0].get("name")
    return uri, line, str(name) if name else None


def _text(value: object) -> str:
    return str(value.get("text") or "") if isinstance(value, Mapping) else ""


def _result(
    run_tool: str,
    rules: Sequence[Mapping[str, Any]],
    result: Mapping[str, Any],
    received_at: datetime,
) -> Signal:
    rule_id = result.get("ruleId")
    index = result.get("ruleIndex")
    rule: Mapping[str, Any] = {}
    if isinstance(index, int) and 0 <= index < len(rules):
        rule = rules[index]
    elif rule_id is not None:
        rule = next((r for r in rules if r.get("id") == rule_id), {})
    rule_id = str(rule_id or rule.get("id") or "")
    if not rule_id:
        raise InputError("sarif: a result has no ruleId")
    uri, line, logical = _location(result)
    own = result.get("partialFingerprints") or result.get("fingerprints")
    stable = (
        "sarif:" + fingerprint(run_tool, rule_id, *(f"{k}={v}" for k, v in sorted(own.items())))
        if isinstance(own, Mapping) and own
        else "sarif:" + fingerprint(run_tool, rule_id, uri, str(line or ""))
    )
    message = _text(result.get("message")) or _text(rule.get("shortDescription")) or rule_id
    target = logical or uri or run_tool
    snippet = _text(
        (
            (((result.get("locations") or [{}])[0] or {}).get("physicalLocation") or {}).get(
                "region"
            )
            or {}
        ).get("snippet")
    )
    return Signal(
        signal_id="sig-" + fingerprint(stable, received_at.isoformat())[:20],
        source=run_tool[:200] or "sarif",
        kind=SignalKind.FINDING,
        fingerprint=stable,
        resource=target[:500],
        severity=_severity(result, rule),
        status=SignalStatus.FIRING,
        title=f"{rule_id}: {message} ({target})"[:2000],
        body=(_text(rule.get("help")) + ("\n" + snippet if snippet else ""))[:20_000],
        labels={"check_id": rule_id, "tool": run_tool[:100]},
        attributes={
            "check_id": rule_id,
            "file_path": uri,
            "line_range": [line] if line is not None else [],
        },
        observed_at=received_at,
        received_at=received_at,
        payload_digest=payload_digest(dict(result)),
    )


def parse_sarif(payload: object, received_at: datetime) -> ParseResult:
    if not isinstance(payload, Mapping) or not looks_like_sarif(payload):
        raise InputError("sarif: expected a SARIF 2.1 log with a 'runs' list")
    good: list[Signal] = []
    bad: list[tuple[int, str]] = []
    index = 0
    for run in payload["runs"]:
        if not isinstance(run, Mapping):
            raise InputError("sarif: every run must be an object")
        driver = (run.get("tool") or {}).get("driver") or {}
        tool = str(driver.get("name") or "sarif")
        rules = [r for r in (driver.get("rules") or []) if isinstance(r, Mapping)]
        for result in run.get("results") or []:
            try:
                if not isinstance(result, Mapping):
                    raise InputError("sarif: a result must be an object")
                if result.get("kind") not in (None, "fail", "open", "review"):
                    index += 1
                    continue  # pass / notApplicable / informational results are not findings
                good.append(_result(tool, rules, result, received_at))
            except (InputError, ValueError, TypeError, AttributeError) as exc:
                bad.append((index, f"result {index}: {exc}"[:500]))
            index += 1
    return ParseResult(tuple(good), tuple(bad))
