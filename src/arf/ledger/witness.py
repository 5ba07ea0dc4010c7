"""Witnesses: places outside the database where signed checkpoints are published.

`FileWitness` keeps one file per checkpoint in a directory (for example on another host's
mount), created exclusively and never rewritten. `GitWitness` commits one file per checkpoint
to a git repository and pushes it when the repository has a remote, so the checkpoints'
history lives where the database's administrator cannot rewrite it unnoticed; it reads back
every version of every note ever committed, so a note edited later shows up as a fork.
`HttpWitness` posts each note to an HTTP endpoint and reads the list back. Verification reads
every published note back.

The HTTP protocol is ARF's own and small: `POST {url}` with the note as the body
(`text/plain; charset=utf-8`) publishes it (2xx, idempotent for the same note); `GET {url}`
answers a JSON array of every note published, as strings. An optional bearer token comes from
the environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import httpx

from arf.core.errors import ConfigError, IntegrityError
from arf.core.git_command import GitCommandError, run_git
from arf.ledger.checkpoint import Checkpoint


class Witness(Protocol):
    def publish(self, checkpoint: Checkpoint, note: str) -> None: ...

    def notes(self) -> list[str]: ...


def note_name(checkpoint: Checkpoint) -> str:
    return f"{checkpoint.size:012d}-{checkpoint.root.hex()[:16]}.note"


class FileWitness:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def publish(self, checkpoint: Checkpoint, note: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / note_name(checkpoint)
        if path.exists():
            return  # the same checkpoint again: nothing new to witness
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(note)

    def notes(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return [p.read_text("utf-8") for p in sorted(self.directory.glob("*.note"))]


class GitWitness:
    """One commit per checkpoint in a git repository (created if missing); pushed to every
    configured remote after each commit. A push that fails fails the publication."""

    def __init__(self, repository: Path) -> None:
        self.repository = repository

    def _git(self, *args: str) -> str:
        try:
            return run_git(self.repository, *args)
        except GitCommandError as exc:
            raise IntegrityError(f"git witness: {exc}") from exc

    def _ready(self) -> bool:
        return (self.repository / ".git").exists()

    def publish(self, checkpoint: Checkpoint, note: str) -> None:
        if not self._ready():
            self.repository.mkdir(parents=True, exist_ok=True)
            self._git("init", "-q", "-b", "main")
        name = note_name(checkpoint)
        if (self.repository / name).exists():
            return  # the same checkpoint again
        (self.repository / name).write_text(note, "utf-8")
        self._git("add", "--", name)
        subject = f"checkpoint {checkpoint.origin} size {checkpoint.size}"
        self._git("commit", "-q", "-m", subject, "--", name)
        for remote in self._git("remote").split():
            self._git("push", "-q", remote, "HEAD")

    def notes(self) -> list[str]:
        """Every version of every note in the history, oldest first (an edit is a fork)."""
        if not self._ready() or not self._git("rev-parse", "--verify", "-q", "HEAD").strip():
            return []
        found: list[str] = []
        log = self._git("log", "--reverse", "--format=@%H", "--name-only", "--diff-filter=AM")
        commit = ""
        for line in log.splitlines():
            if line.startswith("@"):
                commit = line[1:]
            elif line.endswith(".note"):
                found.append(self._git("show", f"{commit}:{line}"))
        return found


class HttpWitness:
    def __init__(
        self, url: str, client: httpx.Client | None = None, token: str | None = None
    ) -> None:
        if not url.startswith(("https://", "http://")):
            raise ConfigError(f"the witness URL {url!r} is not http(s)")
        self._url, self._client = url, client
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    def _call(self, method: str, note: str | None = None) -> httpx.Response:
        headers = dict(self._headers)
        if note is not None:
            headers["Content-Type"] = "text/plain; charset=utf-8"
        body = None if note is None else note.encode("utf-8")
        try:
            if self._client is not None:
                response = self._client.request(method, self._url, headers=headers, content=body)
            else:  # a checkpoint is rare: a short-lived client, closed at once
                with httpx.Client(timeout=10.0) as client:
                    response = client.request(method, self._url, headers=headers, content=body)
        except httpx.HTTPError as exc:
            raise IntegrityError(f"witness {self._url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 300:
            raise IntegrityError(
                f"witness {self._url}: {method} answered HTTP {response.status_code}"
            )
        return response

    def publish(self, checkpoint: Checkpoint, note: str) -> None:
        self._call("POST", note)

    def notes(self) -> list[str]:
        try:
            notes = self._call("GET").json()
        except ValueError as exc:
            raise IntegrityError(f"witness {self._url}: the list is not JSON") from exc
        if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
            raise IntegrityError(f"witness {self._url}: the list is not an array of notes")
        return notes
