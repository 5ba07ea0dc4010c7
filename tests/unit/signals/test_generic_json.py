from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from arf.core.errors import ConfigError
from arf.core.records import Severity, SignalStatus
from arf.signals.generic_json import JsonMapping, lookup, parse_generic

NOW = datetime(2026, 11, 24, 13, 30, tzinfo=UTC)
DATA = Path(__file__).resolve().parents[2] / "data"


def test_a_mapping_turns_any_json_into_signals() -> None:
    mapping = JsonMapping.from_file(DATA / "generic-mapping.yaml")
    payload = json.loads((DATA / "generic-events.json").read_text())
    result = parse_generic(payload, mapping, NOW)
    firing, resolved = result.signals
    assert firing.service == "checkout" and firing.severity is Severity.CRITICAL
    assert firing.status is SignalStatus.FIRING and resolved.status is SignalStatus.RESOLVED
    assert firing.fingerprint == resolved.fingerprint
    assert firing.observed_at == datetime.fromtimestamp(1795525200, UTC)
    assert [i for i, _ in result.rejected] == [2] and "summary is missing" in result.rejected[0][1]


def test_lookup_paths() -> None:
    value = {"a": {"b": [{"c": 1}, {"c": 2}]}}
    assert lookup(value, "a.b[1].c") == 2
    assert lookup(value, "a.b[5].c") is None and lookup(value, "a.x") is None


def test_bad_mappings_are_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "m.yaml"
    bad.write_text("name: Bad Name\nfields: {title: t, observed_at: ts, fingerprint: [id]}\n")
    with pytest.raises(ConfigError, match="name"):
        JsonMapping.from_file(bad)
