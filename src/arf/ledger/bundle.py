"""Inclusion bundles: one ledger entry with a proof that can be checked without ARF's database.

A bundle holds the entry's full content, its index, the signed checkpoint it is proven
against, and the audit path. A checker needs only the bundle and the published keyring.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from arf.core.canonical import to_jsonable
from arf.core.records import LedgerEntry
from arf.ledger.chain import entry_hash
from arf.ledger.checkpoint import CheckpointError, OpenedCheckpoint, Verifier, open_checkpoint
from arf.ledger.merkle import MerkleTree, ProofError, verify_inclusion
from arf.ledger.verify import entry_leaf

FORMAT = "arf-inclusion/1"


def make_bundle(
    tree: MerkleTree, entry: LedgerEntry, checkpoint: OpenedCheckpoint
) -> dict[str, Any]:
    size = checkpoint.checkpoint.size
    if entry.seq > size:
        raise ProofError(f"entry {entry.seq} is newer than the latest checkpoint ({size})")
    proof = tree.inclusion_proof(entry.seq - 1, size)
    return {
        "format": FORMAT,
        "entry": to_jsonable(entry),
        "leaf_index": entry.seq - 1,
        "tree_size": size,
        "proof": [base64.b64encode(h).decode() for h in proof],
        "checkpoint": checkpoint.note,
    }


def check_bundle(bundle: Mapping[str, Any], verifiers: Sequence[Verifier]) -> LedgerEntry:
    """Check a bundle offline; returns the proven entry or raises ProofError/CheckpointError."""
    if bundle.get("format") != FORMAT:
        raise ProofError(f"not an {FORMAT} bundle")
    try:
        entry = LedgerEntry.model_validate(bundle["entry"])
        proof = [base64.b64decode(h, validate=True) for h in bundle["proof"]]
        index, size = int(bundle["leaf_index"]), int(bundle["tree_size"])
        note = str(bundle["checkpoint"])
    except (KeyError, TypeError, ValueError, ValidationError) as exc:
        raise ProofError(f"malformed bundle: {exc}") from exc
    recomputed = entry_hash(
        entry.seq, entry.prev_hash, entry.kind, entry.incident_id, entry.at, entry.payload
    )
    if recomputed != entry.entry_hash:
        raise ProofError("the entry's content does not match its hash")
    if index != entry.seq - 1:
        raise ProofError("the leaf index does not match the entry's sequence number")
    opened = open_checkpoint(note, verifiers)
    if opened.checkpoint.size != size:
        raise CheckpointError("the bundle's tree size differs from its checkpoint's")
    verify_inclusion(index, size, entry_leaf(entry), proof, opened.checkpoint.root)
    return entry
