"""Deploy, configuration and IaC change events as CloudEvents 1.0 (structured JSON mode).

The kind of change is the type's last segment (`dev.arf.change.deploy` is a `deploy`):
`deploy`, `config`, `scale` and `iac` are the kinds ARF judges itself; any other kind (a
`feature_flag`, a `secret_rotation`) is kept as it is named, and reasoning suspects it when a
catalogued action declares it undoes that kind. The event's `subject` names the service or
resource; `data` carries the change details (`from`, `to`, `key`, ...).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

from arf.core.errors import InputError
from arf.core.records import Severity, Signal, SignalKind, SignalStatus
from arf.signals.normalise import fingerprint, parse_time, payload_digest

CHANGE_KINDS = ("deploy", "config", "scale", "iac")  # the kinds ARF judges without an action
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def looks_like_cloudevent(payload: object) -> bool:
    return isinstance(payload, Mapping) and "specversion" in payload


def parse_change_event(payload: object, received_at: datetime) -> Signal:
    if not isinstance(payload, Mapping):
        raise InputError("cloudevent: the body must be a JSON object")
    if payload.get("specversion") != "1.0":
        raise InputError(f"cloudevent: unsupported specversion {payload.get('specversion')!r}")
    for required in ("id", "source", "type"):
        if not isinstance(payload.get(required), str) or not payload.get(required):
            raise InputError(f"cloudevent: '{required}' is required")
    event_type = str(payload["type"])
    change_kind = event_type.rsplit(".", 1)[-1]
    if not _KIND.match(change_kind):
        raise InputError(
            f"cloudevent: type {event_type!r} names no kind of change (expected a type ending"
            f" in a lower-case name such as {', '.join(CHANGE_KINDS)})"
        )
    subject = payload.get("subject")
    if not isinstance(subject, str) or not subject:
        raise InputError("cloudevent: 'subject' must name the changed service or resource")
    data = payload.get("data") or {}
    if not isinstance(data, Mapping):
        raise InputError("cloudevent: 'data' must be a JSON object")
    at = parse_time(payload.get("time"), "cloudevent.time")
    attributes: dict[str, object] = {"change_type": change_kind, "event_type": event_type}
    for key in ("from", "to", "key", "resource", "author", "commit", "description"):
        if key in data and isinstance(data[key], str | int | float | bool):
            attributes[key] = data[key]
    described = str(data.get("description") or "")
    title = f"{change_kind} of {subject}"
    if "from" in attributes or "to" in attributes:
        title += f": {attributes.get('from', '?')} -> {attributes.get('to', '?')}"
    if "key" in attributes:
        title += f" ({attributes['key']})"
    is_resource = change_kind == "iac"
    return Signal(
        signal_id="sig-" + fingerprint(str(payload["source"]), str(payload["id"]))[:20],
        source=str(payload["source"])[:200],
        kind=SignalKind.CHANGE,
        fingerprint="ce:" + fingerprint(str(payload["source"]), str(payload["id"])),
        service=None if is_resource else subject,
        resource=subject if is_resource else None,
        environment=str(data.get("environment") or "production"),
        severity=Severity.INFO,
        status=SignalStatus.RESOLVED,
        title=title[:2000],
        body=described[:20_000],
        labels={},
        attributes=attributes,
        observed_at=at,
        received_at=received_at,
        payload_digest=payload_digest(payload),
    )
