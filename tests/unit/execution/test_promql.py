"""Analysis semantics on scripted Prometheus answers (httpx.MockTransport, virtual clock)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from pydantic import ValidationError

from arf.core.clock import ManualClock
from arf.core.records import ProbeVerdict
from arf.execution.promql import AnalysisMetric, Measured, PrometheusAnalysis, judge
from tests.conftest import START


def vector(*values: float) -> dict[str, object]:
    return {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [{"metric": {}, "value": [1.0, str(v)]} for v in values],
        },
    }


def scripted(*answers: object) -> tuple[PrometheusAnalysis, ManualClock]:
    replies: Iterator[object] = iter(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/query"
        answer = next(replies)
        if isinstance(answer, Exception):
            raise answer
        status = 400 if isinstance(answer, dict) and answer.get("status") == "error" else 200
        return httpx.Response(status, content=json.dumps(answer))

    clock = ManualClock(START)
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return PrometheusAnalysis(http, "http://prometheus:9090", clock), clock


def metric(**overrides: object) -> AnalysisMetric:
    values: dict[str, object] = {"name": "m", "query": "q", "success": "result < 0.05"}
    values.update(overrides)
    return AnalysisMetric.model_validate(values)


@pytest.mark.parametrize(
    ("success", "failure", "value", "phase"),
    [
        ("result < 0.05", None, 0.01, Measured.SUCCESSFUL),
        ("result < 0.05", None, 0.2, Measured.FAILED),  # success only: false fails
        (None, "result > 0.1", 0.05, Measured.SUCCESSFUL),  # failure only: false passes
        (None, "result > 0.1", 0.2, Measured.FAILED),
        ("result < 0.05", "result > 0.1", 0.07, Measured.INCONCLUSIVE),  # neither
        ("result < 0.5", "result > 0.1", 0.2, Measured.FAILED),  # failure wins
        ("results.size() == 2 && results[1] < 1.0", None, 0.5, Measured.FAILED),
        ("results[1] < 1.0", None, 0.5, Measured.INCONCLUSIVE),  # cannot be evaluated
    ],
)
def test_conditions_follow_analysis_semantics(
    success: str | None, failure: str | None, value: float, phase: Measured
) -> None:
    assert judge(metric(success=success, failure=failure), [value]) is phase


def test_a_metric_needs_a_condition_that_compiles() -> None:
    with pytest.raises(ValidationError, match="success or a failure"):
        metric(success=None)
    with pytest.raises(ValidationError, match="not a CEL expression"):
        metric(success="result <")


def test_converges_after_count_measurements_on_the_virtual_clock() -> None:
    analysis, clock = scripted(vector(0.01), vector(0.02), vector(0.03))
    result = analysis.run(metric(count=3, interval_s=30))
    assert result.verdict is ProbeVerdict.CONVERGED
    assert (clock.now() - START).total_seconds() == 60  # two intervals, no real sleep


def test_the_failure_limit_allows_that_many_failures() -> None:
    analysis, _ = scripted(vector(0.2), vector(0.01), vector(0.2))
    result = analysis.run(metric(count=3, failure_limit=1, interval_s=0))
    assert result.verdict is ProbeVerdict.REGRESSED and len(result.measurements) == 3
    analysis, _ = scripted(vector(0.2), vector(0.01), vector(0.01))
    assert analysis.run(metric(count=3, failure_limit=1)).verdict is ProbeVerdict.CONVERGED


def test_no_data_and_nan_are_inconclusive_never_success() -> None:
    analysis, _ = scripted(vector(), vector(float("nan")))
    result = analysis.run(metric(count=2, inconclusive_limit=1))
    assert result.verdict is ProbeVerdict.INCONCLUSIVE
    assert [m.detail for m in result.measurements] == ["no data", "no data"]


def test_errors_in_a_row_end_inconclusive_and_a_success_resets_them() -> None:
    down = httpx.ConnectError("refused")
    analysis, _ = scripted(down, vector(0.01), down, down)
    result = analysis.run(metric(count=4, consecutive_error_limit=1))
    assert result.verdict is ProbeVerdict.INCONCLUSIVE
    assert [m.phase for m in result.measurements] == [
        Measured.ERROR,
        Measured.SUCCESSFUL,
        Measured.ERROR,
        Measured.ERROR,
    ]
    bad = {"status": "error", "errorType": "bad_data", "error": "parse error"}
    analysis, _ = scripted(bad)
    only = analysis.run(metric(count=1, consecutive_error_limit=0))
    assert only.verdict is ProbeVerdict.INCONCLUSIVE and "bad_data" in only.detail


def test_a_run_without_any_success_is_not_converged() -> None:
    analysis, _ = scripted(vector(0.07), vector(0.07))
    result = analysis.run(
        metric(success="result < 0.05", failure="result > 0.1", count=2, inconclusive_limit=5)
    )
    assert result.verdict is ProbeVerdict.INCONCLUSIVE
    assert result.detail == "no measurement passed"
