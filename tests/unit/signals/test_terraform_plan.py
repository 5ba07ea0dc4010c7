from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from arf.core.records import Severity, SignalKind
from arf.signals.terraform_plan import looks_like_terraform_plan, parse_plan

NOW = datetime(2026, 11, 24, 13, 30, tzinfo=UTC)
SAMPLE = Path(__file__).resolve().parents[2] / "data" / "terraform-plan.json"


def test_plan_changes_become_iac_change_signals() -> None:
    payload = json.loads(SAMPLE.read_text())
    assert looks_like_terraform_plan(payload)
    result = parse_plan(payload, NOW)
    assert [i for i, _ in result.rejected] == [4]
    bucket, database, group = result.signals  # the no-op is skipped
    assert {s.kind for s in result.signals} == {SignalKind.CHANGE}
    assert bucket.resource == "aws_s3_bucket.audit_logs"
    assert bucket.attributes["change_type"] == "iac"
    assert (bucket.attributes["key"], bucket.attributes["from"], bucket.attributes["to"]) == (
        "acl",
        "private",
        "public-read",
    )
    assert bucket.observed_at == datetime(2026, 11, 24, 13, 10, tzinfo=UTC)
    assert "S3cret" not in json.dumps(database.model_dump(mode="json"))
    assert database.attributes["to"] == "[REDACTED:terraform_sensitive]"
    assert group.title.startswith("iac replace of aws_security_group.ssh_open")
    assert group.severity is Severity.MEDIUM  # destructive
