from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arf.core.errors import InputError
from arf.core.records import Severity, SignalKind, SignalStatus
from arf.signals.alertmanager import parse_webhook

NOW = datetime(2026, 11, 24, 13, 30, tzinfo=UTC)


def test_real_alertmanager_firing_payload(shared_data: Path) -> None:
    payload = json.loads((shared_data / "alertmanager" / "firing.json").read_text())
    result = parse_webhook(payload, NOW)
    assert result.rejected == ()
    (signal,) = result.signals
    assert signal.kind is SignalKind.ALERT and signal.status is SignalStatus.FIRING
    assert signal.service == "checkout" and signal.severity is Severity.CRITICAL
    assert signal.fingerprint == "am:2af6470f20bd51e6"  # Alertmanager's own fingerprint
    assert signal.observed_at == datetime(2026, 11, 24, 13, 28, 50, 960000, tzinfo=UTC)
    assert signal.title.startswith("DemoHighErrorRate")


def test_real_resolved_payload_has_the_same_fingerprint(shared_data: Path) -> None:
    firing = json.loads((shared_data / "alertmanager" / "firing.json").read_text())
    resolved = json.loads((shared_data / "alertmanager" / "resolved.json").read_text())
    (a,) = parse_webhook(firing, NOW).signals
    (b,) = parse_webhook(resolved, NOW).signals
    assert b.status is SignalStatus.RESOLVED and a.fingerprint == b.fingerprint


def test_one_bad_alert_does_not_lose_the_good_ones(shared_data: Path) -> None:
    payload = json.loads((shared_data / "alertmanager" / "firing.json").read_text())
    good = payload["alerts"][0]
    payload["alerts"] = [
        good,
        {"status": "firing", "labels": {}},
        "junk",
        {**good, "startsAt": "yesterday"},
    ]
    result = parse_webhook(payload, NOW)
    assert len(result.signals) == 1
    assert [i for i, _ in result.rejected] == [1, 2, 3]
    assert "alertname" in result.rejected[0][1]
    assert "startsAt" in result.rejected[2][1]


@pytest.mark.parametrize(
    "payload", [[], "x", {"version": "3", "alerts": []}, {"version": "4", "alerts": {}}]
)
def test_malformed_envelopes_are_input_errors(payload: object) -> None:
    with pytest.raises(InputError):
        parse_webhook(payload, NOW)


json_leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
json_any = st.recursive(
    json_leaf,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=4),
    max_leaves=15,
)


@given(st.dictionaries(st.sampled_from(["version", "alerts", "status", "x"]), json_any))
def test_arbitrary_json_never_escapes_as_anything_but_input_error(
    payload: dict[str, object],
) -> None:
    try:
        result = parse_webhook(payload, NOW)
    except InputError:
        return
    assert len(result.signals) + len(result.rejected) == len(payload["alerts"])  # type: ignore[arg-type]
