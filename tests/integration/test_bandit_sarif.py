"""SARIF produced by a real scanner run (Bandit) flows in, and its hard-coded password does not."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from arf.core.clock import ManualClock
from arf.runtime.ingest import Ingestor
from tests.conftest import START, make_runtime

VULNERABLE = """import hashlib
import subprocess


def run(cmd):
    return subprocess.call(cmd, shell=True)


db_password = "Tr0ub4dor-and-3"
digest = hashlib.md5(b"x")
"""


def test_bandit_sarif_is_ingested_and_redacted(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "app.py").write_text(VULNERABLE)
    out = tmp_path / "bandit.sarif"
    done = subprocess.run(
        [sys.executable, "-m", "bandit", "-q", "-r", str(source), "-f", "sarif", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode in (0, 1), done.stderr  # 1: issues found
    payload = json.loads(out.read_text())
    runtime = make_runtime(tmp_path / "home", ManualClock(START))
    report = Ingestor(runtime).ingest("sarif", payload)
    assert report.accepted >= 3 and not report.rejected
    with runtime.store.engine.connect() as conn:
        records = [
            json.loads(r) for r in conn.exec_driver_sql("select record from signals").scalars()
        ]
    rules = {r["labels"]["check_id"] for r in records}
    assert {"B602", "B105", "B324"} <= rules  # shell=True, hard-coded password, MD5
    assert any("[REDACTED:" in r["title"] for r in records if r["labels"]["check_id"] == "B105")
    runtime.store.close()
    stored = b"".join(p.read_bytes() for p in (tmp_path / "home").rglob("*") if p.is_file())
    assert b"Tr0ub4dor-and-3" not in stored
