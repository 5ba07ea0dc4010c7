from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from arf.core.clock import ManualClock
from arf.sim.faults import (
    bad_deploy,
    dependency_outage,
    fault_undone,
    iac_misconfiguration,
    memory_exhaustion,
)
from arf.sim.model import Emission
from arf.sim.platform import SimPlatform, default_state

AT = datetime(2026, 1, 1, tzinfo=UTC)


def alerts_of(emission: Emission) -> list[dict[str, Any]]:
    payload: Any = emission.payload
    return list(payload["alerts"])


def platform(seed: int = 3) -> tuple[SimPlatform, ManualClock]:
    clock = ManualClock(AT)
    return SimPlatform(default_state(seed, clock.now().timestamp()), clock), clock


def run(seed: int) -> list[object]:
    sim, clock = platform(seed)
    bad_deploy(sim, "checkout", "1.5.0")
    out: list[object] = []
    for _ in range(30):
        clock.advance(15)
        sim.tick()
        out.extend(e.model_dump() for e in sim.drain())
    return out


def test_same_seed_same_world() -> None:
    assert run(3) == run(3)
    assert run(3) != run(4)  # the jitter differs, so the alert summaries differ


def test_metrics_follow_state_not_a_fault_flag() -> None:
    sim, _ = platform()
    assert sim.sample("checkout", "error_rate") < 0.01  # type: ignore[operator]
    fault = bad_deploy(sim, "checkout", "1.5.0")
    assert sim.sample("checkout", "error_rate") > 0.2  # type: ignore[operator]
    assert sim.sample("frontend", "error_rate") > 0.05  # type: ignore[operator]
    # Undo the cause by hand (as any actor could): metrics recover, ground truth agrees.
    sim.perform("deploy", "checkout", {"version": "1.4.2"}, "manual-1")
    assert sim.sample("checkout", "error_rate") < 0.01  # type: ignore[operator]
    assert fault_undone(sim, fault)
    assert sim.sample("nope", "error_rate") is None  # no data for unknown targets
    assert sim.sample("inventory", "saturation") < 1.0  # type: ignore[operator]
    memory_exhaustion(sim, "inventory", 800)
    assert sim.sample("inventory", "saturation") > 1.0  # type: ignore[operator]


def test_alerts_fire_after_their_for_duration_repeat_and_resolve() -> None:
    sim, clock = platform()
    dependency_outage(sim, "cache")
    statuses: list[tuple[str, str, str]] = []
    for _ in range(30):  # 7.5 virtual minutes
        clock.advance(15)
        sim.tick()
        for emission in sim.drain():
            if emission.format == "alertmanager":
                statuses += [
                    (a["labels"]["alertname"], a["labels"]["service"], a["status"])
                    for a in alerts_of(emission)
                ]
    down = [s for s in statuses if s[:2] == ("ServiceDown", "cache")]
    assert len(down) >= 2, "the firing alert repeats while the outage lasts"
    assert ("HighErrorRate", "catalog", "firing") in statuses  # noise from a neighbour
    sim.perform("restart", "cache", {}, "fix-1")
    clock.advance(15)
    sim.tick()
    resolved = [e for e in sim.drain() if e.format == "alertmanager"]
    assert resolved and all(a["status"] == "resolved" for a in alerts_of(resolved[0]))


def test_iac_misconfiguration_emits_a_change_and_a_failing_scan() -> None:
    sim, _ = platform()
    iac_misconfiguration(sim, "aws_s3_bucket.audit_logs", "acl", "public-read")
    formats = [e.format for e in sim.drain()]
    assert formats == ["cloudevent", "checkov"]
    assert sim.scan("aws_s3_bucket.audit_logs") == ("CKV_AWS_20",)


def test_state_round_trips_through_its_file(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    sim, clock = platform()
    bad_deploy(sim, "checkout", "1.5.0")
    sim.save(tmp_path / "state.json")
    again = SimPlatform.load(tmp_path / "state.json", clock)
    assert again.state == sim.state
