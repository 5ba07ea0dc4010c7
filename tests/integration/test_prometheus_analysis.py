"""PromQL analysis against a real Prometheus (the Debian package, started here on loopback)
scraping a small real service's /metrics every second."""

from __future__ import annotations

from arf.core.clock import SystemClock
from arf.core.records import ProbeVerdict
from arf.execution.promql import AnalysisMetric, Measured, PrometheusAnalysis
from tests.integration.conftest import Lab, Service, free_port, wait_for_scrape


def _metric(**overrides: object) -> AnalysisMetric:
    values: dict[str, object] = {
        "name": "error-ratio",
        "query": 'max(demo_error_ratio{service="checkout"})',
        "success": "result <= 0.05",
        "interval_s": 1.0,
        "count": 3,
    }
    values.update(overrides)
    return AnalysisMetric.model_validate(values)


def test_a_healthy_service_converges(prometheus: Lab) -> None:
    Service.error_ratio = 0.01
    analysis = PrometheusAnalysis(prometheus.http, prometheus.url, SystemClock())
    wait_for_scrape(prometheus.http, prometheus.url, 0.01)
    result = analysis.run(_metric())
    assert result.verdict is ProbeVerdict.CONVERGED
    assert [m.phase for m in result.measurements] == [Measured.SUCCESSFUL] * 3
    assert result.measurements[0].values == (0.01,)


def test_a_failing_service_regresses_at_once(prometheus: Lab) -> None:
    Service.error_ratio = 0.3
    analysis = PrometheusAnalysis(prometheus.http, prometheus.url, SystemClock())
    wait_for_scrape(prometheus.http, prometheus.url, 0.3)
    result = analysis.run(_metric(failure="result > 0.1"))
    assert result.verdict is ProbeVerdict.REGRESSED
    assert len(result.measurements) == 1  # the failure limit (0) was passed on the first
    Service.error_ratio = 0.01


def test_no_data_is_never_success(prometheus: Lab) -> None:
    analysis = PrometheusAnalysis(prometheus.http, prometheus.url, SystemClock())
    result = analysis.run(_metric(query='demo_error_ratio{service="nowhere"}', interval_s=0))
    assert result.verdict is ProbeVerdict.INCONCLUSIVE
    assert result.measurements[0].detail == "no data"


def test_bad_promql_and_an_unreachable_prometheus_are_errors_not_success(
    prometheus: Lab,
) -> None:
    analysis = PrometheusAnalysis(prometheus.http, prometheus.url, SystemClock())
    bad = analysis.run(_metric(query="max(", interval_s=0, consecutive_error_limit=1))
    assert bad.verdict is ProbeVerdict.INCONCLUSIVE
    assert "bad_data" in bad.measurements[0].detail
    gone = PrometheusAnalysis(prometheus.http, f"http://127.0.0.1:{free_port()}", SystemClock())
    down = gone.run(_metric(interval_s=0, consecutive_error_limit=0))
    assert down.verdict is ProbeVerdict.INCONCLUSIVE
    assert down.measurements[0].phase is Measured.ERROR


def test_the_verifier_samples_slos_from_prometheus(prometheus: Lab) -> None:
    from arf.core.records import ServiceSLO
    from arf.execution.promql import PrometheusTelemetry
    from arf.execution.verification import VerificationSettings, Verifier

    queries = {
        "error_rate": 'max(demo_error_ratio{service="{service}"})',
        "latency_p99_ms": "vector(120)",
        "up": 'min(up{job="{service}"})',
    }
    analysis = PrometheusAnalysis(prometheus.http, prometheus.url, SystemClock())
    telemetry = PrometheusTelemetry(analysis, queries)
    verifier = Verifier(telemetry, SystemClock(), VerificationSettings(0, 1, 2))
    slo = {"checkout": ServiceSLO(max_error_rate=0.05, max_latency_p99_ms=500)}
    Service.error_ratio = 0.01
    wait_for_scrape(prometheus.http, prometheus.url, 0.01)
    verdict, probes = verifier.verify([], {}, slo)
    assert verdict is ProbeVerdict.CONVERGED, probes
    # a service Prometheus knows nothing about: no data, never success
    missing, _ = verifier.verify([], {}, {"billing": ServiceSLO()})
    assert missing is ProbeVerdict.INCONCLUSIVE
    assert telemetry.sample('checkout"} or vector(0) #', "error_rate") is None  # no injection
    Service.error_ratio = 0.4
    wait_for_scrape(prometheus.http, prometheus.url, 0.4)
    regressed, _ = verifier.verify([], {}, slo)
    assert regressed is ProbeVerdict.REGRESSED
    Service.error_ratio = 0.01
