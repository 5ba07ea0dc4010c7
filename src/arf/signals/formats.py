"""Signal formats as registered plug-ins: how a payload is recognised and parsed.

Each format is a `SignalFormat`, returned by a zero-argument callable that an entry point of the
group `arf.signal_formats` names. ARF's own formats are registered below exactly as a third
party's would be (`pyproject.toml`); `arf ingest`, `POST /api/v1/signals/{format}` and the
format detector read the registry, never a list of names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import JsonValue

from arf.core.errors import InputError
from arf.signals import (
    alertmanager,
    changes,
    checkov,
    cicd,
    generic_json,
    kubernetes_events,
    logs,
    sarif,
    terraform_plan,
)
from arf.signals.alertmanager import ParseResult
from arf.signals.generic_json import JsonMapping


@dataclass(frozen=True)
class ParseOptions:
    log_service: str | None = None  # plain-text log lines that name no service
    mapping: JsonMapping | None = None  # the field mapping for the generic JSON format

    @classmethod
    def build(cls, log_service: str | None, mapping_file: Path | None) -> ParseOptions:
        mapping = JsonMapping.from_file(mapping_file) if mapping_file else None
        return cls(log_service=log_service, mapping=mapping)


Parser = Callable[[JsonValue, datetime, ParseOptions], ParseResult]

# What a format plug-in imports from here (docs/plugins.md).
__all__ = ["ParseOptions", "ParseResult", "SignalFormat"]


@dataclass(frozen=True)
class SignalFormat:
    """One format. `detect` recognises a payload (None: never guessed, name it with
    --format); detectors run by `priority`, lowest first. A `text` format takes the payload
    as text lines, not JSON; `suffixes` are file endings that mean it."""

    name: str
    description: str  # what the payload is, for people: "an Alertmanager webhook"
    parse: Parser
    detect: Callable[[object], bool] | None = None
    priority: int = 100
    text: bool = False
    suffixes: tuple[str, ...] = ()
    # accepted at POST /api/v1/signals/{format}; False for a format whose deliveries must
    # come through their own authenticated endpoint (signed CI webhooks)
    http: bool = True


def alertmanager_format() -> SignalFormat:
    return SignalFormat(
        "alertmanager",
        "an Alertmanager webhook",
        lambda payload, now, _: alertmanager.parse_webhook(payload, now),
        alertmanager.looks_like_alertmanager,
        priority=10,
    )


def cloudevent_format() -> SignalFormat:
    return SignalFormat(
        "cloudevent",
        "a CloudEvent (deploy, config or IaC change)",
        lambda payload, now, _: ParseResult((changes.parse_change_event(payload, now),)),
        changes.looks_like_cloudevent,
        priority=20,
    )


def checkov_format() -> SignalFormat:
    return SignalFormat(
        "checkov",
        "Checkov JSON",
        lambda payload, now, _: checkov.parse_report(payload, now),
        checkov.looks_like_checkov,
        priority=30,
    )


def sarif_format() -> SignalFormat:
    return SignalFormat(
        "sarif",
        "SARIF",
        lambda payload, now, _: sarif.parse_sarif(payload, now),
        sarif.looks_like_sarif,
        priority=40,
    )


def kubernetes_format() -> SignalFormat:
    return SignalFormat(
        "kubernetes",
        "Kubernetes events",
        lambda payload, now, _: kubernetes_events.parse_events(payload, now),
        kubernetes_events.looks_like_kubernetes_events,
        priority=50,
    )


def terraform_plan_format() -> SignalFormat:
    return SignalFormat(
        "terraform-plan",
        "a Terraform plan (terraform show -json)",
        lambda payload, now, _: terraform_plan.parse_plan(payload, now),
        terraform_plan.looks_like_terraform_plan,
        priority=60,
    )


def ci_format() -> SignalFormat:
    return SignalFormat(
        "ci",
        "a CI/CD pipeline event",
        lambda payload, now, _: cicd.parse_cicd(payload, now),
        cicd.looks_like_cicd,
        priority=70,
        http=False,  # POST /api/v1/ci/github|gitlab check the signature and replays
    )


def _parse_logs(payload: JsonValue, now: datetime, options: ParseOptions) -> ParseResult:
    if not isinstance(payload, str):
        raise InputError("logs: expected JSON lines or log lines as text")
    return logs.parse_lines(payload.splitlines(), now, options.log_service)


def logs_format() -> SignalFormat:
    return SignalFormat(
        "logs",
        "log lines (JSON lines or text)",
        _parse_logs,
        text=True,
        suffixes=(".jsonl", ".log", ".txt"),
    )


def _parse_json(payload: JsonValue, now: datetime, options: ParseOptions) -> ParseResult:
    if options.mapping is None:
        raise InputError("the generic JSON format needs a field mapping (--mapping)")
    return generic_json.parse_generic(payload, options.mapping, now)


def json_format() -> SignalFormat:
    return SignalFormat("json", "any JSON, read through a field mapping (--mapping)", _parse_json)


class FormatTable:
    """The registered formats: looked up by name, or recognised from a payload."""

    def __init__(self, formats: list[SignalFormat]) -> None:
        self._formats: dict[str, SignalFormat] = {}
        for item in formats:
            if item.name in self._formats:
                raise InputError(f"signal format {item.name!r} is registered twice")
            self._formats[item.name] = item

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._formats))

    def __contains__(self, name: object) -> bool:
        return name in self._formats

    def get(self, name: str) -> SignalFormat:
        found = self._formats.get(name)
        if found is None:
            raise InputError(f"unknown format {name!r} (known: {', '.join(self.names())})")
        return found

    def detect(self, payload: object) -> SignalFormat:
        detectable = sorted(
            (f for f in self._formats.values() if f.detect is not None),
            key=lambda f: (f.priority, f.name),
        )
        for item in detectable:
            if item.detect is not None and item.detect(payload):
                return item
        expected = ", ".join(f.description for f in detectable)
        raise InputError(f"cannot tell the payload's format (expected {expected}); pass --format")

    def for_suffix(self, suffix: str) -> SignalFormat | None:
        """The text format a file ending means, if any (`.log` -> logs)."""
        for item in self._formats.values():
            if item.text and suffix in item.suffixes:
                return item
        return None
