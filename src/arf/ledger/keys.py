"""Signing keys kept apart from the database, and the published keyring of verifier keys.

The private key file holds `name: <key name>` on its first line and a PKCS#8 PEM key after
it; it is created with mode 0600 and never overwritten. The keyring is public: one verifier
key per line, old keys kept after rotation so old checkpoints stay verifiable.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from arf.ledger.checkpoint import CheckpointError, Signer, Verifier


def create_key(path: Path, name: str) -> Signer:
    """Generate a new Ed25519 key at `path` (which must not exist) and return its signer."""
    key = Ed25519PrivateKey.generate()
    signer = Signer(name, key)
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(f"name: {name}\n".encode() + pem)
    return signer


def load_signer(path: Path) -> Signer:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"cannot read signing key {path}: {exc.strerror}") from exc
    first, _, pem = raw.partition(b"\n")
    if not first.startswith(b"name: "):
        raise CheckpointError(f"{path} is not an ARF ledger key file")
    key = load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError(f"{path} does not hold an Ed25519 key")
    return Signer(first[6:].decode().strip(), key)


def load_keyring(path: Path) -> list[Verifier]:
    try:
        lines = path.read_text("utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [Verifier.parse(line) for line in lines if line.strip() and not line.startswith("#")]


def publish_verifier(path: Path, signer: Signer) -> None:
    """Add the signer's verifier key to the keyring unless it is already there."""
    existing = path.read_text("utf-8") if path.exists() else ""
    line = signer.verifier_key()
    if line not in existing.splitlines():
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
