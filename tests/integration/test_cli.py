"""The `arf` command as a user runs it: real processes, real files, one-line errors."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


def arf(
    home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "ARF_HOME": str(home), "COLUMNS": "200", **(env or {})}
    environment.pop("ARF_TOKEN", None)
    if env and "ARF_TOKEN" in env:
        environment["ARF_TOKEN"] = env["ARF_TOKEN"]
    return subprocess.run(
        [sys.executable, "-m", "arf.cli.main", *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert fragment in lines[0], lines[0]


def count(home: Path, table: str) -> int:
    with sqlite3.connect(home / "arf.db") as conn:
        return int(conn.execute(f"select count(*) from {table}").fetchone()[0])


def test_ingest_a_real_alertmanager_payload(tmp_path: Path, shared_data: Path) -> None:
    result = arf(tmp_path, "ingest", str(shared_data / "alertmanager" / "firing.json"))
    assert result.returncode == 0, result.stderr
    assert "alertmanager: 1 new signal(s)" in result.stdout and "opened INC-" in result.stdout
    again = arf(tmp_path, "ingest", str(shared_data / "alertmanager" / "firing.json"))
    assert "0 new signal(s); 1 repeat(s)" in again.stdout  # idempotent: one signal stored
    resolved = arf(tmp_path, "ingest", str(shared_data / "alertmanager" / "resolved.json"))
    assert "1 resolved" in resolved.stdout
    assert count(tmp_path, "signals") == 1
    listed = arf(tmp_path, "incidents")
    assert "checkout" in listed.stdout and "open" in listed.stdout


def test_malformed_json_is_a_one_line_error_and_stores_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": "4", "alerts": [')
    assert_one_line_error(arf(tmp_path / "home", "ingest", str(bad)), "malformed JSON")
    assert count(tmp_path / "home", "signals") == 0
    assert count(tmp_path / "home", "ledger") == 0


def test_a_batch_of_only_bad_alerts_fails_and_stores_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": "4", "alerts": [{"status": "firing", "labels": {}}]}')
    result = arf(tmp_path / "home", "ingest", str(bad))
    assert result.returncode == 1 and "alertname is missing" in result.stderr
    assert "Traceback" not in result.stderr
    assert count(tmp_path / "home", "signals") == 0


def test_missing_file_and_unknown_incident(tmp_path: Path) -> None:
    assert_one_line_error(arf(tmp_path, "ingest", str(tmp_path / "nope.json")), "cannot read")
    assert_one_line_error(arf(tmp_path, "show", "INC-NOPE"), "no incident with id 'INC-NOPE'")
    assert_one_line_error(arf(tmp_path, "approve", "INC-NOPE"), "no credentials")


def test_a_bad_policy_file_names_file_and_line(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("rules:\n  - id: typo\n    when: plan.confidense > 0.5\n    effect: deny\n")
    result = arf(tmp_path / "home", "run", env={"ARF_POLICY": str(policy)})
    assert_one_line_error(result, f"{policy}:2: rule 'typo': plan has no field 'confidense'")


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("cli-demo")
    result = arf(home, "demo")
    assert result.returncode == 0, result.stderr
    assert "waits for approval" in result.stdout
    assert "governance compliance rate" in result.stdout
    return home


def pending_incident(home: Path) -> str:
    with sqlite3.connect(home / "arf.db") as conn:
        row = conn.execute("select incident_id from incidents where state='awaiting_human'")
        return str(row.fetchone()[0])


def test_demo_then_show_approve_and_audit(demo_home: Path) -> None:
    incident = pending_incident(demo_home)
    shown = arf(demo_home, "show", incident)
    assert "failover_database" in shown.stdout and "approve" in shown.stdout
    assert "irreversible" in shown.stdout and "plan hash" in shown.stdout
    assert arf(demo_home, "audit", "verify").returncode == 0
    assert_one_line_error(
        arf(demo_home, "approve", incident, env={"ARF_TOKEN": "stolen"}),
        "does not belong to any configured identity",
    )
    approved = arf(demo_home, "approve", incident)  # the demo approver's credentials file
    assert approved.returncode == 0, approved.stderr
    assert "by demo-approver" in approved.stdout and "resolved" in approved.stdout
    audit = arf(demo_home, "audit", "verify")
    assert audit.returncode == 0 and "8/8" in audit.stdout
    with sqlite3.connect(demo_home / "arf.db") as conn:
        approvals = conn.execute(
            "select payload from ledger where kind='approval.recorded'"
        ).fetchall()
    assert len(approvals) == 1 and '"approver":"demo-approver"' in approvals[0][0]


def test_reject_needs_a_reason(demo_home: Path) -> None:
    result = arf(demo_home, "reject", "INC-X")
    assert result.returncode == 2 and "--reason" in result.stderr


def test_a_tampered_ledger_fails_verification(tmp_path: Path, demo_home: Path) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    with (
        sqlite3.connect(demo_home / "arf.db") as source,
        sqlite3.connect(copy / "arf.db") as target,
    ):
        source.backup(target)
    for name in ("arf.yaml", "sim-state.json", "identities.yaml", "credentials"):
        (copy / name).write_bytes((demo_home / name).read_bytes())
    with sqlite3.connect(copy / "arf.db") as conn:
        conn.execute(
            "update ledger set payload = replace(payload, 'demo-approver', 'mallory')"
            " where kind = 'approval.recorded'"
        )
        bad_seq = conn.execute(
            "select seq from ledger where kind = 'approval.recorded'"
        ).fetchone()[0]
    result = arf(copy, "audit", "verify")
    assert_one_line_error(result, f"ledger verification failed at entry {bad_seq}")


def copy_home(source: Path, target: Path) -> Path:
    import shutil

    shutil.copytree(source, target)
    return target


def test_truncating_the_tail_is_caught_by_the_published_checkpoint(
    tmp_path: Path, demo_home: Path
) -> None:
    home = copy_home(demo_home, tmp_path / "home")
    with sqlite3.connect(home / "arf.db") as conn:
        total = conn.execute("select max(seq) from ledger").fetchone()[0]
        conn.execute("delete from ledger where seq > ?", (total - 5,))
    assert_one_line_error(arf(home, "audit", "verify"), f"at entry {total - 4}")


def test_a_full_rewrite_with_recomputed_hashes_is_caught(tmp_path: Path, demo_home: Path) -> None:
    from arf.core.records import LedgerEntry
    from arf.ledger.chain import entry_hash

    home = copy_home(demo_home, tmp_path / "home")
    with sqlite3.connect(home / "arf.db") as conn:
        rows = conn.execute(
            "select seq, prev_hash, entry_hash, kind, incident_id, at, payload"
            " from ledger order by seq"
        ).fetchall()
        prev = rows[9][1]
        for seq, _, _, kind, incident, at, payload in rows[9:]:
            if seq == 10:  # the attacker's edit; everything after it is re-hashed
                payload = payload[:-1] + ',"forged":true}'
            entry = LedgerEntry.model_validate(
                {
                    "seq": seq,
                    "prev_hash": prev,
                    "entry_hash": "x",
                    "kind": kind,
                    "incident_id": incident,
                    "at": at,
                    "payload": json.loads(payload),
                }
            )
            digest = entry_hash(seq, prev, kind, incident, entry.at, entry.payload)
            conn.execute(
                "update ledger set prev_hash=?, entry_hash=?, payload=? where seq=?",
                (prev, digest, payload, seq),
            )
            prev = digest
    result = arf(home, "audit", "verify")
    assert_one_line_error(result, "history was rewritten")


def test_prove_and_check_offline(tmp_path: Path, demo_home: Path) -> None:
    bundle = tmp_path / "proof.json"
    assert arf(demo_home, "audit", "prove", "3", "--out", str(bundle)).returncode == 0
    keyring = demo_home / "keys" / "ledger.keyring"
    checked = arf(
        tmp_path / "elsewhere", "audit", "check-proof", str(bundle), "--keyring", str(keyring)
    )
    assert checked.returncode == 0 and "entry 3" in checked.stdout
    data = json.loads(bundle.read_text())
    data["entry"]["kind"] = "forged"
    bundle.write_text(json.dumps(data))
    forged = arf(
        tmp_path / "elsewhere", "audit", "check-proof", str(bundle), "--keyring", str(keyring)
    )
    assert_one_line_error(forged, "proof does not verify")


def test_compliance_report_from_the_ledger(tmp_path: Path, demo_home: Path) -> None:
    out = tmp_path / "report.json"
    result = arf(
        demo_home, "report", "compliance", "--since", "30d", "--format", "json", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["executed"] == report["compliant"] >= 7 and report["rate"] == 1.0
    routes = {a["route"] for a in report["actions"]}
    assert "autonomous" in routes
    assert all(a["rollback_declared"] and a["verifications"] for a in report["actions"])
    assert any("A.8.15" in c["iso_27001"] for c in report["controls"])
    markdown = arf(demo_home, "report", "compliance")
    assert "Governance compliance rate: 100.0%" in markdown.stdout
    assert_one_line_error(
        arf(demo_home, "report", "compliance", "--since", "3x"), "expected a number and a unit"
    )


def test_kubernetes_events_open_an_incident_only_for_failures(tmp_path: Path) -> None:
    sample = REPO / "tests" / "data" / "kubectl-events.json"
    first = arf(tmp_path, "ingest", str(sample))
    assert first.returncode == 0, first.stderr
    assert "kubernetes: 3 new signal(s)" in first.stdout and "1 rejected" in first.stdout
    assert "items[3]" in first.stderr and "names no object" in first.stderr
    with sqlite3.connect(tmp_path / "arf.db") as conn:
        services = sorted(json.loads(r[0]) for r in conn.execute("select record from incidents"))
    # BackOff on checkout and OOMKilling on orders-db (checkout -> orders -> orders-db) lie on
    # one dependency path within two hops: one incident; the Normal event opened nothing.
    assert [sorted(s["services"]) for s in services] == [["checkout", "orders-db"]]
    again = arf(tmp_path, "ingest", str(sample))
    assert "0 new signal(s)" in again.stdout  # the same events again: repeats, not new


def test_generic_json_with_a_mapping_is_ingested_and_redacted(tmp_path: Path) -> None:
    data = REPO / "tests" / "data"
    result = arf(
        tmp_path,
        "ingest",
        str(data / "generic-events.json"),
        "--format",
        "json",
        "--mapping",
        str(data / "generic-mapping.yaml"),
    )
    assert result.returncode == 0, result.stderr
    assert "json: 1 new signal(s)" in result.stdout and "1 resolved" in result.stdout
    with sqlite3.connect(tmp_path / "arf.db") as conn:
        record = conn.execute("select record from signals").fetchone()[0]
    assert "abcd1234efgh5678" not in record and "[REDACTED:" in record
    missing = arf(tmp_path, "ingest", str(data / "generic-events.json"), "--format", "json")
    assert_one_line_error(missing, "needs a field mapping")


def test_checkpoints_published_to_a_git_witness_catch_truncation(
    tmp_path: Path, demo_home: Path
) -> None:
    home = copy_home(demo_home, tmp_path / "home")
    env = {"ARF_WITNESS": f"git:{tmp_path / 'witness'}"}
    published = arf(home, "audit", "checkpoint", env=env)
    assert published.returncode == 0, published.stderr
    log = subprocess.run(
        ["git", "log", "--format=%s"], cwd=tmp_path / "witness", capture_output=True, text=True
    )
    assert log.stdout.startswith("checkpoint arf.local/ledger size ")
    assert arf(home, "audit", "verify", env=env).returncode == 0
    with sqlite3.connect(home / "arf.db") as conn:
        total = conn.execute("select max(seq) from ledger").fetchone()[0]
        conn.execute("delete from ledger where seq > ?", (total - 3,))
    assert_one_line_error(arf(home, "audit", "verify", env=env), f"at entry {total - 2}")


def test_retention_expires_old_signals_with_a_tombstone_and_keeps_an_open_incidents(
    tmp_path: Path,
) -> None:
    import hashlib

    home = tmp_path / "home"  # a demo of its own: the shared one's pending incident is
    assert arf(home, "demo").returncode == 0  # approved by another test
    assert_one_line_error(arf(home, "audit", "retention"), "no retention is configured")
    query = (
        "select s.signal_id, s.record, s.incident_id, i.state from signals s"
        " left join incidents i on i.incident_id = s.incident_id order by s.signal_id"
    )
    with sqlite3.connect(home / "arf.db") as conn:
        before = conn.execute(query).fetchall()
    dry = arf(home, "audit", "retention", "--older-than", "0.001", "--dry-run")
    assert dry.returncode == 0 and "would expire" in dry.stdout, dry.stderr
    with sqlite3.connect(home / "arf.db") as conn:
        assert conn.execute("select count(*) from signals").fetchone()[0] == len(before)
    done = arf(home, "audit", "retention", env={"ARF_RETENTION_DAYS": "0.001"})
    assert done.returncode == 0 and "tombstone: ledger entry" in done.stdout, done.stderr
    with sqlite3.connect(home / "arf.db") as conn:
        kept = {row[0] for row in conn.execute("select signal_id from signals")}
        (payload,) = conn.execute(
            "select payload from ledger where kind = 'retention.expired'"
        ).fetchone()
    gone = [row for row in before if row[0] not in kept]
    assert gone and kept  # some expired; the open incident's stayed
    assert all(state != "awaiting_human" for _, _, _, state in gone)
    assert any(state == "awaiting_human" for sid, _, _, state in before if sid in kept)
    tombstone = json.loads(payload)
    assert tombstone["count"] == len(gone) and tombstone["what"] == "signals"
    lines = "".join(
        f"{sid} {hashlib.sha256(record.encode()).hexdigest()}\n" for sid, record, _, _ in gone
    )
    assert tombstone["digest"] == hashlib.sha256(lines.encode()).hexdigest()
    assert not any(record in payload for _, record, _, _ in gone)  # redacted: digests only
    assert arf(home, "audit", "verify").returncode == 0
    again = arf(home, "audit", "retention", "--older-than", "0.001")
    assert "expired 0 signal(s)" in again.stdout and "tombstone" not in again.stdout
