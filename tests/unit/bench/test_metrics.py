"""The evaluation's metrics on hand-made episode timelines, where every number is worked out."""

from __future__ import annotations

from dataclasses import replace

import pytest

from arf.bench import results as m
from arf.bench.episode import HORIZON_S, RunRecord


def record(**changes: object) -> RunRecord:
    base = RunRecord(
        system="ARF (evidence)",
        scenario="bad-release",
        scenario_class="failed_deployment",
        seed=1,
        detected_s=60.0,
        resolved_s=300.0,
        expects_remediation=True,
        human_minutes=0.0,
        pages=0,
        raw_alerts=10,
        executed=("rollback_deploy checkout",),
        false_remediations=0,
        tempting_taken=0,
        unsafe_proposed=0,
        unsafe_blocked=0,
        audited=1,
        compliant=1,
        escalated=False,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_mttd_and_mttr_are_means_over_episodes_with_a_fault() -> None:
    records = [
        record(detected_s=60.0, resolved_s=300.0),
        record(detected_s=120.0, resolved_s=900.0),
        # a no-fault control: its detection and "resolution" do not count
        record(scenario_class="no_fault", expects_remediation=False, detected_s=5.0),
    ]
    assert m.mttd_s(records) == pytest.approx(90.0)
    assert m.mttr_s(records) == pytest.approx(600.0)


def test_an_unresolved_episode_counts_at_the_horizon_and_lowers_the_resolved_share() -> None:
    records = [record(resolved_s=600.0), record(resolved_s=None)]
    assert m.mttr_s(records) == pytest.approx((600.0 + HORIZON_S) / 2)
    assert m.resolved_share(records) == pytest.approx(0.5)


def test_toil_is_human_minutes_per_episode_including_controls() -> None:
    records = [
        record(human_minutes=30.0),
        record(human_minutes=0.0),
        record(scenario_class="no_fault", expects_remediation=False, human_minutes=15.0),
    ]
    assert m.toil_min(records) == pytest.approx(15.0)


def test_false_remediation_rate_is_over_every_executed_remediation() -> None:
    records = [
        record(executed=("restart_service a", "rollback_deploy a"), false_remediations=1),
        record(executed=("revert_config b",), false_remediations=0),
        record(executed=(), false_remediations=0),
        record(executed=("restart_service c",), false_remediations=1),
    ]
    assert m.false_rate(records) == pytest.approx(2 / 4)
    assert m.false_rate([record(executed=(), false_remediations=0)]) is None


def test_alert_fatigue_is_pages_per_resolved_episode_with_raw_alerts_beside_it() -> None:
    records = [
        record(pages=3, raw_alerts=40, resolved_s=100.0),
        record(pages=1, raw_alerts=20, resolved_s=None),
        record(pages=0, raw_alerts=0, resolved_s=50.0),
    ]
    assert m.pages_per_resolved(records) == pytest.approx(4 / 2)
    assert m.raw_alerts(records) == pytest.approx(20.0)


def test_compliance_is_compliant_over_audited_executions() -> None:
    records = [record(audited=2, compliant=2), record(audited=2, compliant=1)]
    assert m.compliance_rate(records) == pytest.approx(3 / 4)
    assert m.compliance_rate([record(audited=0, compliant=0)]) is None


def test_executions_on_no_fault_controls_are_counted() -> None:
    records = [
        record(
            scenario_class="no_fault", expects_remediation=False, executed=("restart_service a",)
        ),
        record(executed=("rollback_deploy b",)),
    ]
    assert m.no_fault_executions(records) == 1


def test_a_single_seed_gives_no_interval_and_several_give_one_around_the_mean() -> None:
    single = m.estimate([record(resolved_s=300.0)], m.mttr_s)
    assert single.mean == pytest.approx(300.0)
    assert single.low is None and single.high is None
    assert single.text(0) == "300"
    records = [record(seed=s, resolved_s=float(100 * s)) for s in (1, 2, 3, 4)]
    several = m.estimate(records, m.mttr_s)
    assert several.mean == pytest.approx(250.0)
    assert several.low is not None and several.high is not None
    assert 100.0 <= several.low <= 250.0 <= several.high <= 400.0
    assert several.low < several.high
    assert m.estimate(records, m.mttr_s) == several  # seeded: the same interval every time


def test_reduction_and_percentiles() -> None:
    assert m.reduction(200.0, 50.0) == pytest.approx(0.75)
    assert m.reduction(0.0, 5.0) is None
    assert m.reduction(None, 5.0) is None
    assert m.percentile([5.0, 1.0, 3.0], 0.5) == 3.0
    assert m.percentile([], 0.5) is None
    assert m.percentile([float(v) for v in range(1, 101)], 0.99) == 99.0


def test_records_are_split_by_system_and_class() -> None:
    records = [
        record(system="manual on-call"),
        record(),
        record(scenario_class="novel"),
    ]
    assert m.systems_of(records) == ["manual on-call", "ARF (evidence)"]
    assert len(m.of(records, "ARF (evidence)")) == 2
    assert len(m.of(records, "ARF (evidence)", "novel")) == 1
