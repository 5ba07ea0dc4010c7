"""Terraform plan JSON (`terraform show -json PLANFILE`) → IaC change signals.

One change signal per resource change that is not a no-op, naming the resource address, the
actions (create, update, delete, replace) and the attributes that change. Values Terraform
marks sensitive (`before_sensitive` / `after_sensitive`) are never copied.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from arf.core.errors import InputError
from arf.core.records import Severity, Signal, SignalKind, SignalStatus
from arf.signals.alertmanager import ParseResult
from arf.signals.normalise import fingerprint, parse_time, payload_digest

SENSITIVE = "[REDACTED:terraform_sensitive]"


def looks_like_terraform_plan(payload: object) -> bool:
    return (
        isinstance(payload, Mapping)
        and "format_version" in payload
        and isinstance(payload.get("resource_changes"), list)
    )


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _sensitive(mask: object, key: str) -> bool:
    return isinstance(mask, Mapping) and bool(mask.get(key))


def _shown(value: object, sensitive: bool) -> str:
    if sensitive:
        return SENSITIVE
    text = value if isinstance(value, str) else repr(value)
    return text[:200]


def _change(
    item: Mapping[str, Any], when: datetime, received_at: datetime, plan_id: str
) -> Signal | None:
    address = item.get("address")
    change = item.get("change")
    if not isinstance(address, str) or not isinstance(change, Mapping):
        raise InputError("terraform: a resource change lacks address or change")
    actions = [str(a) for a in change.get("actions") or []]
    if not actions or actions == ["no-op"] or actions == ["read"]:
        return None
    before = _mapping(change.get("before"))
    after = _mapping(change.get("after"))
    unknown = _mapping(change.get("after_unknown"))
    keys = sorted(
        k
        for k in set(before) | set(after) | set(unknown)
        if before.get(k) != after.get(k) or unknown.get(k)
    )
    attributes: dict[str, Any] = {
        "change_type": "iac",
        "actions": actions,
        "changed_keys": keys[:50],
        "resource_type": str(item.get("type") or ""),
        "plan": plan_id,
    }
    if len(keys) == 1:
        key = keys[0]
        attributes["key"] = key
        attributes["from"] = _shown(
            before.get(key), _sensitive(change.get("before_sensitive"), key)
        )
        attributes["to"] = (
            "(known after apply)"
            if unknown.get(key)
            else _shown(after.get(key), _sensitive(change.get("after_sensitive"), key))
        )
    verb = "replace" if sorted(actions) == ["create", "delete"] else "+".join(actions)
    destructive = "delete" in actions
    stable = "tfplan:" + fingerprint(plan_id, address)
    return Signal(
        signal_id="sig-" + fingerprint(stable, when.isoformat())[:20],
        source="terraform",
        kind=SignalKind.CHANGE,
        fingerprint=stable,
        resource=address,
        severity=Severity.MEDIUM if destructive else Severity.INFO,
        status=SignalStatus.RESOLVED,
        title=f"iac {verb} of {address}"
        + (f": {', '.join(keys[:5])}" if keys and verb == "update" else ""),
        labels={"actions": ",".join(actions)},
        attributes=attributes,
        observed_at=when,
        received_at=received_at,
        payload_digest=payload_digest(dict(item)),
    )


def parse_plan(payload: object, received_at: datetime) -> ParseResult:
    if not isinstance(payload, Mapping) or not looks_like_terraform_plan(payload):
        raise InputError("terraform: expected `terraform show -json` plan output")
    when = (
        parse_time(payload["timestamp"], "terraform.timestamp")
        if payload.get("timestamp")
        else received_at
    )
    plan_id = payload_digest(payload)[:16]
    good: list[Signal] = []
    bad: list[tuple[int, str]] = []
    for index, item in enumerate(payload["resource_changes"]):
        try:
            if not isinstance(item, Mapping):
                raise InputError("terraform: a resource change must be an object")
            signal = _change(item, when, received_at, plan_id)
            if signal is not None:
                good.append(signal)
        except (InputError, ValueError, TypeError) as exc:
            bad.append((index, f"resource_changes[{index}]: {exc}"[:500]))
    return ParseResult(tuple(good), tuple(bad))
