"""RFC 6962 (RFC 9162 section 2.1) Merkle tree hashing, inclusion and consistency proofs.

Leaf hash: SHA-256(0x00 || data); node hash: SHA-256(0x01 || left || right); the empty tree's
root is SHA-256(""). Verification follows the published algorithm (as in transparency-dev's
merkle package) and is checked against its test vectors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof that does not verify, or does not have the right shape."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class MerkleTree:
    """A tree over leaf hashes, keeping every level so proofs are cheap to produce."""

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        self.levels: list[list[bytes]] = [list(leaf_hashes)]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            above = [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            if len(below) % 2:
                above.append(below[-1])  # an odd node is promoted unchanged
            self.levels.append(above)

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def root(self, size: int | None = None) -> bytes:
        """The root of the first `size` leaves (the whole tree by default)."""
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ProofError(f"no tree of size {size} (the log has {self.size} entries)")
        return EMPTY_ROOT if size == 0 else self._subtree(0, size)

    def _subtree(self, start: int, end: int) -> bytes:
        """MTH of leaves[start:end]."""
        width = end - start
        if width & (width - 1) == 0 and start % width == 0:
            level = width.bit_length() - 1
            return self.levels[level][start >> level]
        split = 1 << ((width - 1).bit_length() - 1)  # largest power of two below width
        return node_hash(self._subtree(start, start + split), self._subtree(start + split, end))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[0:size]) from RFC 6962 section 2.1.1."""
        size = self.size if size is None else size
        if not 0 <= index < size <= self.size:
            raise ProofError(f"no leaf {index} in a tree of size {size}")
        return self._path(index, 0, size)

    def _path(self, index: int, start: int, end: int) -> list[bytes]:
        width = end - start
        if width == 1:
            return []
        split = 1 << ((width - 1).bit_length() - 1)
        if index < split:
            return [*self._path(index, start, start + split), self._subtree(start + split, end)]
        return [*self._path(index - split, start + split, end), self._subtree(start, start + split)]

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[0:new_size]) from RFC 6962 section 2.1.2."""
        new_size = self.size if new_size is None else new_size
        if not 0 <= old_size <= new_size <= self.size:
            raise ProofError(f"cannot prove {old_size} against {new_size}")
        if old_size in (0, new_size):
            return []
        return self._subproof(old_size, 0, new_size, True)

    def _subproof(self, m: int, start: int, end: int, complete: bool) -> list[bytes]:
        width = end - start
        if m == width:
            return [] if complete else [self._subtree(start, end)]
        split = 1 << ((width - 1).bit_length() - 1)
        if m <= split:
            return [
                *self._subproof(m, start, start + split, complete),
                self._subtree(start + split, end),
            ]
        return [
            *self._subproof(m - split, start + split, end, False),
            self._subtree(start, start + split),
        ]


# ------------------------------------------------------------------ verification


def _inner_proof_size(index: int, size: int) -> int:
    return (index ^ (size - 1)).bit_length()


def _decompose(index: int, size: int) -> tuple[int, int]:
    inner = _inner_proof_size(index, size)
    border = bin(index >> inner).count("1")
    return inner, border


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, sibling in enumerate(proof):
        seed = node_hash(seed, sibling) if (index >> i) & 1 == 0 else node_hash(sibling, seed)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, sibling in enumerate(proof):
        if (index >> i) & 1 == 1:
            seed = node_hash(sibling, seed)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    for sibling in proof:
        seed = node_hash(sibling, seed)
    return seed


def _match(calculated: bytes, expected: bytes, what: str) -> None:
    if calculated != expected:
        raise ProofError(
            f"{what}: calculated {calculated.hex()[:16]}…, expected {expected.hex()[:16]}…"
        )


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    if index >= size:
        raise ProofError(f"index {index} is beyond the tree size {size}")
    if len(leaf) != HASH_SIZE:
        raise ProofError(f"the leaf hash has {len(leaf)} bytes, not {HASH_SIZE}")
    inner, border = _decompose(index, size)
    if len(proof) != inner + border:
        raise ProofError(f"the proof has {len(proof)} hashes; {inner + border} expected")
    result = _chain_inner(leaf, proof[:inner], index)
    return _chain_border_right(result, proof[inner:])


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise ProofError unless `leaf` is entry `index` of the tree of `size` with `root`."""
    _match(root_from_inclusion_proof(index, size, leaf, proof), root, "inclusion root")


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Raise ProofError unless the tree of `size2` (root2) extends the tree of `size1`."""
    if size2 < size1:
        raise ProofError(f"size2 ({size2}) < size1 ({size1})")
    if size1 == 0:
        # Every tree extends the empty tree, so such a proof proves nothing: refuse it, as the
        # published vectors require.
        raise ProofError("a consistency proof from the empty tree is meaningless")
    if size1 == size2:
        if proof:
            raise ProofError("equal sizes need an empty proof")
        _match(root1, root2, "roots of equal-sized trees")
        return
    if not proof:
        raise ProofError("empty consistency proof")
    inner, border = _decompose(size1 - 1, size2)
    shift = (size1 & -size1).bit_length() - 1  # trailing zeros of size1
    inner -= shift
    seed, start = proof[0], 1
    if size1 == 1 << shift:
        seed, start = root1, 0
    if len(proof) != start + inner + border:
        raise ProofError(f"the proof has {len(proof)} hashes; {start + inner + border} expected")
    rest = proof[start:]
    mask = (size1 - 1) >> shift
    hash1 = _chain_border_right(_chain_inner_right(seed, rest[:inner], mask), rest[inner:])
    _match(hash1, root1, "old root")
    hash2 = _chain_border_right(_chain_inner(seed, rest[:inner], mask), rest[inner:])
    _match(hash2, root2, "new root")
