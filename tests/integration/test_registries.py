"""Signal formats and platforms are registries: ARF's own are registered through entry points
like a plug-in's; a plug-in's format is ingested by the CLI and over HTTP with no source edit,
and a plug-in's platform sits beside the built-in ones."""

from __future__ import annotations

from datetime import datetime
from importlib import metadata
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import JsonValue

from arf.core.errors import ConfigError, InputError
from arf.core.records import Severity, Signal, SignalKind, SignalStatus
from arf.runtime.container import Runtime
from arf.runtime.ingest import Ingestor, read_payload_file
from arf.runtime.platforms import Platform, PlatformAdapters
from arf.runtime.plugins import FORMATS_GROUP, PLATFORMS_GROUP, load_formats, load_platforms
from arf.signals.formats import ParseOptions, ParseResult, SignalFormat
from arf.signals.normalise import payload_digest
from tests.integration.test_api import client
from tests.integration.test_cli import arf, assert_one_line_error

HERE = "tests.integration.test_registries"


def _statuspage(payload: JsonValue, now: datetime, _: ParseOptions) -> ParseResult:
    """A made-up status page's incident feed: {"component": ..., "state": "down"|"up"}."""
    if not isinstance(payload, dict) or not isinstance(payload.get("component"), str):
        raise InputError("statuspage: expected {component, state}")
    component = str(payload["component"])
    return ParseResult(
        (
            Signal(
                signal_id=f"sig-status-{component}",
                source="statuspage",
                kind=SignalKind.ALERT,
                fingerprint=f"statuspage:{component}",
                service=component,
                severity=Severity.CRITICAL,
                status=SignalStatus.FIRING
                if payload.get("state") == "down"
                else SignalStatus.RESOLVED,
                title=f"StatusPageDown {component}",
                attributes={"alertname": "StatusPageDown"},
                observed_at=now,
                received_at=now,
                payload_digest=payload_digest(payload),
            ),
        )
    )


def statuspage_format() -> SignalFormat:
    return SignalFormat(
        "statuspage",
        "a status page feed",
        _statuspage,
        lambda p: isinstance(p, dict) and "component" in p and "state" in p,
        priority=5,
    )


def _with_plugin(
    name: str = "statuspage", attr: str = "statuspage_format"
) -> list[metadata.EntryPoint]:
    builtin = list(metadata.entry_points(group=FORMATS_GROUP))
    return [*builtin, metadata.EntryPoint(name, f"{HERE}:{attr}", FORMATS_GROUP)]


def test_the_built_in_formats_are_registered_and_detection_names_every_one() -> None:
    table = load_formats()
    assert {"alertmanager", "checkov", "sarif", "logs", "json"} <= set(table.names())
    with pytest.raises(InputError) as caught:
        table.detect({"nothing": "recognisable"})
    sentence = str(caught.value)
    for name in table.names():
        item = table.get(name)
        if item.detect is not None:  # the sentence is generated: it cannot drift
            assert item.description in sentence, name
    with pytest.raises(InputError, match="unknown format 'nope' \\(known: alertmanager"):
        table.get("nope")


def test_a_plugin_format_is_detected_parsed_and_served_over_http(
    runtime: Runtime, tmp_path: Path
) -> None:
    runtime.formats = load_formats(_with_plugin())
    payload = tmp_path / "status.json"
    payload.write_text('{"component": "checkout", "state": "down"}')
    kind, body = read_payload_file(payload, None, runtime.formats)
    assert kind == "statuspage"
    report = Ingestor(runtime).ingest(kind, body)
    assert report.accepted == 1 and report.opened
    http: TestClient = client(runtime)
    up = http.post("/api/v1/signals/statuspage", json={"component": "checkout", "state": "up"})
    assert up.status_code == 200 and up.json()["resolved"] == 1
    signed = http.post("/api/v1/signals/ci", json={"workflow_run": {}})
    assert signed.status_code == 400 and "own signed endpoint" in signed.json()["detail"]
    unknown = http.post("/api/v1/signals/nope", json={})
    assert unknown.status_code == 400 and "known: alertmanager" in unknown.json()["detail"]
    logs = http.post(
        "/api/v1/signals/logs",
        content=b'{"ts": "2026-01-05T09:00:00Z", "level": "error", "service": "cart",'
        b' "msg": "connection refused"}\n',
    )
    assert logs.status_code == 200 and logs.json()["accepted"] == 1


def test_a_broken_or_misnamed_format_plugin_stops_with_its_name() -> None:
    with pytest.raises(ConfigError, match=r"plug-in 'statuspage' .* failed to load"):
        load_formats(_with_plugin(attr="nothing_here"))
    with pytest.raises(ConfigError, match="must return a SignalFormat named 'status'"):
        load_formats(_with_plugin(name="status"))


def test_a_platform_nobody_registered_is_one_line_naming_the_known(tmp_path: Path) -> None:
    """Platforms are a registry too (`arf.platforms`): the setting names a registered one."""
    result = arf(tmp_path, "demo", env={"ARF_PLATFORM": "mars"})
    assert_one_line_error(result, "platform 'mars' is not registered (ARF_PLATFORM; known:")
    assert "hosts, kubernetes, sim" in result.stderr
    listed = arf(tmp_path, "platforms", "--json")
    assert listed.returncode == 0 and '"name": "kubernetes"' in listed.stdout


def test_ingest_with_an_unknown_format_is_one_line_naming_the_known(tmp_path: Path) -> None:
    payload = tmp_path / "x.json"
    payload.write_text("{}")
    result = arf(tmp_path, "ingest", str(payload), "--format", "nope")
    assert_one_line_error(result, "unknown format 'nope' (known: alertmanager")
    listed = arf(tmp_path, "formats", "--json")
    assert listed.returncode == 0 and '"name": "terraform-plan"' in listed.stdout


def restart_only_platform() -> Platform:
    """A third party's platform that can only restart (acting on the simulated world)."""
    return Platform(
        "restarter",
        "restarts only",
        lambda: frozenset({"restart"}),
        lambda settings, clock, world: PlatformAdapters(world, world),
    )


def test_a_plugin_platform_registers_beside_the_built_ins() -> None:
    builtin = list(metadata.entry_points(group=PLATFORMS_GROUP))
    extra = metadata.EntryPoint("restarter", f"{HERE}:restart_only_platform", PLATFORMS_GROUP)
    table = load_platforms([*builtin, extra])
    assert set(table) == {"sim", "kubernetes", "hosts", "restarter"}
    assert table["restarter"].operations() == frozenset({"restart"})
    misnamed = metadata.EntryPoint("other", f"{HERE}:restart_only_platform", PLATFORMS_GROUP)
    with pytest.raises(ConfigError, match="must return a Platform named 'other'"):
        load_platforms([misnamed])
