"""Active alerts pulled from Prometheus' `GET /api/v1/alerts`.

Firing alerts become alert signals with Alertmanager's fingerprint of their label set, so
a pulled alert and the same alert pushed by Alertmanager are one signal. Pending alerts are
not yet alerts. The pull is a full picture: alerts pulled earlier that are gone now resolve.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from arf.core.errors import InputError
from arf.core.records import STARTS_AT, Signal, SignalKind, SignalStatus
from arf.signals.alertmanager import ENVIRONMENT_LABELS, SERVICE_LABELS, ParseResult
from arf.signals.normalise import (
    fingerprint,
    label_fingerprint,
    parse_time,
    payload_digest,
    severity_from,
)

SOURCE = "prometheus"


def _first(labels: Mapping[str, str], keys: Iterable[str]) -> str | None:
    return next((labels[k] for k in keys if labels.get(k)), None)


def parse_alerts(payload: object, received_at: datetime) -> ParseResult:
    if not isinstance(payload, Mapping) or payload.get("status") != "success":
        raise InputError("prometheus: expected a successful /api/v1/alerts response")
    alerts = (payload.get("data") or {}).get("alerts")
    if not isinstance(alerts, list):
        raise InputError("prometheus: data.alerts must be a list")
    good: list[Signal] = []
    bad: list[tuple[int, str]] = []
    for index, alert in enumerate(alerts):
        try:
            if not isinstance(alert, Mapping):
                raise InputError(f"alerts[{index}]: expected an object")
            if alert.get("state") != "firing":
                continue
            labels = {str(k): str(v) for k, v in (alert.get("labels") or {}).items()}
            annotations: Mapping[str, Any] = alert.get("annotations") or {}
            name = labels.get("alertname")
            if not name:
                raise InputError(f"alerts[{index}]: labels.alertname is missing")
            active = parse_time(alert.get("activeAt"), f"alerts[{index}].activeAt")
            stable = "am:" + label_fingerprint(labels)
            summary = str(annotations.get("summary") or annotations.get("description") or name)
            good.append(
                Signal(
                    signal_id="sig-" + fingerprint(stable, active.isoformat())[:20],
                    source=SOURCE,
                    kind=SignalKind.ALERT,
                    fingerprint=stable,
                    service=_first(labels, SERVICE_LABELS),
                    resource=labels.get("instance"),
                    environment=_first(labels, ENVIRONMENT_LABELS) or "production",
                    severity=severity_from(labels.get("severity")),
                    status=SignalStatus.FIRING,
                    title=f"{name}: {summary}"[:2000],
                    body="\n".join(f"{k}: {v}" for k, v in sorted(annotations.items()))[:20_000],
                    labels=labels,
                    attributes={
                        "alertname": name,
                        STARTS_AT: active.isoformat(),
                        "value": str(alert.get("value", "")),
                    },
                    observed_at=active,
                    received_at=received_at,
                    payload_digest=payload_digest(dict(alert)),
                )
            )
        except (InputError, ValueError, TypeError) as exc:
            bad.append((index, str(exc)[:500]))
    return ParseResult(tuple(good), tuple(bad))


def resolutions(
    previously_firing: Iterable[Signal], now_firing: Iterable[Signal], received_at: datetime
) -> tuple[Signal, ...]:
    """Resolved signals for pulled alerts that are no longer active."""
    active = {s.fingerprint for s in now_firing}
    return tuple(
        signal.model_copy(update={"status": SignalStatus.RESOLVED, "received_at": received_at})
        for signal in previously_firing
        if signal.fingerprint not in active
    )
