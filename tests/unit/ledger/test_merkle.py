"""RFC 6962 Merkle proofs: every published test vector, plus property-based round trips."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arf.ledger.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    ProofError,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from tests.conftest import SHARED_DATA

VECTORS = SHARED_DATA / "rfc6962"
RFC_EXAMPLE_ROOT = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
# The 8 leaves of the RFC 6962 example tree used by the vectors.
RFC_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]


def b64(value: str) -> bytes:
    return base64.b64decode(value)


def vector_files(kind: str) -> list[Path]:
    files = sorted((VECTORS / kind).rglob("*.json"))
    return files


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_the_vectors_are_all_there(shared_data: Path) -> None:
    assert len(vector_files("inclusion")) == 98
    assert len(vector_files("consistency")) == 98


@pytest.mark.parametrize(
    "path", vector_files("inclusion"), ids=lambda p: str(p.relative_to(VECTORS))
)
def test_inclusion_vectors(path: Path) -> None:
    case = load(path)
    proof = [b64(h) for h in case["proof"] or []]
    args = (case["leafIdx"], case["treeSize"], b64(case["leafHash"]), proof, b64(case["root"]))
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize(
    "path", vector_files("consistency"), ids=lambda p: str(p.relative_to(VECTORS))
)
def test_consistency_vectors(path: Path) -> None:
    case = load(path)
    proof = [b64(h) for h in case["proof"] or []]
    args = (case["size1"], case["size2"], proof, b64(case["root1"]), b64(case["root2"]))
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_the_rfc_example_tree() -> None:
    tree = MerkleTree([leaf_hash(d) for d in RFC_LEAVES])
    assert tree.root().hex() == RFC_EXAMPLE_ROOT
    assert MerkleTree([]).root() == EMPTY_ROOT
    happy = load(VECTORS / "inclusion" / "1" / "happy-path.json")
    assert [base64.b64encode(h).decode() for h in tree.inclusion_proof(0)] == happy["proof"]
    happy = load(VECTORS / "consistency" / "1" / "happy-path.json")
    assert [base64.b64encode(h).decode() for h in tree.consistency_proof(1)] == happy["proof"]


leaves = st.lists(st.binary(max_size=8), min_size=1, max_size=70)


@given(leaves, st.data())
def test_every_inclusion_proof_verifies_and_a_wrong_one_does_not(
    data: list[bytes], draw: st.DataObject
) -> None:
    tree = MerkleTree([leaf_hash(d) for d in data])
    size = draw.draw(st.integers(min_value=1, max_value=tree.size))
    index = draw.draw(st.integers(min_value=0, max_value=size - 1))
    proof = tree.inclusion_proof(index, size)
    verify_inclusion(index, size, leaf_hash(data[index]), proof, tree.root(size))
    with pytest.raises(ProofError):
        verify_inclusion(index, size, leaf_hash(data[index] + b"x"), proof, tree.root(size))
    if proof:
        flipped = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaf_hash(data[index]), flipped, tree.root(size))


@given(leaves, st.data())
def test_every_consistency_proof_verifies_and_a_forked_root_does_not(
    data: list[bytes], draw: st.DataObject
) -> None:
    tree = MerkleTree([leaf_hash(d) for d in data])
    new = draw.draw(st.integers(min_value=1, max_value=tree.size))
    old = draw.draw(st.integers(min_value=1, max_value=new))
    proof = tree.consistency_proof(old, new)
    verify_consistency(old, new, proof, tree.root(old), tree.root(new))
    forked = MerkleTree([leaf_hash(d + b"!") for d in data[:old]] + tree.levels[0][old:new])
    with pytest.raises(ProofError):
        verify_consistency(old, new, proof, forked.root(old), tree.root(new))
