from __future__ import annotations

from datetime import UTC, datetime

from arf.core.records import Severity
from arf.signals.logs import parse_lines, template_of

NOW = datetime(2026, 11, 24, 13, 30, tzinfo=UTC)


def test_json_and_plain_text_lines() -> None:
    lines = [
        '{"ts": "2026-11-24T13:05:00Z", "level": "error", "service": "checkout",'
        ' "msg": "call to payments failed after 312 ms"}',
        "2026-11-24T13:05:01Z ERROR service=payments pool exhausted (20/20 in use)",
        "2026-11-24 13:05:02+00:00 INFO service=payments all good",
        "Nov 24 13:05:03 node-a orders[812]: ERR connection refused to orders-db:5432",
        "Nov 24 13:05:04 node-a kernel: CRIT oom-killer invoked",
        "2026-11-24T13:05:05Z FATAL cannot load config",
        "garbage without a time",
        '{"ts": "2026-11-24T13:05:06Z", "level": "error"}',
    ]
    result = parse_lines(lines, NOW, default_service="inventory")
    services = [(s.service, s.severity) for s in result.signals]
    assert services == [
        ("checkout", Severity.HIGH),
        ("payments", Severity.HIGH),
        ("orders", Severity.HIGH),
        ("kernel", Severity.CRITICAL),
        ("inventory", Severity.CRITICAL),  # no service in the line: the default
    ]
    assert result.signals[2].observed_at == datetime(2026, 11, 24, 13, 5, 3, tzinfo=UTC)
    assert [n for n, _ in result.rejected] == [7, 8]
    assert "no timestamp" in result.rejected[0][1]


def test_plain_text_without_a_service_is_rejected_clearly() -> None:
    result = parse_lines(["2026-11-24T13:05:05Z ERROR disk full"], NOW)
    assert result.signals == () and "service=NAME" in result.rejected[0][1]


def test_templates_fold_numbers_and_ids() -> None:
    assert template_of("timeout after 31 ms (trace 9f8e7d6c5b4a)") == template_of(
        "timeout after 2 ms (trace 0a1b2c3d4e5f)"
    )
