"""PromQL analysis against a real Prometheus (the Debian package, started here on loopback)
scraping a small real service's /metrics every second."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from arf.core.clock import SystemClock
from arf.core.records import ProbeVerdict
from arf.execution.promql import AnalysisMetric, Measured, PrometheusAnalysis


class Service(BaseHTTPRequestHandler):
    """A service exposing its error ratio in the Prometheus text format."""

    error_ratio = 0.01

    def do_GET(self) -> None:
        if self.path != "/metrics":
            self.send_error(404)
            return
        body = (
            "# HELP demo_error_ratio Share of failed requests.\n"
            "# TYPE demo_error_ratio gauge\n"
            f'demo_error_ratio{{service="checkout"}} {Service.error_ratio}\n'
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Lab:
    url: str
    http: httpx.Client


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed: run `make test`, which installs it")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Service)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    folder = tmp_path_factory.mktemp("prometheus")
    config = folder / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: checkout\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{server.server_port}']}}]\n",
        "utf-8",
    )
    port = _free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    http = httpx.Client(timeout=5)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # ready, and the first scrape has landed
            try:
                found = http.get(f"{url}/api/v1/query", params={"query": "demo_error_ratio"})
                if found.status_code == 200 and found.json()["data"]["result"]:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("Prometheus did not scrape the service within 60 s")
        yield Lab(url, http)
    finally:
        http.close()
        process.terminate()
        process.wait(10)
        server.shutdown()
        server.server_close()


def _scraped(analysis: PrometheusAnalysis, value: float) -> None:
    """Wait until Prometheus has scraped the service's current value (1 s interval)."""
    query = 'max(demo_error_ratio{service="checkout"})'
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and analysis.query(query) != (value,):
        time.sleep(0.25)
    assert analysis.query(query) == (value,)


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
    _scraped(analysis, 0.01)
    result = analysis.run(_metric())
    assert result.verdict is ProbeVerdict.CONVERGED
    assert [m.phase for m in result.measurements] == [Measured.SUCCESSFUL] * 3
    assert result.measurements[0].values == (0.01,)


def test_a_failing_service_regresses_at_once(prometheus: Lab) -> None:
    Service.error_ratio = 0.3
    analysis = PrometheusAnalysis(prometheus.http, prometheus.url, SystemClock())
    _scraped(analysis, 0.3)
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
    gone = PrometheusAnalysis(prometheus.http, f"http://127.0.0.1:{_free_port()}", SystemClock())
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
    _scraped(analysis, 0.01)
    verdict, probes = verifier.verify([], {}, slo)
    assert verdict is ProbeVerdict.CONVERGED, probes
    # a service Prometheus knows nothing about: no data, never success
    missing, _ = verifier.verify([], {}, {"billing": ServiceSLO()})
    assert missing is ProbeVerdict.INCONCLUSIVE
    assert telemetry.sample('checkout"} or vector(0) #', "error_rate") is None  # no injection
    Service.error_ratio = 0.4
    _scraped(analysis, 0.4)
    regressed, _ = verifier.verify([], {}, slo)
    assert regressed is ProbeVerdict.REGRESSED
    Service.error_ratio = 0.01
