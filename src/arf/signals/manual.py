"""A person asking ARF to look at a service (`arf request`): a signal like any other, which
opens or joins an incident and marks who asked, so that person cannot approve the plan."""

from __future__ import annotations

from datetime import datetime

from arf.core.records import Severity, Signal, SignalKind
from arf.signals.normalise import fingerprint, payload_digest

SOURCE = "manual"


def manual_request(
    service: str, reason: str, requested_by: str, environment: str, at: datetime
) -> Signal:
    body = {"service": service, "reason": reason, "requested_by": requested_by}
    return Signal(
        signal_id="sig-" + fingerprint(SOURCE, service, requested_by, at.isoformat()),
        source=SOURCE,
        kind=SignalKind.EVENT,
        fingerprint=fingerprint(SOURCE, service, requested_by, at.isoformat()),
        service=service,
        environment=environment,
        severity=Severity.HIGH,  # a person asking is a failure worth an incident
        title=f"remediation requested by {requested_by}: {reason}"[:2000],
        body=reason[:20_000],
        attributes={"requested_by": requested_by},
        observed_at=at,
        received_at=at,
        payload_digest=payload_digest(body),
    )


def requester_of(signal: Signal) -> str | None:
    """Who asked, for a manual request; None for every other signal."""
    if signal.source != SOURCE:
        return None
    value = signal.attributes.get("requested_by")
    return value if isinstance(value, str) and value else None
