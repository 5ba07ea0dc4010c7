"""Canary secrets planted in every source format never reach the database, the snapshots,
the ledger, the witness or the command's output."""

from __future__ import annotations

import json
import secrets
import string
from pathlib import Path

import pytest

from arf.core.clock import ManualClock
from arf.runtime import ledger_ops
from arf.runtime.ingest import Ingestor, IngestReport
from arf.runtime.orchestrator import Orchestrator
from tests.conftest import START, make_runtime


def canaries() -> dict[str, str]:
    alnum = string.ascii_letters + string.digits

    def pick(n: int) -> str:
        return "".join(secrets.choice(alnum) for _ in range(n))

    return {
        "github": "ghp_" + pick(36),
        "aws": "AKIA" + "".join(secrets.choice(string.ascii_uppercase) for _ in range(16)),
        "db_url_password": pick(18),
        "gitlab": "glpat-" + pick(20),
        "assignment": pick(20),
        "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ." + pick(43),
        "stripe": "sk_live_" + pick(24),
    }


def test_canaries_never_survive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runtime = make_runtime(tmp_path / "home", ManualClock(START))
    from arf.ledger.keys import create_key, publish_verifier

    signer = create_key(runtime.settings.ledger_key_path, "canary-test")
    publish_verifier(runtime.settings.keyring_path, signer)
    planted = canaries()
    ingestor = Ingestor(runtime)
    stamp = START.isoformat().replace("+00:00", "Z")
    ingestor.ingest(
        "alertmanager",
        {
            "version": "4",
            "status": "firing",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {
                        "alertname": "HighErrorRate",
                        "service": "checkout",
                        "severity": "critical",
                        "api_token": planted["github"],
                    },
                    "annotations": {
                        "summary": f"checkout cannot reach postgres://app:{planted['db_url_password']}"
                        "@db:5432/orders",
                        "description": f"key {planted['aws']}"
                        f" and DB_PASSWORD={planted['assignment']}",
                    },
                    "startsAt": stamp,
                    "endsAt": "0001-01-01T00:00:00Z",
                    "fingerprint": "c0ffee",
                }
            ],
        },
    )
    ingestor.ingest(
        "cloudevent",
        {
            "specversion": "1.0",
            "id": "e1",
            "source": "ci",
            "type": "dev.arf.change.deploy",
            "subject": "checkout",
            "time": stamp,
            "data": {
                "from": "1.0",
                "to": "1.1",
                "description": f"deployed with glab token {planted['gitlab']}",
            },
        },
    )
    ingestor.ingest(
        "checkov",
        [
            {
                "check_type": "terraform",
                "results": {
                    "failed_checks": [
                        {
                            "check_id": "CKV_AWS_20",
                            "check_name": f"bucket uses {planted['stripe']}",
                            "resource": "aws_s3_bucket.logs",
                            "file_path": "/main.tf",
                            "guideline": f"Authorization: Bearer {planted['jwt']}",
                        }
                    ],
                    "passed_checks": [],
                },
            }
        ],
    )
    ingestor.ingest(
        "logs",
        json.dumps(
            {
                "ts": stamp,
                "level": "error",
                "service": "checkout",
                "msg": f"login failed for token {planted['github']} with {planted['jwt']}",
            }
        ),
    )
    runtime.clock.sleep(120)
    Orchestrator(runtime).run_pending()
    ledger_ops.checkpoint(runtime)
    with runtime.store.unit_of_work() as uow:
        incidents = uow.list_incidents()
        assert len(incidents) == 2  # the checkout alert and the bucket finding
        assert all(uow.latest_snapshot(i.incident_id) for i in incidents)
        assert all(uow.latest_diagnosis(i.incident_id) for i in incidents)
    runtime.store.close()

    home = runtime.settings.home
    stored = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    captured = capsys.readouterr()
    printed = captured.out + captured.err
    for name, canary in planted.items():
        assert canary.encode() not in stored, f"{name} canary reached the disk"
        assert canary not in printed, f"{name} canary was printed"
    assert b"[REDACTED:" in stored  # the placeholders did land


def test_an_unredacted_context_never_reaches_the_reasoner(tmp_path: Path) -> None:
    """Defence in depth: a secret that slipped past ingestion stops at the reasoner's door."""
    from arf.core.records import IncidentState
    from arf.signals.alertmanager import parse_webhook

    runtime = make_runtime(tmp_path / "home", ManualClock(START))
    token = "ghp_" + "A1b2C3d4" * 4 + "ZZzz"
    payload = {
        "version": "4",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "HighErrorRate",
                    "service": "checkout",
                    "severity": "critical",
                },
                "annotations": {"summary": f"token {token}"},
                "startsAt": START.isoformat(),
                "fingerprint": "beef",
            }
        ],
    }
    (signal,) = parse_webhook(payload, START).signals
    ingestor = Ingestor(runtime)
    with runtime.store.unit_of_work() as uow:  # bypass redaction on purpose
        ingestor.store_signals(uow, [signal], IngestReport())
    runtime.clock.sleep(120)
    Orchestrator(runtime).run_pending()
    with runtime.store.unit_of_work() as uow:
        (incident,) = uow.list_incidents()
        assert incident.state is IncidentState.ESCALATED
        assert "redaction check" in incident.outcome_reason
        assert uow.latest_diagnosis(incident.incident_id) is None
    runtime.store.close()
