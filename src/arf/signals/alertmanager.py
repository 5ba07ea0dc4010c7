"""Alertmanager webhook (version 4) payloads → alert signals.

One bad alert in a batch does not lose the good ones: each alert is parsed on its own and the
result lists the rejected ones with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from arf.core.errors import InputError
from arf.core.records import STARTS_AT, Signal, SignalKind, SignalStatus
from arf.signals.normalise import (
    fingerprint,
    label_fingerprint,
    parse_time,
    payload_digest,
    severity_from,
)

SERVICE_LABELS = ("service", "app", "deployment", "job")
ENVIRONMENT_LABELS = ("environment", "env")


@dataclass(frozen=True)
class ParseResult:
    signals: tuple[Signal, ...]
    rejected: tuple[tuple[int, str], ...] = field(default_factory=tuple)


def _string_map(value: object, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(f"{where}: expected an object")
    return {str(k): str(v) for k, v in value.items()}


def _first(labels: Mapping[str, str], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        if labels.get(key):
            return labels[key]
    return None


def parse_alert(alert: object, index: int, received_at: datetime) -> Signal:
    if not isinstance(alert, Mapping):
        raise InputError(f"alerts[{index}]: expected an object")
    labels = _string_map(alert.get("labels"), f"alerts[{index}].labels")
    annotations = _string_map(alert.get("annotations"), f"alerts[{index}].annotations")
    alertname = labels.get("alertname")
    if not alertname:
        raise InputError(f"alerts[{index}]: labels.alertname is missing")
    status_word = alert.get("status")
    if status_word not in ("firing", "resolved"):
        raise InputError(f"alerts[{index}].status: expected 'firing' or 'resolved'")
    starts_at = parse_time(alert.get("startsAt"), f"alerts[{index}].startsAt")
    am_fingerprint = alert.get("fingerprint")
    if am_fingerprint is not None and not isinstance(am_fingerprint, str):
        raise InputError(f"alerts[{index}].fingerprint: expected a string")
    stable = "am:" + (am_fingerprint or label_fingerprint(labels))
    service = _first(labels, SERVICE_LABELS)
    summary = annotations.get("summary") or annotations.get("description") or alertname
    body = "\n".join(f"{k}: {v}" for k, v in sorted(annotations.items()))
    starts = starts_at.isoformat()
    attributes: dict[str, object] = {"alertname": alertname, STARTS_AT: starts}
    if alert.get("generatorURL"):
        attributes["generator_url"] = str(alert.get("generatorURL"))
    return Signal(
        signal_id="sig-" + fingerprint(stable, starts)[:20],
        source="alertmanager",
        kind=SignalKind.ALERT,
        fingerprint=stable,
        service=service,
        resource=labels.get("instance"),
        environment=_first(labels, ENVIRONMENT_LABELS) or "production",
        severity=severity_from(labels.get("severity")),
        status=SignalStatus(status_word),
        title=f"{alertname}: {summary}"[:2000],
        body=body[:20_000],
        labels=labels,
        attributes=attributes,
        observed_at=starts_at,
        received_at=received_at,
        payload_digest=payload_digest(alert),
    )


def looks_like_alertmanager(payload: object) -> bool:
    return isinstance(payload, Mapping) and "alerts" in payload and "version" in payload


def parse_webhook(payload: object, received_at: datetime) -> ParseResult:
    """Parse one webhook body. The envelope must be valid; alerts are parsed one by one."""
    if not isinstance(payload, Mapping):
        raise InputError("alertmanager webhook: the body must be a JSON object")
    version = payload.get("version")
    if version != "4":
        raise InputError(f"alertmanager webhook: unsupported version {version!r} (expected '4')")
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise InputError("alertmanager webhook: 'alerts' must be a list")
    good: list[Signal] = []
    bad: list[tuple[int, str]] = []
    for index, alert in enumerate(alerts):
        try:
            good.append(parse_alert(alert, index, received_at))
        except InputError as exc:
            bad.append((index, str(exc)))
        except ValueError as exc:  # pydantic validation of the normalised record
            bad.append((index, f"alerts[{index}]: {exc.__class__.__name__}: {exc}"[:500]))
    return ParseResult(tuple(good), tuple(bad))
