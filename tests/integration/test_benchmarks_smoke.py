"""Benchmarks keep working: a quick run of each, checking the figures exist (not their speed)."""

from __future__ import annotations

from benchmarks.lifecycle import main


def test_lifecycle_benchmark_quick_run() -> None:
    results = main(["--quick"])
    assert results["demo_incidents"] == 9
    for name in (
        "ingest_alerts_per_s",
        "ledger_appends_per_s",
        "ledger_verify_entries_per_s",
        "control_plane_ms_per_incident",
    ):
        assert results[name] > 0


def test_ledger_benchmark_quick_run() -> None:
    from benchmarks.ledger import main as ledger_main

    results = ledger_main(["--quick"])
    assert results["entries"] == 2_000
    assert results["append_per_s_tx1"] > 0 and results["load_and_verify_s"] > 0


def test_storm_benchmark_quick_run() -> None:
    from benchmarks.storm import main as storm_main

    results = storm_main(["--quick"])
    assert results["1_failure_incidents"] == 1 and results["2_failure_incidents"] == 2


def test_context_benchmark_quick_run() -> None:
    from benchmarks.context import main as context_main

    results = context_main(["--quick"])
    assert results["evidence_kept"] > 0 and results["token_count"] <= 6_000


def test_policy_benchmark_quick_run() -> None:
    from benchmarks.policy import main as policy_main

    results = policy_main(["--quick"])
    assert results["rules"] == 50 and results["route_p99_us"] > 0


def test_crash_soak_quick_run() -> None:
    from benchmarks.crash_soak import main as soak_main

    results = soak_main(["--quick"])
    assert results["points"] == 10 and results["same"] == 10 and results["killed"] >= 10


def test_evaluation_benchmark_quick_run() -> None:
    from benchmarks.evaluation import main as evaluation_main

    results = evaluation_main(["--quick"])
    assert results["episodes"] == 5 and results["incidents"] >= 5


def test_sim_scale_benchmark_quick_run() -> None:
    from benchmarks.sim_scale import main as scale_main

    results = scale_main(["--quick"])
    assert results["faults"] >= 3 and results["incidents"] >= 3
    # most injected faults are undone by ARF itself, and every incident ends
    assert results["faults_undone_by_arf"] >= results["faults"] / 2
    ended = ("incidents_resolved", "incidents_escalated", "incidents_closed")
    assert results["incidents"] == sum(results.get(k, 0.0) for k in ended)
    # calibration is scored on every finished plan (too few in 3 rounds to change any)
    assert 0 < results["plans_finished"] <= results["incidents"]
    assert results["brier_calibrated"] == results["brier_claimed"]
    again = scale_main(["--quick"])  # deterministic for a seed (all but the timings)
    timings = ("seconds", "incidents_per_s", "simulator_share")
    assert {k: v for k, v in again.items() if k not in timings} == {
        k: v for k, v in results.items() if k not in timings
    }
