"""Prompts as versioned data, and what of a snapshot may leave the machine (egress).

Untrusted text from signals reaches a model only inside the evidence block: JSON-encoded, with
`<` and `>` escaped so that no signal can write the block's end marker, between markers that
carry a nonce derived from the snapshot's hash (unknown to whoever wrote the signal).
"""

from __future__ import annotations

import json
import string
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml
from pydantic import JsonValue

from arf.core.errors import ConfigError, EgressRefusedError
from arf.core.records import ActionSpec, ChatMessage, ContextSnapshot, Evidence, SignalKind
from arf.reasoning.knowledge import Passage

_SUMMARY_CHARS = 400
_RUNBOOK_CHARS = 1_200  # one runbook paragraph (the token budget bounds how many)
_ATTRIBUTE_CHARS = 160


@dataclass(frozen=True)
class PromptTemplate:
    version: str
    system: str
    user: str
    repair: str

    @classmethod
    def packaged(cls, name: str = "diagnose-v2") -> PromptTemplate:
        text = resources.files("arf.reasoning").joinpath(f"prompts/{name}.yaml").read_text()
        return cls.from_yaml(text, f"packaged prompt {name}")

    @classmethod
    def from_file(cls, path: Path) -> PromptTemplate:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read prompt: {exc.strerror}") from exc
        return cls.from_yaml(text, str(path))

    @classmethod
    def from_yaml(cls, text: str, origin: str) -> PromptTemplate:
        try:
            document = yaml.safe_load(text)
            template = cls(
                version=str(document["version"]),
                system=str(document["system"]),
                user=str(document["user"]),
                repair=str(document["repair"]),
            )
        except (yaml.YAMLError, KeyError, TypeError) as exc:
            raise ConfigError(f"{origin}: invalid prompt file: {exc}") from exc
        for part in (template.system, template.user, template.repair):
            try:
                string.Template(part).substitute(_PLACEHOLDERS)
            except (KeyError, ValueError) as exc:
                raise ConfigError(f"{origin}: unknown or malformed placeholder {exc}") from exc
        return template


_PLACEHOLDERS = {
    name: ""
    for name in (
        "incident_id",
        "environment",
        "services",
        "topology",
        "catalog",
        "history",
        "nonce",
        "evidence",
        "errors",
        "runbooks",
    )
}


@dataclass(frozen=True)
class EgressRule:
    """What of a snapshot a backend may receive.

    `send_logs=False` withholds the text of log evidence (its id, service, severity and count
    still go); `environments`, when set, lists the environments whose incidents may be sent at
    all; `send_attributes=False` keeps only summaries.
    """

    send_logs: bool = True
    send_attributes: bool = True
    environments: frozenset[str] | None = None

    @classmethod
    def for_hosted(cls) -> EgressRule:
        """The default for models behind someone else's API: no raw log text."""
        return cls(send_logs=False)

    def check(self, snapshot: ContextSnapshot) -> None:
        if self.environments is not None and snapshot.environment not in self.environments:
            raise EgressRefusedError(
                f"the egress rule does not allow sending {snapshot.environment!r} incidents"
                " to this backend"
            )


def _encode(value: JsonValue) -> str:
    """JSON with every character that could end the data block escaped."""
    text = json.dumps(value, ensure_ascii=True, sort_keys=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e")


def _evidence_item(item: Evidence, rule: EgressRule) -> dict[str, JsonValue]:
    withheld = item.kind is SignalKind.LOG and not rule.send_logs
    row: dict[str, JsonValue] = {
        "id": item.evidence_id,
        "kind": item.kind.value,
        "service": item.service,
        "resource": item.resource,
        "severity": item.severity.value,
        "status": item.status.value,
        "at": item.observed_at.isoformat(),
        "count": item.occurrences,
        "summary": "[log text withheld by the egress rule]"
        if withheld
        else item.summary[:_SUMMARY_CHARS],
    }
    if rule.send_attributes and not withheld and item.attributes:
        row["attributes"] = {
            key: value[:_ATTRIBUTE_CHARS] if isinstance(value, str) else value
            for key, value in sorted(item.attributes.items())[:12]
            if isinstance(value, str | int | float | bool) or value is None
        }
    return row


def _catalog_text(catalog: Sequence[ActionSpec]) -> str:
    lines = []
    for spec in catalog:
        params = ", ".join(
            f"{p.name}: {p.type}"
            + (f" one of {'/'.join(p.choices)}" if p.choices else "")
            + ("" if p.required else " (optional)")
            for p in spec.params
        )
        lines.append(
            f"- {spec.name} (target: a {spec.target_kind}; params: {params or 'none'}):"
            f" {spec.description}"
        )
    return "\n".join(lines)


def render(
    template: PromptTemplate,
    snapshot: ContextSnapshot,
    catalog: Sequence[ActionSpec],
    rule: EgressRule,
    runbooks: Sequence[Passage] = (),
) -> list[ChatMessage]:
    """The messages for one snapshot, after the egress rule has been applied; `runbooks` are
    the team's passages retrieved for it, encoded like evidence (data, never instructions)."""
    rule.check(snapshot)
    evidence = [_evidence_item(e, rule) for e in snapshot.evidence]
    history = (
        "\n".join(
            _encode(
                {
                    "incident": p.incident_id,
                    "services": list(p.services),
                    "cause": p.cause[:_SUMMARY_CHARS],
                    "actions": list(p.actions),
                    "outcome": p.outcome.value,
                }
            )
            for p in snapshot.similar_incidents
        )
        or "none"
    )
    values = {
        "incident_id": snapshot.incident_id,
        "environment": snapshot.environment,
        "services": _encode(list(snapshot.services)),
        "topology": _encode({k: list(v) for k, v in sorted(snapshot.topology.items())}),
        "catalog": _catalog_text(catalog),
        "history": history,
        "nonce": snapshot.content_hash()[:16],
        "evidence": "\n".join(_encode(row) for row in evidence) or "(no evidence)",
        "errors": "",
        "runbooks": "\n".join(
            _encode(
                {
                    "runbook": p.runbook,
                    "title": p.title[:_SUMMARY_CHARS],
                    "concludes": p.hypothesis[:_SUMMARY_CHARS],
                    "suggests": list(p.actions),
                    "text": p.text[:_RUNBOOK_CHARS],
                }
            )
            for p in runbooks
        )
        or "none",
    }
    return [
        ChatMessage(role="system", content=string.Template(template.system).substitute(values)),
        ChatMessage(role="user", content=string.Template(template.user).substitute(values)),
    ]


def repair_message(template: PromptTemplate, errors: Sequence[str]) -> ChatMessage:
    listed = "\n".join(f"- {e[:300]}" for e in errors[:15])
    return ChatMessage(
        role="user", content=string.Template(template.repair).substitute(errors=listed)
    )
