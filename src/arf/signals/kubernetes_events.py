"""Kubernetes events (`kubectl get events -o json`): core/v1 and events.k8s.io/v1.

Accepts a List/EventList with `items` or a single Event. `Normal` events are information;
`Warning` events are medium, and reasons that mean a workload is failing (BackOff, OOMKilling,
FailedScheduling, Unhealthy, ...) are high. The service is the involved object's name with the
ReplicaSet/Pod hash or StatefulSet ordinal removed (`checkout-7d9f8b6c5d-x2k4q` → `checkout`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from arf.core.errors import InputError
from arf.core.records import Severity, Signal, SignalKind, SignalStatus
from arf.signals.alertmanager import ParseResult
from arf.signals.normalise import fingerprint, parse_time, payload_digest

FAILING_REASONS = frozenset(
    {
        "BackOff",
        "CrashLoopBackOff",
        "OOMKilling",
        "OOMKilled",
        "FailedScheduling",
        "Unhealthy",
        "Failed",
        "FailedMount",
        "FailedCreatePodSandBox",
        "Evicted",
        "NodeNotReady",
        "FailedCreate",
        "ErrImagePull",
        "ImagePullBackOff",
        "ProbeWarning",
    }
)
# Kubernetes names generated suffixes from an alphabet without vowels (and without 0, 1, 3).
_SAFE = "[bcdfghjklmnpqrstvwxz2456789]"
_POD = re.compile(rf"^(?P<base>.+?)-(?:{_SAFE}{{6,10}}-)?{_SAFE}{{5}}$")
_ORDINAL = re.compile(r"^(?P<base>.+?)-\d+$")


def workload_of(kind: str, name: str) -> str:
    if kind == "Pod":
        for pattern in (_POD, _ORDINAL):
            match = pattern.match(name)
            if match:
                return match.group("base")
    if kind == "ReplicaSet":
        match = re.match(rf"^(?P<base>.+?)-{_SAFE}{{6,10}}$", name)
        if match:
            return match.group("base")
    return name


def looks_like_kubernetes_events(payload: object) -> bool:
    if not isinstance(payload, Mapping):
        return False
    if payload.get("kind") in ("List", "EventList") and isinstance(payload.get("items"), list):
        return all(isinstance(i, Mapping) and i.get("kind") == "Event" for i in payload["items"])
    return payload.get("kind") == "Event"


def _first_time(event: Mapping[str, Any], *keys: str) -> object:
    for key in keys:
        value = event.get(key)
        if value:
            return value
    return None


def parse_event(event: Mapping[str, Any], received_at: datetime) -> Signal:
    if event.get("kind") != "Event":
        raise InputError("kubernetes: not an Event")
    new_api = str(event.get("apiVersion", "")).startswith("events.k8s.io/")
    target = event.get("regarding" if new_api else "involvedObject") or {}
    if not isinstance(target, Mapping) or not target.get("name"):
        raise InputError("kubernetes: the event names no object")
    series = event.get("series") if isinstance(event.get("series"), Mapping) else {}
    if new_api:
        message = str(event.get("note") or "")
        when = _first_time(series or {}, "lastObservedTime") or _first_time(
            event, "eventTime", "deprecatedLastTimestamp", "deprecatedFirstTimestamp"
        )
        count = (series or {}).get("count") or event.get("deprecatedCount") or 1
    else:
        message = str(event.get("message") or "")
        when = _first_time(event, "lastTimestamp", "eventTime", "firstTimestamp")
        count = event.get("count") or 1
    if when is None:
        when = (event.get("metadata") or {}).get("creationTimestamp")
    observed = parse_time(when, "kubernetes event time")
    reason = str(event.get("reason") or "Unknown")
    event_type = str(event.get("type") or "Normal")
    kind, name = str(target.get("kind") or ""), str(target["name"])
    namespace = str(
        target.get("namespace") or (event.get("metadata") or {}).get("namespace") or "default"
    )
    severity = Severity.INFO
    if event_type == "Warning":
        severity = Severity.HIGH if reason in FAILING_REASONS else Severity.MEDIUM
    stable = "k8s:" + fingerprint(namespace, kind, name, str(target.get("uid") or ""), reason)
    return Signal(
        signal_id="sig-" + fingerprint(stable, observed.isoformat())[:20],
        source="kubernetes",
        kind=SignalKind.EVENT,
        fingerprint=stable,
        service=workload_of(kind, name),
        resource=f"{kind}/{namespace}/{name}"[:500],
        severity=severity,
        status=SignalStatus.FIRING,
        title=f"{reason}: {kind} {namespace}/{name}: {message}"[:2000],
        body=message[:20_000],
        labels={"reason": reason, "type": event_type, "namespace": namespace, "object_kind": kind},
        attributes={
            "reason": reason,
            "count": int(count) if isinstance(count, int) else 1,
            "object": f"{kind}/{name}",
        },
        observed_at=observed,
        received_at=received_at,
        payload_digest=payload_digest(dict(event)),
    )


def parse_events(payload: object, received_at: datetime) -> ParseResult:
    if not looks_like_kubernetes_events(payload) or not isinstance(payload, Mapping):
        raise InputError("kubernetes: expected an Event or a List of Events")
    items = payload.get("items", [payload])
    good: list[Signal] = []
    bad: list[tuple[int, str]] = []
    for index, item in enumerate(items):
        try:
            good.append(parse_event(item, received_at))
        except (InputError, ValueError, TypeError) as exc:
            bad.append((index, f"items[{index}]: {exc}"[:500]))
    return ParseResult(tuple(good), tuple(bad))
