"""Tamper tests: each attack is detected and reported with the first bad position."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from arf.core.records import LedgerEntry
from arf.ledger.bundle import check_bundle, make_bundle
from arf.ledger.chain import GENESIS_HASH, append, entry_hash
from arf.ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    Signer,
    Verifier,
    open_checkpoint,
    sign_checkpoint,
)
from arf.ledger.keys import create_key, load_keyring, load_signer, publish_verifier
from arf.ledger.merkle import ProofError
from arf.ledger.verify import tree_of, verify_log
from arf.ledger.witness import FileWitness
from arf.testing.fakes import MemoryLedgerSink

AT = datetime(2026, 1, 1, tzinfo=UTC)
ORIGIN = "test/ledger"


def log(n: int, tag: str = "") -> list[LedgerEntry]:
    sink = MemoryLedgerSink()
    for i in range(n):
        append(sink, "step", f"INC-{i % 4}", {"i": i, "tag": tag}, AT + timedelta(seconds=i))
    return sink.entries


SIGNER = Signer("arf-test", Ed25519PrivateKey.generate())
TRUSTED = [Verifier.parse(SIGNER.verifier_key())]


def note_for(entries: list[LedgerEntry], size: int, signer: Signer = SIGNER) -> str:
    return sign_checkpoint(Checkpoint(ORIGIN, size, tree_of(entries).root(size)), signer)


def check(
    entries: list[LedgerEntry],
    notes: list[str],
    first_bad: int | None,
    words: str,
    trusted: list[Verifier] = TRUSTED,
) -> None:
    report = verify_log(entries, notes, trusted, ORIGIN)
    assert not report.ok
    assert report.first_bad_seq == first_bad, report
    assert any(words in p for p in report.problems), report.problems


def rehash_from(entries: list[LedgerEntry], start: int) -> list[LedgerEntry]:
    """What an attacker with database access does: recompute every hash after an edit."""
    out = entries[:start]
    prev = out[-1].entry_hash if out else GENESIS_HASH
    for index, entry in enumerate(entries[start:], start=start + 1):
        digest = entry_hash(index, prev, entry.kind, entry.incident_id, entry.at, entry.payload)
        out.append(entry.model_copy(update={"seq": index, "prev_hash": prev, "entry_hash": digest}))
        prev = digest
    return out


GOOD = log(40)
NOTES = [note_for(GOOD, 20), note_for(GOOD, 40)]


def test_an_untouched_log_with_checkpoints_verifies() -> None:
    report = verify_log(GOOD, NOTES, TRUSTED, ORIGIN)
    assert report.ok and report.checkpoints == 2 and report.latest_checkpoint == 40


def test_edit() -> None:
    bad = list(GOOD)
    bad[9] = bad[9].model_copy(update={"payload": {"i": 9, "tag": "forged"}})
    check(bad, NOTES, 10, "modified")


def test_delete() -> None:
    check(GOOD[:14] + GOOD[15:], NOTES, 16, "deleted")  # entry 16 stands where 15 was


def test_reorder() -> None:
    bad = list(GOOD)
    bad[5], bad[6] = bad[6], bad[5]
    check(bad, NOTES, 7, "reordered")  # entry 7 stands where 6 should be


def test_duplicate() -> None:
    check([*GOOD[:8], GOOD[7], *GOOD[8:]], NOTES, 8, "entry 8 found where entry 9")


def test_splice_from_another_log() -> None:
    other = log(40, tag="other")
    check(GOOD[:12] + other[12:18] + GOOD[18:], NOTES, 13, "does not link")


def test_truncate_the_tail() -> None:
    check(GOOD[:33], NOTES, 34, "truncation")


def test_full_rewrite_with_every_hash_recomputed() -> None:
    forged = list(GOOD)
    forged[25] = forged[25].model_copy(update={"payload": {"i": 25, "tag": "forged"}})
    forged = rehash_from(forged, 25)
    assert verify_log(forged, [], TRUSTED).ok  # the chain alone cannot see it
    check(forged, NOTES, 21, "history was rewritten")  # narrowed to after checkpoint 20


def test_key_swap_attackers_own_signature_is_not_trusted() -> None:
    forged = rehash_from([GOOD[0].model_copy(update={"kind": "forged"}), *GOOD[1:]], 0)
    mallory = Signer("arf-test", Ed25519PrivateKey.generate())  # same name, other key
    check(forged, [note_for(forged, 40, mallory)], None, "not trusted")


def test_replayed_old_checkpoint_does_not_hide_truncation() -> None:
    # The attacker truncates to 20 and re-publishes the genuine old checkpoint of size 20;
    # the witness still holds the newer one.
    check(GOOD[:20], [NOTES[0], NOTES[1], NOTES[0]], 21, "truncation")


def test_forked_checkpoints() -> None:
    fork = rehash_from([*GOOD[:30], *log(40, tag="fork")[30:]], 30)
    check(GOOD, [*NOTES, note_for(fork, 40)], 40, "forked")


def test_wrong_origin_is_refused() -> None:
    other = sign_checkpoint(Checkpoint("elsewhere", 40, tree_of(GOOD).root()), SIGNER)
    check(GOOD, [other], None, "origin")


def test_malformed_notes_are_refused() -> None:
    for note in ("", "no blank line", "o\n1\nnot-base64!\n\n— arf-test AAAA\n"):
        with pytest.raises(CheckpointError):
            open_checkpoint(note, TRUSTED)


def test_rotation_keeps_old_checkpoints_verifiable(tmp_path: Path) -> None:
    keyring = tmp_path / "keyring"
    old = create_key(tmp_path / "old.key", "arf-ledger-1")
    publish_verifier(keyring, old)
    new = create_key(tmp_path / "new.key", "arf-ledger-2")
    publish_verifier(keyring, new)
    notes = [note_for(GOOD, 20, old), note_for(GOOD, 40, new)]
    report = verify_log(GOOD, notes, load_keyring(keyring), ORIGIN)
    assert report.ok and report.checkpoints == 2
    assert (tmp_path / "old.key").stat().st_mode & 0o777 == 0o600
    assert load_signer(tmp_path / "new.key").verifier_key() == new.verifier_key()
    with pytest.raises(FileExistsError):  # a key file is never overwritten
        create_key(tmp_path / "new.key", "arf-ledger-3")


def test_a_bundle_checks_offline_and_a_forged_one_does_not() -> None:
    opened = open_checkpoint(NOTES[1], TRUSTED)
    bundle = make_bundle(tree_of(GOOD), GOOD[16], opened)
    assert check_bundle(bundle, TRUSTED).seq == 17
    forged = {**bundle, "entry": {**bundle["entry"], "payload": {"i": 16, "tag": "x"}}}
    with pytest.raises(ProofError, match="does not match its hash"):
        check_bundle(forged, TRUSTED)
    with pytest.raises(CheckpointError):
        check_bundle(bundle, [])


def test_the_witness_keeps_every_checkpoint_once(tmp_path: Path) -> None:
    witness = FileWitness(tmp_path / "w")
    for size in (20, 40, 40):
        checkpoint = Checkpoint(ORIGIN, size, tree_of(GOOD).root(size))
        witness.publish(checkpoint, sign_checkpoint(checkpoint, SIGNER))
    assert len(witness.notes()) == 2
