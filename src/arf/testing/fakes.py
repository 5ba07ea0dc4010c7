"""Fakes shared by tests."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime

from pydantic import JsonValue

from arf.core.records import (
    ChatMessage,
    Completion,
    Incident,
    IncidentState,
    LedgerEntry,
    Severity,
)


class MemoryLedgerSink:
    """A `LedgerSink` that keeps entries in a list."""

    def __init__(self) -> None:
        self.entries: list[LedgerEntry] = []

    def ledger_head(self) -> LedgerEntry | None:
        return self.entries[-1] if self.entries else None

    def put_ledger_entry(self, entry: LedgerEntry) -> None:
        self.entries.append(entry)


def make_incident(
    at: datetime,
    state: IncidentState = IncidentState.OPEN,
    services: tuple[str, ...] = ("svc",),
    incident_id: str = "INC-1",
) -> Incident:
    return Incident(
        incident_id=incident_id,
        state=state,
        title="t",
        services=services,
        environment="production",
        severity=Severity.HIGH,
        opened_at=at,
        updated_at=at,
        impact_started_at=at,
        last_signal_at=at,
    )


class ScriptedChatModel:
    """A `ChatModel` that answers from a script: strings, or exceptions to raise, in order.

    It records every call's messages, so tests can check what would have left the machine.
    """

    def __init__(
        self,
        answers: Sequence[str | BaseException],
        *,
        hosted: bool = False,
        tokens: tuple[int, int] = (1000, 200),
        delay_s: float = 0.0,
        constrained: bool = False,
    ) -> None:
        self._answers = list(answers)
        self._hosted = hosted
        self._constrained = constrained
        self.max_tokens: list[int] = []
        self._tokens = tokens
        self._delay_s = delay_s
        self.calls: list[list[ChatMessage]] = []
        self.schemas: list[Mapping[str, JsonValue]] = []

    @property
    def model_id(self) -> str:
        return "scripted"

    @property
    def hosted(self) -> bool:
        return self._hosted

    @property
    def grammar_constrained(self) -> bool:
        return self._constrained

    def complete(
        self,
        messages: Sequence[ChatMessage],
        schema: Mapping[str, JsonValue],
        *,
        max_tokens: int,
        timeout_s: float,
    ) -> Completion:
        self.calls.append(list(messages))
        self.schemas.append(schema)
        self.max_tokens.append(max_tokens)
        if self._delay_s:
            time.sleep(self._delay_s)
        if not self._answers:
            raise AssertionError("the script has no answer left")
        answer = self._answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return Completion(
            text=answer, model_id="scripted", tokens_in=self._tokens[0], tokens_out=self._tokens[1]
        )
