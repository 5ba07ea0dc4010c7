"""Shared pieces of normalisation: fingerprints, timestamps, severities, payload digests."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from arf.core.canonical import canonical_json, sha256_hex
from arf.core.errors import InputError
from arf.core.records import Severity

_SEVERITY_WORDS: Mapping[str, Severity] = {
    "info": Severity.INFO,
    "informational": Severity.INFO,
    "none": Severity.INFO,
    "note": Severity.LOW,
    "low": Severity.LOW,
    "warning": Severity.MEDIUM,
    "warn": Severity.MEDIUM,
    "medium": Severity.MEDIUM,
    "moderate": Severity.MEDIUM,
    "error": Severity.HIGH,
    "high": Severity.HIGH,
    "major": Severity.HIGH,
    "critical": Severity.CRITICAL,
    "page": Severity.CRITICAL,
    "fatal": Severity.CRITICAL,
}


def severity_from(word: str | None, default: Severity = Severity.MEDIUM) -> Severity:
    if not word:
        return default
    return _SEVERITY_WORDS.get(word.strip().lower(), default)


def fingerprint(*parts: str) -> str:
    """A stable fingerprint; the unit separator makes ("a|b","c") differ from ("a","b|c")."""
    return sha256_hex("\x1f".join(parts))[:32]


_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211


def label_fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's fingerprint of a label set (FNV-1a 64 over sorted name/value pairs, each
    followed by the 0xff separator), so alerts pulled from Prometheus and alerts pushed by
    Alertmanager deduplicate against each other."""
    value = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode() + b"\xff":
                value = ((value ^ byte) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{value:016x}"


def payload_digest(payload: object) -> str:
    return sha256_hex(canonical_json(payload))


def parse_time(value: object, field: str) -> datetime:
    """Parse an RFC 3339 timestamp; naive times are rejected rather than guessed."""
    if not isinstance(value, str) or not value:
        raise InputError(f"{field}: expected an RFC 3339 timestamp, got {value!r}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"{field}: {value!r} is not an RFC 3339 timestamp") from exc
    if moment.tzinfo is None:
        raise InputError(f"{field}: {value!r} has no time zone")
    return moment.astimezone(UTC)
