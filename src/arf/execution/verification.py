"""Verification probes: did the system converge? "No data" is never success."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from arf.core.clock import Clock
from arf.core.ports import Telemetry
from arf.core.records import (
    ActionSpec,
    PlanStep,
    ProbeResult,
    ProbeVerdict,
    ServiceSLO,
)


@dataclass(frozen=True)
class VerificationSettings:
    initial_delay_s: float = 30.0
    interval_s: float = 30.0
    samples: int = 3


def combine(results: Sequence[ProbeResult]) -> ProbeVerdict:
    """Regressed beats inconclusive beats converged; no probes at all is inconclusive."""
    if not results:
        return ProbeVerdict.INCONCLUSIVE
    verdicts = {r.verdict for r in results}
    if ProbeVerdict.REGRESSED in verdicts:
        return ProbeVerdict.REGRESSED
    if ProbeVerdict.INCONCLUSIVE in verdicts:
        return ProbeVerdict.INCONCLUSIVE
    return ProbeVerdict.CONVERGED


def _judge(samples: Sequence[float | None], ok: Sequence[bool]) -> ProbeVerdict:
    if any(s is None for s in samples) or not samples:
        return ProbeVerdict.INCONCLUSIVE
    return ProbeVerdict.CONVERGED if all(ok) else ProbeVerdict.REGRESSED


# The verifications an action may declare. Every one samples the SLOs of the incident's
# services; a re-scan also asks the scanner whether the step's finding still fails.
SERVICE_HEALTH = "service_health"
SCAN_CLEAN = "scan_clean"
PROBE_KINDS = frozenset({SERVICE_HEALTH, SCAN_CLEAN})


class Verifier:
    def __init__(self, telemetry: Telemetry, clock: Clock, settings: VerificationSettings) -> None:
        self._telemetry = telemetry
        self._clock = clock
        self._settings = settings

    def verify(
        self,
        steps: Sequence[PlanStep],
        specs: Mapping[str, ActionSpec],
        slos: Mapping[str, ServiceSLO],
    ) -> tuple[ProbeVerdict, tuple[ProbeResult, ...]]:
        """Sample every watched service's SLO metrics and re-scan every patched resource.

        `slos` names the services whose objectives must hold (the incident's services);
        `specs` says each step's declared verification and, for a re-scan, which parameter
        names the finding it fixed.
        """
        settings = self._settings
        self._clock.sleep(settings.initial_delay_s)
        series: dict[tuple[str, str], list[float | None]] = {}
        for round_index in range(settings.samples):
            if round_index:
                self._clock.sleep(settings.interval_s)
            for service in sorted(slos):
                for metric in ("error_rate", "latency_p99_ms", "up"):
                    value = self._telemetry.sample(service, metric)
                    series.setdefault((service, metric), []).append(value)
        results: list[ProbeResult] = []
        for (service, metric), samples in sorted(series.items()):
            slo = slos[service]
            limit = {
                "error_rate": slo.max_error_rate,
                "latency_p99_ms": slo.max_latency_p99_ms,
                "up": 1.0,
            }[metric]
            if metric == "up":
                ok = [s is not None and s >= 1.0 for s in samples]
            else:
                ok = [s is not None and s <= limit for s in samples]
            results.append(
                ProbeResult(
                    probe=metric,
                    target=service,
                    verdict=_judge(samples, ok),
                    samples=tuple(samples),
                    threshold=limit,
                )
            )
        for step in steps:
            spec = specs.get(step.action)
            if spec is None or spec.verification != SCAN_CLEAN:
                continue
            param = spec.remedies.finding_param
            check = step.params.get(param) if param else None
            if not isinstance(check, str):
                results.append(
                    ProbeResult(
                        probe="rescan",
                        target=step.target,
                        verdict=ProbeVerdict.INCONCLUSIVE,
                        detail=f"{step.action} names no finding to re-scan for",
                    )
                )
                continue
            found = self._telemetry.scan(step.target)
            if found is None:
                verdict, detail = ProbeVerdict.INCONCLUSIVE, "the scanner returned no result"
            elif check in found:
                verdict, detail = ProbeVerdict.REGRESSED, f"{check} still fails"
            else:
                verdict, detail = ProbeVerdict.CONVERGED, f"{check} passes; {len(found)} open"
            results.append(
                ProbeResult(probe="rescan", target=step.target, verdict=verdict, detail=detail)
            )
        return combine(results), tuple(results)
