"""The re-scan probe reads the finding from the parameter the action names, never from a
parameter name written into the verifier."""

from __future__ import annotations

from datetime import UTC, datetime

from arf.core.clock import ManualClock
from arf.core.records import (
    ActionRemedies,
    ActionSpec,
    PlanStep,
    ProbeVerdict,
    RiskClass,
)
from arf.execution.verification import VerificationSettings, Verifier


class _Scanner:
    """Telemetry whose scanner reports `failing` for every resource; no metrics."""

    def __init__(self, failing: tuple[str, ...]) -> None:
        self._failing = failing

    def sample(self, service: str, metric: str) -> float | None:
        return None

    def scan(self, resource: str) -> tuple[str, ...] | None:
        return self._failing


def _spec(finding_param: str | None) -> ActionSpec:
    return ActionSpec(
        name="fix_it",
        description="d",
        target_kind="resource",
        risk_class=RiskClass.LOW,
        reversible=True,
        rollback="r",
        verification="scan_clean",
        permissions=("iac:write",),
        remedies=ActionRemedies(findings=("CKV_X_1",), finding_param=finding_param),
    )


def _verdict(failing: tuple[str, ...], finding_param: str | None) -> tuple[ProbeVerdict, str]:
    verifier = Verifier(
        _Scanner(failing),
        ManualClock(datetime(2026, 1, 1, tzinfo=UTC)),
        VerificationSettings(initial_delay_s=0, interval_s=0, samples=1),
    )
    step = PlanStep(action="fix_it", target="aws_s3_bucket.a", params={"rule": "CKV_X_1"})
    _, probes = verifier.verify([step], {"fix_it": _spec(finding_param)}, {})
    (probe,) = probes
    return probe.verdict, probe.detail


def test_the_rescan_reads_the_finding_from_the_declared_parameter() -> None:
    assert _verdict((), "rule")[0] is ProbeVerdict.CONVERGED
    assert _verdict(("CKV_X_1",), "rule") == (ProbeVerdict.REGRESSED, "CKV_X_1 still fails")


def test_an_action_that_names_no_finding_parameter_is_inconclusive_not_clean() -> None:
    verdict, detail = _verdict((), None)
    assert verdict is ProbeVerdict.INCONCLUSIVE and "names no finding" in detail
