from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from arf.core.records import LedgerEntry
from arf.ledger.chain import GENESIS_HASH, append, verify_chain
from arf.testing.fakes import MemoryLedgerSink

AT = datetime(2026, 1, 1, tzinfo=UTC)


def chain_of(n: int) -> list[LedgerEntry]:
    sink = MemoryLedgerSink()
    for i in range(n):
        append(sink, "k", f"INC-{i % 3}", {"i": i, "text": f"entry {i}"}, AT + timedelta(seconds=i))
    return sink.entries


def test_an_untouched_chain_verifies() -> None:
    entries = chain_of(10)
    report = verify_chain(entries)
    assert report.ok and report.entries == 10
    assert entries[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.entry_hash for a, b in pairwise(entries))


def test_edited_payload_is_named() -> None:
    entries = chain_of(10)
    entries[4] = entries[4].model_copy(update={"payload": {"i": 4, "text": "forged"}})
    report = verify_chain(entries)
    assert not report.ok and report.first_bad_seq == 5 and "modified" in report.problem


def test_deleted_entry_is_named() -> None:
    entries = chain_of(10)
    del entries[3]
    report = verify_chain(entries)
    assert not report.ok and report.first_bad_seq == 5


def test_reordered_entries_are_named() -> None:
    entries = chain_of(10)
    entries[2], entries[6] = entries[6], entries[2]
    report = verify_chain(entries)
    assert not report.ok and report.first_bad_seq == 7


def test_renumbered_swap_is_caught_by_the_hash() -> None:
    entries = chain_of(10)
    a, b = entries[2], entries[6]
    entries[2] = b.model_copy(update={"seq": 3, "prev_hash": a.prev_hash})
    entries[6] = a.model_copy(update={"seq": 7, "prev_hash": b.prev_hash})
    report = verify_chain(entries)
    assert not report.ok and report.first_bad_seq == 3


@given(st.integers(min_value=0, max_value=14), st.sampled_from(["kind", "incident", "at"]))
def test_any_single_field_edit_is_detected_at_its_position(index: int, field: str) -> None:
    entries = chain_of(15)
    original = entries[index]
    updates: dict[str, dict[str, Any]] = {
        "kind": {"kind": original.kind + "x"},
        "incident": {"incident_id": "INC-other"},
        "at": {"at": original.at + timedelta(seconds=1)},
    }
    entries[index] = original.model_copy(update=updates[field])
    report = verify_chain(entries)
    assert not report.ok and report.first_bad_seq == index + 1
