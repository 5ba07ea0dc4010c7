"""Ledger operations for the entry points: keys, checkpoints, verification, proofs, export."""

from __future__ import annotations

import base64
import json
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from arf.core.errors import ConfigError, InputError, IntegrityError, NotFoundError
from arf.core.records import LedgerEntry
from arf.ledger.bundle import check_bundle, make_bundle
from arf.ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    NoteSigner,
    OpenedCheckpoint,
    Signer,
    Verifier,
    open_checkpoint,
    sign_checkpoint,
)
from arf.ledger.external_signer import CommandSigner
from arf.ledger.keys import create_key, load_keyring, load_signer, publish_verifier
from arf.ledger.merkle import ProofError, verify_consistency
from arf.ledger.verify import LogReport, tree_of, verify_log
from arf.ledger.witness import FileWitness, GitWitness, HttpWitness, Witness
from arf.runtime.container import Runtime


def entries(runtime: Runtime) -> list[LedgerEntry]:
    with runtime.store.unit_of_work() as uow:
        return list(uow.iter_ledger())


def verifiers(runtime: Runtime) -> list[Verifier]:
    try:
        return load_keyring(runtime.settings.keyring_path)
    except CheckpointError as exc:
        raise ConfigError(f"keyring {runtime.settings.keyring_path}: {exc}") from exc


def witness(runtime: Runtime) -> Witness:
    """The configured witness: `git:PATH`, an http(s) URL, else a directory."""
    where = runtime.settings.witness_location
    if where.startswith("git:"):
        return GitWitness(Path(where.removeprefix("git:")))
    if where.startswith(("http://", "https://")):
        return HttpWitness(where, token=runtime.settings.witness_token)
    return FileWitness(Path(where))


def create_signing_key(runtime: Runtime, name: str) -> Signer:
    """Create the signing key (or rotate to a new one) and publish its verifier key.

    A previous key is retired (renamed, kept for the record); its verifier key stays in the
    keyring so that checkpoints it signed remain verifiable.
    """
    if runtime.settings.ledger_signer:
        raise ConfigError(
            "checkpoints are signed by the external signer (ARF_LEDGER_SIGNER); create and"
            " rotate its key there and add its verifier key to the keyring"
        )
    path = runtime.settings.ledger_key_path
    if path.exists():
        old = load_signer(path)
        if old.name == name:
            raise ConfigError(f"a key named {name!r} exists; rotate to a new name")
        path.rename(path.with_name(f"{path.name}.retired-{old.key_hash.hex()}"))
    try:
        signer = create_key(path, name)
    except CheckpointError as exc:
        raise ConfigError(str(exc)) from exc
    publish_verifier(runtime.settings.keyring_path, signer)
    return signer


def signer(runtime: Runtime) -> NoteSigner | None:
    """The checkpoint signer: the external signer when one is configured, else the key file
    (None when there is neither)."""
    command = runtime.settings.ledger_signer
    if command:
        try:
            return CommandSigner(shlex.split(command), verifiers(runtime))
        except (CheckpointError, ValueError) as exc:
            raise ConfigError(f"external signer: {exc}") from exc
    path = runtime.settings.ledger_key_path
    return load_signer(path) if path.exists() else None


def checkpoint(runtime: Runtime) -> OpenedCheckpoint | None:
    """Sign the current tree head and publish it to the witness; None without a signer."""
    signing = signer(runtime)
    if signing is None:
        return None
    log = entries(runtime)
    head = Checkpoint(runtime.settings.ledger_origin, len(log), tree_of(log).root())
    try:
        note = sign_checkpoint(head, signing)
    except CheckpointError as exc:  # an external signer that failed: nothing is published
        raise IntegrityError(f"checkpoint not signed: {exc}") from exc
    witness(runtime).publish(head, note)
    return OpenedCheckpoint(head, (signing.name,), note)


def verify(runtime: Runtime) -> LogReport:
    return verify_log(
        entries(runtime),
        witness(runtime).notes(),
        verifiers(runtime),
        runtime.settings.ledger_origin,
    )


def latest_checkpoint(runtime: Runtime) -> OpenedCheckpoint:
    trusted = verifiers(runtime)
    best: OpenedCheckpoint | None = None
    for note in witness(runtime).notes():
        try:
            opened = open_checkpoint(note, trusted)
        except CheckpointError:
            continue
        if best is None or opened.checkpoint.size > best.checkpoint.size:
            best = opened
    if best is None:
        raise NotFoundError("no trusted checkpoint has been published; run `arf audit checkpoint`")
    return best


def prove(runtime: Runtime, seq: int) -> dict[str, Any]:
    log = entries(runtime)
    if not 1 <= seq <= len(log):
        raise NotFoundError(f"no ledger entry {seq} (the ledger has {len(log)})")
    report = verify(runtime)
    if not report.ok:
        raise IntegrityError(f"the ledger does not verify: {report.problems[0]}")
    try:
        return make_bundle(tree_of(log), log[seq - 1], latest_checkpoint(runtime))
    except ProofError as exc:
        raise NotFoundError(str(exc)) from exc


def consistency(runtime: Runtime, old: int, new: int) -> dict[str, Any]:
    log = entries(runtime)
    if not 1 <= old <= new <= len(log):
        raise NotFoundError(f"sizes must satisfy 1 <= OLD <= NEW <= {len(log)}")
    tree = tree_of(log)
    proof = tree.consistency_proof(old, new)
    verify_consistency(old, new, proof, tree.root(old), tree.root(new))
    return {
        "old_size": old,
        "new_size": new,
        "old_root": base64.b64encode(tree.root(old)).decode(),
        "new_root": base64.b64encode(tree.root(new)).decode(),
        "proof": [base64.b64encode(h).decode() for h in proof],
    }


def export(runtime: Runtime) -> Iterator[dict[str, Any]]:
    """Every entry as a JSON object; those covered by the latest checkpoint carry a bundle."""
    log = entries(runtime)
    tree = tree_of(log)
    head = latest_checkpoint(runtime)
    for entry in log:
        if entry.seq <= head.checkpoint.size:
            yield make_bundle(tree, entry, head)
        else:
            yield {
                "format": "arf-entry/1",
                "entry": entry.model_dump(mode="json"),
                "note": "newer than the latest checkpoint",
            }


def check_proof(bundle_path: Path, keyring_path: Path) -> tuple[LedgerEntry, int]:
    """Check an inclusion bundle with only the bundle and the published keyring."""
    try:
        data = json.loads(bundle_path.read_text("utf-8"))
        trusted = load_keyring(keyring_path)
    except (OSError, json.JSONDecodeError, CheckpointError) as exc:
        raise InputError(f"cannot read {bundle_path} or {keyring_path}: {exc}") from exc
    try:
        return check_bundle(data, trusted), int(data["tree_size"])
    except (ProofError, CheckpointError) as exc:
        raise IntegrityError(f"proof does not verify: {exc}") from exc
