"""Signed checkpoints in the signed-note format (as used by transparency logs).

A checkpoint body is three lines: the log's origin, its size in decimal, and the base64 root
hash. A signature line is `— <key name> <base64(4-byte key hash || Ed25519 signature)>`.
The key hash is the first 4 bytes of SHA-256(name || "\\n" || 0x01 || public key), and a
verifier key is published as `<name>+<key hash hex>+<base64(0x01 || public key)>`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519 = 0x01
DASH = "\u2014"


class CheckpointError(ValueError):
    """A checkpoint that is malformed or carries no valid signature from a trusted key."""


def key_hash(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise CheckpointError(f"key name {name!r} must be non-empty, without spaces or '+'")


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        if "\n" in self.origin or not self.origin:
            raise CheckpointError("the origin must be one non-empty line")
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


class NoteSigner(Protocol):
    """What signs checkpoints: a key file read in process (`Signer`) or an external signer
    (`arf.ledger.external_signer.CommandSigner`)."""

    name: str
    key_hash: bytes

    def sign(self, message: bytes) -> bytes: ...


class Signer:
    """Signs note bodies with an Ed25519 private key under a name."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        _check_name(name)
        self.name = name
        self._key = private_key
        self.public_key = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_hash = key_hash(name, self.public_key)

    def verifier_key(self) -> str:
        public = Ed25519PublicKey.from_public_bytes(self.public_key)
        return Verifier(self.name, self.key_hash, public).text()

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


@dataclass(frozen=True)
class Verifier:
    name: str
    key_hash: bytes
    public_key: Ed25519PublicKey

    @classmethod
    def parse(cls, text: str) -> Verifier:
        try:
            name, hash_hex, encoded = text.strip().split("+", 2)
            raw = base64.b64decode(encoded, validate=True)
            expected = bytes.fromhex(hash_hex)
        except (ValueError, binascii.Error) as exc:
            raise CheckpointError(f"malformed verifier key {text.strip()[:60]!r}") from exc
        if len(raw) != 33 or raw[0] != ED25519:
            raise CheckpointError(f"verifier key {name!r} is not an Ed25519 key")
        if key_hash(name, raw[1:]) != expected:
            raise CheckpointError(f"verifier key {name!r}: key hash does not match the key")
        return cls(name, expected, Ed25519PublicKey.from_public_bytes(raw[1:]))

    def text(self) -> str:
        """The verifier key as the keyring publishes it."""
        raw = self.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        encoded = base64.b64encode(bytes([ED25519]) + raw).decode()
        return f"{self.name}+{self.key_hash.hex()}+{encoded}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self.public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner) -> str:
    body = checkpoint.body()
    signature = base64.b64encode(signer.key_hash + signer.sign(body.encode())).decode()
    return f"{body}\n{DASH} {signer.name} {signature}\n"


@dataclass(frozen=True)
class OpenedCheckpoint:
    checkpoint: Checkpoint
    signed_by: tuple[str, ...]
    note: str


def open_checkpoint(note: str, verifiers: Sequence[Verifier]) -> OpenedCheckpoint:
    """Parse a signed note and check it carries at least one valid trusted signature."""
    body, sep, signatures = note.partition("\n\n")
    if not sep:
        raise CheckpointError("not a signed note: no blank line before the signatures")
    body += "\n"
    lines = body.split("\n")
    if len(lines) < 4:
        raise CheckpointError("a checkpoint body needs origin, size and root lines")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not size_text.isdigit():
        raise CheckpointError(f"checkpoint size {size_text!r} is not a number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error as exc:
        raise CheckpointError("checkpoint root is not base64") from exc
    if len(root) != 32:
        raise CheckpointError("checkpoint root is not a SHA-256 hash")
    trusted = {(v.name, v.key_hash): v for v in verifiers}
    signed_by: list[str] = []
    for line in signatures.splitlines():
        if not line.strip():
            continue
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH:
            raise CheckpointError(f"malformed signature line {line[:60]!r}")
        try:
            raw = base64.b64decode(parts[2], validate=True)
        except binascii.Error as exc:
            raise CheckpointError("signature is not base64") from exc
        verifier = trusted.get((parts[1], raw[:4]))
        if verifier is not None and verifier.verify(body.encode(), raw[4:]):
            signed_by.append(verifier.name)
    if not signed_by:
        raise CheckpointError(
            f"checkpoint of size {size_text} has no valid signature from a trusted key"
        )
    return OpenedCheckpoint(Checkpoint(origin, int(size_text), root), tuple(signed_by), note)
