"""Hash-chained ledger entries.

entry_hash = SHA-256(canonical JSON of {seq, prev_hash, kind, incident_id, at, payload}).
The first entry's prev_hash is 64 zeros. Editing any field, deleting, inserting or reordering an
entry before the head breaks the chain at that position; `verify_chain` names the first bad one.
Truncating the tail is not detectable from the chain alone (signed checkpoints cover that).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from pydantic import JsonValue

from arf.core.canonical import canonical_json, sha256_hex, to_jsonable
from arf.core.ports import LedgerSink
from arf.core.records import LedgerEntry

GENESIS_HASH = "0" * 64


def entry_hash(
    seq: int,
    prev_hash: str,
    kind: str,
    incident_id: str | None,
    at: datetime,
    payload: Mapping[str, JsonValue],
) -> str:
    body = {
        "seq": seq,
        "prev_hash": prev_hash,
        "kind": kind,
        "incident_id": incident_id,
        "at": at.isoformat(),
        "payload": dict(payload),
    }
    return sha256_hex(canonical_json(body))


def append(
    sink: LedgerSink,
    kind: str,
    incident_id: str | None,
    payload: object,
    at: datetime,
) -> LedgerEntry:
    """Build the next entry from the sink's head and persist it in the sink's transaction."""
    plain = to_jsonable(payload)
    if not isinstance(plain, dict):
        raise TypeError("a ledger payload must serialise to a JSON object")
    head = sink.ledger_head()
    seq = 1 if head is None else head.seq + 1
    prev = GENESIS_HASH if head is None else head.entry_hash
    digest = entry_hash(seq, prev, kind, incident_id, at, plain)
    entry = LedgerEntry(
        seq=seq,
        prev_hash=prev,
        entry_hash=digest,
        kind=kind,
        incident_id=incident_id,
        at=at,
        payload=plain,
    )
    sink.put_ledger_entry(entry)
    return entry


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    entries: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str = ""


class ChainChecker:
    """Checks sequence, links and hashes one entry at a time (a single streaming pass)."""

    def __init__(self) -> None:
        self.count = 0
        self._expected_seq = 1
        self._prev = GENESIS_HASH
        self._bad_seq: int | None = None
        self._problem = ""

    def feed(self, entry: LedgerEntry) -> None:
        self.count += 1
        if self._bad_seq is not None:
            return  # everything after the first break is suspect anyway
        if entry.seq != self._expected_seq:
            self._fail(
                entry.seq,
                f"entry {entry.seq} found where entry {self._expected_seq}"
                " should be (an entry was deleted, inserted or reordered)",
            )
        elif entry.prev_hash != self._prev:
            self._fail(
                entry.seq, f"entry {entry.seq} does not link to the hash of entry {entry.seq - 1}"
            )
        elif (
            entry_hash(
                entry.seq, entry.prev_hash, entry.kind, entry.incident_id, entry.at, entry.payload
            )
            != entry.entry_hash
        ):
            self._fail(
                entry.seq,
                f"entry {entry.seq} ({entry.kind}) was modified: its content"
                " does not match its hash",
            )
        else:
            self._prev = entry.entry_hash
            self._expected_seq += 1

    def _fail(self, seq: int, problem: str) -> None:
        self._bad_seq, self._problem = seq, problem

    def report(self) -> ChainReport:
        return ChainReport(
            self._bad_seq is None, self.count, self._prev, self._bad_seq, self._problem
        )


def verify_chain(entries: Iterable[LedgerEntry]) -> ChainReport:
    """Walk the entries in stored order and check sequence, links and hashes."""
    checker = ChainChecker()
    for entry in entries:
        checker.feed(entry)
    return checker.report()
