"""Metric computations on hand-made incident timelines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from arf.core.records import Outcome
from arf.runtime.metrics import IncidentTimeline, ToilModel, compute

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def timeline(
    name: str,
    detect_s: float,
    repair_s: float | None,
    outcome: Outcome,
    executed: bool = True,
    failed: bool = False,
    notes: tuple[str, ...] = (),
    alerts: int = 3,
) -> IncidentTimeline:
    return IncidentTimeline(
        incident_id=name,
        impact_started_at=T0,
        opened_at=T0 + timedelta(seconds=detect_s),
        resolved_at=None if repair_s is None else T0 + timedelta(seconds=repair_s),
        outcome=outcome,
        executed=executed,
        failed_remediation=failed,
        notifications=notes,
        raw_alerts=alerts,
    )


def test_metrics_on_a_hand_made_set() -> None:
    timelines = [
        timeline("a", 60, 300, Outcome.RESOLVED),
        timeline("b", 30, 180, Outcome.RESOLVED, notes=("approve_request",), alerts=5),
        timeline("c", 90, None, Outcome.ROLLED_BACK, failed=True, notes=("escalation",)),
        timeline("d", 60, None, Outcome.NO_ACTION, executed=False, alerts=1),
    ]
    result = compute(timelines, compliance_rate=0.75, toil=ToilModel())
    assert result.incidents == 4 and result.resolved == 2
    assert result.mttd_s == pytest.approx(60.0)  # (60 + 30 + 90 + 60) / 4
    assert result.mttr_s == pytest.approx(240.0)  # (300 + 180) / 2
    assert result.toil_minutes_per_incident == pytest.approx((10 + 45) / 4)
    assert result.false_remediation_rate == pytest.approx(1 / 3)
    assert result.notifications_per_resolved == pytest.approx(1.0)
    assert result.raw_alerts_per_incident == pytest.approx(12 / 4)
    assert result.compliance_rate == 0.75


def test_empty_sets_give_no_numbers_rather_than_zero() -> None:
    result = compute([], compliance_rate=None)
    assert result.mttd_s is None and result.mttr_s is None
    assert result.false_remediation_rate is None and result.notifications_per_resolved is None
