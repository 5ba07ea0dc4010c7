"""Full verification of the ledger: the hash chain, the Merkle tree and the signed checkpoints.

The chain catches edits, deletions, insertions and reordering before the head. Published
checkpoints (signed by a key held apart from the database, stored by a witness) catch what
the chain cannot: truncation of the tail, and a rewrite of the whole database with every hash
recomputed. Checkpoints are also checked against each other: two valid checkpoints of one
size with different roots are a fork.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from arf.core.records import LedgerEntry
from arf.ledger.chain import ChainChecker
from arf.ledger.checkpoint import CheckpointError, OpenedCheckpoint, Verifier, open_checkpoint
from arf.ledger.merkle import MerkleTree, leaf_hash


def entry_leaf(entry: LedgerEntry) -> bytes:
    """The Merkle leaf of a ledger entry: its chain hash, which commits to all its content."""
    return leaf_hash(bytes.fromhex(entry.entry_hash))


def tree_of(entries: Iterable[LedgerEntry]) -> MerkleTree:
    return MerkleTree([entry_leaf(e) for e in entries])


@dataclass
class LogReport:
    ok: bool
    entries: int
    head_hash: str
    checkpoints: int = 0
    latest_checkpoint: int = 0
    first_bad_seq: int | None = None
    problems: list[str] = field(default_factory=list)

    def fail(self, seq: int | None, problem: str) -> None:
        self.ok = False
        self.problems.append(problem)
        if seq is not None and (self.first_bad_seq is None or seq < self.first_bad_seq):
            self.first_bad_seq = seq


def verify_log(
    entries: Iterable[LedgerEntry],
    notes: Sequence[str],
    verifiers: Sequence[Verifier],
    origin: str | None = None,
) -> LogReport:
    checker = ChainChecker()
    leaves: list[bytes] = []
    for entry in entries:  # one streaming pass: only the leaf hashes are kept
        checker.feed(entry)
        leaves.append(entry_leaf(entry))
    chain = checker.report()
    size = len(leaves)
    report = LogReport(ok=chain.ok, entries=size, head_hash=chain.head_hash)
    if not chain.ok:
        report.fail(chain.first_bad_seq, chain.problem)
    opened: list[OpenedCheckpoint] = []
    for note in notes:
        try:
            checkpoint = open_checkpoint(note, verifiers)
        except CheckpointError as exc:
            report.fail(None, f"a published checkpoint is not trusted: {exc}")
            continue
        if origin is not None and checkpoint.checkpoint.origin != origin:
            report.fail(
                None, f"a checkpoint names origin {checkpoint.checkpoint.origin!r}, not {origin!r}"
            )
            continue
        opened.append(checkpoint)
    roots_by_size: dict[int, set[bytes]] = {}
    for item in opened:
        roots_by_size.setdefault(item.checkpoint.size, set()).add(item.checkpoint.root)
    for forked_size, roots in sorted(roots_by_size.items()):
        if len(roots) > 1:
            report.fail(
                forked_size,
                f"forked checkpoints: {len(roots)} different signed roots for size {forked_size}",
            )
    report.checkpoints = len(opened)
    if not opened:
        return report
    tree = MerkleTree(leaves)
    last_good = 0
    for checkpoint_size in sorted(roots_by_size):
        report.latest_checkpoint = checkpoint_size
        if checkpoint_size > size:
            report.fail(
                size + 1,
                f"the log has {size} entries but a signed checkpoint covers"
                f" {checkpoint_size}: entries {size + 1}..{checkpoint_size} were removed"
                " (truncation)",
            )
            continue
        if tree.root(checkpoint_size) not in roots_by_size[checkpoint_size]:
            # The damage lies in (last_good, checkpoint_size]; a chain break inside that range
            # is the precise position, otherwise the range's start is the earliest possible.
            broken = chain.first_bad_seq
            inside = broken is not None and last_good < broken <= checkpoint_size
            report.fail(
                broken if inside else last_good + 1,
                f"entries {last_good + 1}..{checkpoint_size} do not match the signed"
                f" checkpoint of size {checkpoint_size}: history was rewritten",
            )
            continue
        last_good = checkpoint_size
    return report
