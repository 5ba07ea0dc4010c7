"""A generic JSON source, configured by a field mapping (for tools ARF has no parser for).

Mapping file (YAML):

    name: acme-monitor
    items: data.events          # dotted path to the list of items; "" for one item
    kind: alert                 # alert | finding | change | event | log
    fields:
      title: summary
      service: labels.service
      resource: host            # optional
      severity: level           # optional; words like warning/critical/high
      status: state             # optional; values mapped by status_values
      observed_at: ts           # RFC 3339 text or Unix seconds
      fingerprint: [id]         # one or more paths whose values identify the thing
      body: description         # optional
    status_values: {firing: [alert, triggered], resolved: [ok, recovered]}

Paths are dotted, with `[n]` for list positions (`tags[0].value`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from arf.core.errors import ConfigError, InputError
from arf.core.records import Signal, SignalKind, SignalStatus
from arf.core.yaml_files import validation_problem
from arf.signals.alertmanager import ParseResult
from arf.signals.normalise import fingerprint, parse_time, payload_digest, severity_from

_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class FieldMap(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str
    observed_at: str
    fingerprint: tuple[str, ...] = Field(min_length=1)
    service: str | None = None
    resource: str | None = None
    severity: str | None = None
    status: str | None = None
    body: str | None = None


class JsonMapping(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,62}$")
    items: str = ""
    kind: SignalKind = SignalKind.ALERT
    fields: FieldMap
    status_values: dict[str, tuple[str, ...]] = Field(default_factory=dict)

    @classmethod
    def from_file(cls, path: Path) -> JsonMapping:
        try:
            return cls.model_validate(yaml.safe_load(path.read_text("utf-8")))
        except OSError as exc:
            raise ConfigError(f"cannot read mapping {path}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        except ValidationError as exc:
            raise ConfigError(f"{path}: {validation_problem(exc)}") from exc


def lookup(value: Any, path: str) -> Any:
    """Follow a dotted path (`a.b[0].c`); None where it leads nowhere."""
    if not path:
        return value
    for name, index in _STEP.findall(path):
        if name:
            value = value.get(name) if isinstance(value, Mapping) else None
        else:
            position = int(index)
            value = value[position] if isinstance(value, list) and position < len(value) else None
        if value is None:
            return None
    return value


def _time(value: Any, where: str) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC)
    return parse_time(value, where)


def _item(mapping: JsonMapping, item: Any, index: int, received_at: datetime) -> Signal:
    fields = mapping.fields
    title = lookup(item, fields.title)
    if not isinstance(title, str) or not title:
        raise InputError(f"items[{index}]: {fields.title} is missing")
    parts = [lookup(item, path) for path in fields.fingerprint]
    if any(part is None for part in parts):
        raise InputError(f"items[{index}]: a fingerprint field is missing")
    observed = _time(lookup(item, fields.observed_at), f"items[{index}].{fields.observed_at}")
    status = SignalStatus.FIRING
    if fields.status:
        raw = str(lookup(item, fields.status) or "")
        for name, words in mapping.status_values.items():
            if raw.lower() in (w.lower() for w in words):
                status = SignalStatus(name)
    stable = f"json:{mapping.name}:" + fingerprint(*(str(p) for p in parts))
    service = lookup(item, fields.service) if fields.service else None
    resource = lookup(item, fields.resource) if fields.resource else None
    body = lookup(item, fields.body) if fields.body else None
    severity = lookup(item, fields.severity) if fields.severity else None
    return Signal(
        signal_id="sig-" + fingerprint(stable, status.value, observed.isoformat())[:20],
        source=mapping.name,
        kind=mapping.kind,
        fingerprint=stable,
        service=str(service) if service is not None else None,
        resource=str(resource) if resource is not None else None,
        severity=severity_from(str(severity) if severity is not None else None),
        status=status,
        title=title[:2000],
        body=str(body)[:20_000] if body is not None else "",
        labels={"mapping": mapping.name},
        attributes={},
        observed_at=observed,
        received_at=received_at,
        payload_digest=payload_digest(item if isinstance(item, dict) else {"item": item}),
    )


def parse_generic(payload: Any, mapping: JsonMapping, received_at: datetime) -> ParseResult:
    found = lookup(payload, mapping.items)
    items = [found] if not mapping.items else found
    if not isinstance(items, list):
        raise InputError(f"{mapping.name}: {mapping.items or 'the payload'} is not a list")
    good: list[Signal] = []
    bad: list[tuple[int, str]] = []
    for index, item in enumerate(items):
        try:
            good.append(_item(mapping, item, index, received_at))
        except (InputError, ValueError, TypeError) as exc:
            bad.append((index, str(exc)[:500]))
    return ParseResult(tuple(good), tuple(bad))
