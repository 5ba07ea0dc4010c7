"""Witnesses: places outside the database where signed checkpoints are published.

`FileWitness` keeps one file per checkpoint in a directory (for example on another host's
mount, or a directory synchronised to a git repository), created exclusively and never
rewritten. Verification reads every published note back.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from arf.ledger.checkpoint import Checkpoint


class Witness(Protocol):
    def publish(self, checkpoint: Checkpoint, note: str) -> None: ...

    def notes(self) -> list[str]: ...


class FileWitness:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def publish(self, checkpoint: Checkpoint, note: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{checkpoint.size:012d}-{checkpoint.root.hex()[:16]}.note"
        if path.exists():
            return  # the same checkpoint again: nothing new to witness
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(note)

    def notes(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return [p.read_text("utf-8") for p in sorted(self.directory.glob("*.note"))]
