"""JSON-lines logs → log signals. Lines below error level are counted, not stored.

Repeated lines fold into one signal per (service, template), where the template replaces
numbers and hex identifiers so that "timeout after 31 ms" and "timeout after 2 ms" are one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime

from arf.core.errors import InputError
from arf.core.records import Severity, Signal, SignalKind, SignalStatus
from arf.signals.alertmanager import ParseResult
from arf.signals.normalise import fingerprint, parse_time, payload_digest, severity_from

_VARIABLE = re.compile(r"0x[0-9a-fA-F]+|\b[0-9a-fA-F]{8,}\b|\d+(?:\.\d+)?")


def template_of(message: str) -> str:
    return _VARIABLE.sub("#", message)[:500]


def parse_lines(lines: Iterable[str], received_at: datetime) -> ParseResult:
    good: list[Signal] = []
    bad: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise InputError(f"line {number}: expected a JSON object")
            level = severity_from(
                str(record.get("level") or record.get("severity") or ""), default=Severity.INFO
            )
            if level.rank < Severity.HIGH.rank:
                continue
            service = record.get("service")
            message = record.get("msg") or record.get("message")
            if not isinstance(service, str) or not isinstance(message, str):
                raise InputError(f"line {number}: 'service' and 'msg' are required")
            at = parse_time(
                record.get("ts") or record.get("time") or record.get("timestamp"),
                f"line {number}.ts",
            )
            template = template_of(message)
            stable = "log:" + fingerprint(service, template)
            good.append(
                Signal(
                    signal_id="sig-" + fingerprint(stable, at.isoformat(), str(number))[:20],
                    source="logs",
                    kind=SignalKind.LOG,
                    fingerprint=stable,
                    service=service,
                    severity=level,
                    status=SignalStatus.FIRING,
                    title=template,
                    body=message[:20_000],
                    attributes={"template": template},
                    observed_at=at,
                    received_at=received_at,
                    payload_digest=payload_digest(record),
                )
            )
        except json.JSONDecodeError as exc:
            bad.append((number, f"line {number}: not JSON ({exc.msg})"))
        except (InputError, ValueError) as exc:
            bad.append((number, str(exc)[:500]))
    return ParseResult(tuple(good), tuple(bad))
