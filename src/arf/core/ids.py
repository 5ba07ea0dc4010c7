"""Identifier generation, injected so tests and simulations can be deterministic."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Protocol


class IdGenerator(Protocol):
    def new(self, prefix: str) -> str: ...


class RandomIds:
    """Collision-resistant ids for production use."""

    def new(self, prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:16]}"


class SequentialIds:
    """Predictable ids for tests: `prefix-0001`, `prefix-0002`, ..."""

    def __init__(self) -> None:
        self._counters: defaultdict[str, int] = defaultdict(int)

    def new(self, prefix: str) -> str:
        self._counters[prefix] += 1
        return f"{prefix}-{self._counters[prefix]:04d}"
