"""Checkpoints published to a git repository (pushed to a real bare remote) and to an HTTP
witness (a local server with a bearer token); each read back and verified, and a note edited
in the git history afterwards shows up as a fork."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from arf.core.errors import IntegrityError
from arf.ledger.checkpoint import Checkpoint, sign_checkpoint
from arf.ledger.verify import tree_of, verify_log
from arf.ledger.witness import GitWitness, HttpWitness, Witness
from tests.integration.local_http import JsonHandler, LocalServer
from tests.unit.ledger.test_verify import GOOD, ORIGIN, SIGNER, TRUSTED, rehash_from

TOKEN = "witness-t0ken"


def publish(witness: Witness, *sizes: int) -> None:
    for size in sizes:
        head = Checkpoint(ORIGIN, size, tree_of(GOOD).root(size))
        witness.publish(head, sign_checkpoint(head, SIGNER))


def git(where: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=where, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_a_git_witness_commits_and_pushes_each_checkpoint_once(tmp_path: Path) -> None:
    remote = tmp_path / "witness.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    repo = tmp_path / "witness"
    witness = GitWitness(repo)
    assert witness.notes() == []
    publish(witness, 20)  # creates the repository
    git(repo, "remote", "add", "origin", str(remote))
    publish(witness, 20, 40)  # the same checkpoint again adds nothing
    assert git(repo, "rev-list", "--count", "HEAD") == "2"
    assert git(remote, "rev-list", "--count", "main") == "2"  # pushed
    report = verify_log(GOOD, witness.notes(), TRUSTED, ORIGIN)
    assert report.ok and report.checkpoints == 2

    # someone with the repository rewrites the newest note to sign a forged history
    forged = rehash_from([GOOD[0].model_copy(update={"kind": "forged"}), *GOOD[1:]], 0)
    name = next(p.name for p in repo.glob("000000000040-*.note"))
    head = Checkpoint(ORIGIN, 40, tree_of(forged).root(40))
    (repo / name).write_text(sign_checkpoint(head, SIGNER), "utf-8")
    git(repo, "-c", "user.name=x", "-c", "user.email=x@x", "commit", "-qam", "fix")
    report = verify_log(GOOD, witness.notes(), TRUSTED, ORIGIN)
    assert not report.ok and any("forked" in p for p in report.problems), report.problems


class NoteServer:
    def __init__(self) -> None:
        self.notes: list[str] = []
        self.broken = False
        outer = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self.reply(401, {})
                return self.reply(200, outer.notes, b"not json" if outer.broken else None)

            def do_POST(self) -> None:
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self.reply(401, {})
                note = self.body().decode("utf-8")
                if note not in outer.notes:
                    outer.notes.append(note)
                return self.reply(201, {})

        self.local = LocalServer(Handler)
        self.url = f"{self.local.base}/checkpoints"


@pytest.fixture
def server() -> Iterator[NoteServer]:
    found = NoteServer()
    yield found
    found.local.close()


def test_an_http_witness_stores_and_returns_the_notes(server: NoteServer) -> None:
    witness = HttpWitness(server.url, token=TOKEN)
    publish(witness, 20, 40, 40)
    assert len(server.notes) == 2
    report = verify_log(GOOD, witness.notes(), TRUSTED, ORIGIN)
    assert report.ok and report.checkpoints == 2
    with pytest.raises(IntegrityError, match="HTTP 401"):
        HttpWitness(server.url, token="wrong").notes()
    server.broken = True
    with pytest.raises(IntegrityError, match="not JSON"):
        witness.notes()
    server.local.close()
    with pytest.raises(IntegrityError, match="ConnectError"):
        publish(witness, 20)
