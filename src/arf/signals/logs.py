"""Logs → log signals: JSON lines and plain text. Lines below error level are not stored.

JSON lines carry `ts|time|timestamp`, `level|severity`, `service`, `msg|message`. Plain-text
lines start with an RFC 3339 timestamp (`2026-11-24T13:05:00Z ERROR ...`) or a syslog one
(`Nov 24 13:05:00 host checkout[812]: ...`); the level is the first level word; the service
is `service=NAME`, the syslog tag, or the default the caller names. Repeated lines fold into
one signal per (service, template), where the template replaces numbers and hex identifiers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from arf.core.errors import InputError
from arf.core.records import Severity, Signal, SignalKind, SignalStatus
from arf.signals.alertmanager import ParseResult
from arf.signals.normalise import fingerprint, parse_time, payload_digest, severity_from

_VARIABLE = re.compile(r"0x[0-9a-fA-F]+|\b[0-9a-fA-F]{8,}\b|\d+(?:\.\d+)?")
_ISO = re.compile(r"^\s*(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))")
_SYSLOG = re.compile(
    r"^\s*([A-Z][a-z]{2}\s+\d{1,2}\s\d{2}:\d{2}:\d{2})\s+(\S+)\s+([\w.\-/]+)"
    r"(?:\[\d+\])?:\s*"
)
_LEVEL = re.compile(
    r"\b(FATAL|CRITICAL|CRIT|ERROR|ERR|WARNING|WARN|INFO|DEBUG|TRACE)\b", re.IGNORECASE
)
_SERVICE = re.compile(r"\b(?:service|svc|app)=([\w.\-]+)")


def template_of(message: str) -> str:
    return _VARIABLE.sub("#", message)[:500]


@dataclass(frozen=True)
class LogLine:
    at: datetime
    level: Severity
    service: str
    message: str


def _json_line(line: str, number: int) -> LogLine:
    record = json.loads(line)
    if not isinstance(record, dict):
        raise InputError(f"line {number}: expected a JSON object")
    level = severity_from(
        str(record.get("level") or record.get("severity") or ""), default=Severity.INFO
    )
    service = record.get("service")
    message = record.get("msg") or record.get("message")
    if not isinstance(service, str) or not isinstance(message, str):
        raise InputError(f"line {number}: 'service' and 'msg' are required")
    at = parse_time(
        record.get("ts") or record.get("time") or record.get("timestamp"), f"line {number}.ts"
    )
    return LogLine(at, level, service, message)


def _text_line(
    line: str, number: int, received_at: datetime, default_service: str | None
) -> LogLine:
    service: str | None = None
    iso = _ISO.match(line)
    syslog = _SYSLOG.match(line)
    if iso:
        at = parse_time(iso.group(1).replace(" ", "T", 1), f"line {number} timestamp")
        rest = line[iso.end() :]
    elif syslog:
        # Syslog omits the year: take the receiver's, a year earlier if that lands ahead.
        moment = datetime.strptime(f"{received_at.year} {syslog.group(1)}", "%Y %b %d %H:%M:%S")
        at = moment.replace(tzinfo=UTC)
        if at > received_at:
            at = at.replace(year=received_at.year - 1)
        service = syslog.group(3)
        rest = line[syslog.end() :]
    else:
        raise InputError(f"line {number}: no timestamp (RFC 3339 or syslog) at the start")
    level_match = _LEVEL.search(rest)
    level = severity_from(level_match.group(1) if level_match else "", default=Severity.INFO)
    if level_match and level_match.group(1).upper() in ("ERR", "CRIT"):
        level = Severity.HIGH if level_match.group(1).upper() == "ERR" else Severity.CRITICAL
    named = _SERVICE.search(rest)
    service = named.group(1) if named else service or default_service
    if not service:
        raise InputError(f"line {number}: no service (write service=NAME or pass --service)")
    return LogLine(at, level, service, rest.strip())


def parse_lines(
    lines: Iterable[str], received_at: datetime, default_service: str | None = None
) -> ParseResult:
    good: list[Signal] = []
    bad: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            parsed = (
                _json_line(line, number)
                if line.lstrip().startswith("{")
                else _text_line(line, number, received_at, default_service)
            )
            if parsed.level.rank < Severity.HIGH.rank:
                continue
            template = template_of(parsed.message)
            stable = "log:" + fingerprint(parsed.service, template)
            good.append(
                Signal(
                    signal_id="sig-" + fingerprint(stable, parsed.at.isoformat(), str(number))[:20],
                    source="logs",
                    kind=SignalKind.LOG,
                    fingerprint=stable,
                    service=parsed.service,
                    severity=parsed.level,
                    status=SignalStatus.FIRING,
                    title=template,
                    body=parsed.message[:20_000],
                    attributes={"template": template},
                    observed_at=parsed.at,
                    received_at=received_at,
                    payload_digest=payload_digest({"line": line}),
                )
            )
        except json.JSONDecodeError as exc:
            bad.append((number, f"line {number}: not JSON ({exc.msg})"))
        except (InputError, ValueError) as exc:
            bad.append((number, str(exc)[:500]))
    return ParseResult(tuple(good), tuple(bad))
