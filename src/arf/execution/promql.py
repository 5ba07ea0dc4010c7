"""Verification by PromQL against a Prometheus HTTP API, with analysis semantics.

An `AnalysisMetric` is measured `count` times, `interval_s` apart (through the injected clock,
so tests and the simulated platform never sleep for real unless they want to). Each
measurement runs an instant query (`/api/v1/query`) and judges the result with CEL
conditions over `result` (the first sample's value, a float) and `results` (every sample's
value, a list):

- both conditions given: failure wins, then success; neither true → inconclusive;
- only `success`: false → failed; only `failure`: false → successful;
- no series, or NaN → inconclusive ("no data" is never success);
- a query that errors (HTTP, timeout, bad PromQL) → an error; `consecutive_error_limit`
  errors in a row end the analysis inconclusive.

The analysis stops early once failures exceed `failure_limit` (regressed) or inconclusive
measurements exceed `inconclusive_limit` (inconclusive); otherwise, after `count`
measurements, it has converged if at least one measurement succeeded.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import cel
import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from arf.core.clock import Clock
from arf.core.records import ProbeVerdict


class Measured(StrEnum):
    SUCCESSFUL = "successful"
    FAILED = "failed"
    INCONCLUSIVE = "inconclusive"
    ERROR = "error"


class AnalysisMetric(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    query: str = Field(min_length=1, max_length=4000)
    success: str | None = None  # CEL over `result` / `results`
    failure: str | None = None
    interval_s: float = Field(default=30.0, ge=0)
    count: int = Field(default=3, ge=1, le=1000)
    failure_limit: int = Field(default=0, ge=0)
    inconclusive_limit: int = Field(default=0, ge=0)
    consecutive_error_limit: int = Field(default=2, ge=0)

    @field_validator("success", "failure")
    @classmethod
    def _compiles(cls, expression: str | None) -> str | None:
        if expression is not None:
            try:
                cel.compile(expression)
            except ValueError as exc:
                raise ValueError(f"not a CEL expression: {expression!r}") from exc
        return expression

    @model_validator(mode="after")
    def _has_a_condition(self) -> AnalysisMetric:
        if self.success is None and self.failure is None:
            raise ValueError("give a success or a failure condition")
        return self


@dataclass(frozen=True)
class Measurement:
    phase: Measured
    values: tuple[float, ...]
    detail: str


@dataclass(frozen=True)
class AnalysisResult:
    metric: str
    verdict: ProbeVerdict
    measurements: tuple[Measurement, ...]
    detail: str


class PrometheusAnalysis:
    """Runs analysis metrics against one Prometheus (`base_url`, e.g. http://127.0.0.1:9090)."""

    def __init__(self, http: httpx.Client, base_url: str, clock: Clock) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._clock = clock

    def query(self, promql: str) -> tuple[float, ...]:
        """An instant query's sample values; raises httpx.HTTPError or ValueError."""
        response = self._http.get(f"{self._base}/api/v1/query", params={"query": promql})
        body = response.json()
        if response.status_code != 200 or body.get("status") != "success":
            raise ValueError(
                f"{body.get('errorType', response.status_code)}: {body.get('error', '')}"
            )
        data = body.get("data") or {}
        kind, result = data.get("resultType"), data.get("result")
        if kind == "scalar" and isinstance(result, list):
            return (float(result[1]),)
        if kind != "vector" or not isinstance(result, list):
            raise ValueError(f"expected a vector or scalar, got {kind!r}")
        return tuple(float(sample["value"][1]) for sample in result)

    def observe(self, promql: str) -> tuple[tuple[float, ...] | None, str]:
        """The query's values, or None and why: an error, or "no data" (no series, NaN)."""
        try:
            values = self.query(promql)
        except (httpx.HTTPError, ValueError, KeyError, TypeError, IndexError) as exc:
            return None, f"query failed: {exc}"[:300]
        if not values or any(math.isnan(v) for v in values):
            return None, "no data"
        return values, f"result {values[0]:g}"

    def measure(self, metric: AnalysisMetric) -> Measurement:
        values, detail = self.observe(metric.query)
        if values is None:
            phase = Measured.INCONCLUSIVE if detail == "no data" else Measured.ERROR
            return Measurement(phase, (), detail)
        return Measurement(judge(metric, values), values, detail)

    def run(self, metric: AnalysisMetric) -> AnalysisResult:
        measurements: list[Measurement] = []
        failed = inconclusive = errors_in_row = 0
        for index in range(metric.count):
            if index:
                self._clock.sleep(metric.interval_s)
            taken = self.measure(metric)
            measurements.append(taken)
            if taken.phase is Measured.ERROR:
                errors_in_row += 1
                if errors_in_row > metric.consecutive_error_limit:
                    return _result(metric, ProbeVerdict.INCONCLUSIVE, measurements, taken.detail)
                continue
            errors_in_row = 0
            failed += taken.phase is Measured.FAILED
            inconclusive += taken.phase is Measured.INCONCLUSIVE
            if failed > metric.failure_limit:
                return _result(metric, ProbeVerdict.REGRESSED, measurements, "failure limit passed")
            if inconclusive > metric.inconclusive_limit:
                return _result(
                    metric, ProbeVerdict.INCONCLUSIVE, measurements, "inconclusive limit passed"
                )
        if not any(m.phase is Measured.SUCCESSFUL for m in measurements):
            return _result(metric, ProbeVerdict.INCONCLUSIVE, measurements, "no measurement passed")
        return _result(metric, ProbeVerdict.CONVERGED, measurements, "every limit held")


def judge(metric: AnalysisMetric, values: Sequence[float]) -> Measured:
    context = cel.Context({"result": values[0], "results": list(values)})

    def holds(expression: str) -> bool:
        return cel.compile(expression).execute(context) is True

    try:
        if metric.failure is not None and holds(metric.failure):
            return Measured.FAILED
        if metric.success is not None:
            if holds(metric.success):
                return Measured.SUCCESSFUL
            return Measured.FAILED if metric.failure is None else Measured.INCONCLUSIVE
        return Measured.SUCCESSFUL
    except (RuntimeError, IndexError, KeyError, TypeError, ValueError):  # cannot evaluate here
        return Measured.INCONCLUSIVE


def _result(
    metric: AnalysisMetric,
    verdict: ProbeVerdict,
    measurements: Sequence[Measurement],
    detail: str,
) -> AnalysisResult:
    return AnalysisResult(metric.name, verdict, tuple(measurements), detail)


# What the verifier samples, as PromQL over the RED-method metrics most HTTP services export;
# `{service}` is replaced by the quoted service name. Override per installation.
DEFAULT_QUERIES: dict[str, str] = {
    "error_rate": (
        'sum(rate(http_requests_total{service="{service}",code=~"5.."}[1m]))'
        ' / sum(rate(http_requests_total{service="{service}"}[1m]))'
    ),
    "latency_p99_ms": (
        "1000 * histogram_quantile(0.99, sum by (le)"
        ' (rate(http_request_duration_seconds_bucket{service="{service}"}[1m])))'
    ),
    "up": 'min(up{service="{service}"})',
}
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9_.:/-]{1,200}$")


class PrometheusTelemetry:
    """Implements `arf.core.ports.Telemetry` over a Prometheus: the verifier's samples are
    instant queries; no series, NaN or an error is `None` (which the verifier never counts as
    success). Re-scans are delegated to a scanner when one is given."""

    def __init__(
        self,
        analysis: PrometheusAnalysis,
        queries: Mapping[str, str] | None = None,
        scanner: Callable[[str], tuple[str, ...] | None] | None = None,
    ) -> None:
        self._analysis = analysis
        self._queries = dict(DEFAULT_QUERIES if queries is None else queries)
        self._scanner = scanner

    def sample(self, service: str, metric: str) -> float | None:
        template = self._queries.get(metric)
        if template is None or not _LABEL_VALUE.match(service):
            return None  # a name that cannot be a label value is never spliced into PromQL
        values, _ = self._analysis.observe(template.replace("{service}", service))
        return values[0] if values else None

    def scan(self, resource: str) -> tuple[str, ...] | None:
        return self._scanner(resource) if self._scanner is not None else None
