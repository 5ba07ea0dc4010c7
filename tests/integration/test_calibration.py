"""Confidence calibration end to end: finished remediations are recorded with the confidence
their reasoners claimed and how they ended, and later decisions route on the calibrated value,
recording both and explaining it."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from arf.core.clock import ManualClock
from arf.core.records import IncidentState
from arf.governance.calibration import CalibrationRules, PlanOutcome, calibrate
from arf.oversight.explain import explain_json, explain_markdown
from arf.runtime.demo import DemoDriver
from arf.runtime.history import incident_records
from arf.sim.faults import demo_scenarios
from tests.conftest import START, make_runtime


def test_later_decisions_are_calibrated_on_the_outcomes_of_earlier_ones(tmp_path: Path) -> None:
    packaged = resources.files("arf.governance").joinpath("default_policy.yaml")
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        packaged.read_text("utf-8") + "\ncalibration: {min_outcomes: 2}\n", encoding="utf-8"
    )
    runtime = make_runtime(tmp_path / "home", ManualClock(START), policy=policy)
    driver = DemoDriver(runtime, lambda _line: None)
    scenarios = {s.name: s for s in demo_scenarios()}
    results = driver.run(
        [scenarios[n] for n in ("bad-deploy", "config-drift", "memory-exhaustion")]
    )
    incident_ids = [r.incidents[0] for r in results]

    runs = runtime.run_history.runs(runtime.clock.now())
    recorded = {r.incident_id: r for r in runs}
    assert set(incident_ids) <= set(recorded)
    for incident_id in incident_ids:
        assert recorded[incident_id].provenance == "evidence"
        assert recorded[incident_id].outcome == "verified"

    inputs = []
    with runtime.store.unit_of_work() as uow:
        for incident_id in incident_ids:
            assert uow.get_incident(incident_id).state is IncidentState.RESOLVED
            decision = uow.latest_decision(incident_id)
            assert decision is not None
            steps = decision.policy_input["steps"]
            assert isinstance(steps, list) and isinstance(steps[0], dict)
            seen = steps[0]["diagnosis"]
            assert isinstance(seen, dict)
            inputs.append(seen)
    # the first two had too little history; the third is calibrated on both of them
    assert [i["calibration_outcomes"] for i in inputs] == [0, 0, 2]
    assert inputs[0]["confidence"] == inputs[0]["raw_confidence"]
    earlier = [
        PlanOutcome(
            incident_ids[n], "evidence", recorded[incident_ids[n]].plan_confidence or 0, True
        )
        for n in (0, 1)
    ]
    third = inputs[2]["raw_confidence"]
    assert isinstance(third, float)
    expected = calibrate(third, "evidence", earlier, CalibrationRules(min_outcomes=2))
    assert inputs[2]["confidence"] == expected.value > third  # both held: trust rises, capped

    records = incident_records(runtime.store, incident_ids[2])
    assert "calibrated on 2 finished evidence plans" in explain_markdown(records)
    document = explain_json(records)["decision"]
    assert isinstance(document, dict) and document["calibration_outcomes"] == 2
    runtime.store.close()
