"""Ledger benchmark: append rate on SQLite, and full verification (chain + Merkle tree +
signed checkpoint) of a large ledger.

Run: .venv/bin/python -m benchmarks.ledger [--entries 1000000] [--quick]
Targets (docs/architecture.md): append >= 5,000 entries/s; verify 1,000,000 entries < 60 s.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from arf.ledger.chain import append
from arf.ledger.checkpoint import Checkpoint, Signer, Verifier, sign_checkpoint
from arf.ledger.verify import tree_of, verify_log
from arf.store.sql import SqlStore

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ORIGIN = "bench/ledger"


def fill(store: SqlStore, entries: int, per_transaction: int) -> float:
    started = time.perf_counter()
    written = 0
    while written < entries:
        with store.unit_of_work() as uow:
            for _ in range(min(per_transaction, entries - written)):
                append(
                    uow,
                    "execution.step",
                    f"INC-{written % 97:04d}",
                    {"n": written, "status": "succeeded", "detail": "x" * 80},
                    START + timedelta(milliseconds=written),
                )
                written += 1
    return entries / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    args = parser.parse_args(argv)
    entries = 2_000 if args.quick else args.entries
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = SqlStore.sqlite(Path(tmp) / "ledger.db")
        results["append_per_s_tx1"] = fill(store, min(entries, 2_000), 1)
        results["append_per_s_tx100"] = (
            fill(store, entries - min(entries, 2_000), 100)
            if entries > 2_000
            else results["append_per_s_tx1"]
        )
        signer = Signer("bench", Ed25519PrivateKey.generate())
        with store.unit_of_work() as uow:
            tree = tree_of(uow.iter_ledger())
        note = sign_checkpoint(Checkpoint(ORIGIN, tree.size, tree.root()), signer)
        del tree
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        with store.unit_of_work() as uow:  # read from SQLite and verify in one stream
            report = verify_log(
                uow.iter_ledger(), [note], [Verifier.parse(signer.verifier_key())], ORIGIN
            )
        results["entries"] = report.entries
        results["load_and_verify_s"] = time.perf_counter() - started
        assert report.ok, report.problems
        results["peak_rss_mb_before_verify"] = rss_before
        results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        store.close()
    for name, value in results.items():
        print(f"{name:24s} {value:14.1f}")
    return results


if __name__ == "__main__":
    main()
