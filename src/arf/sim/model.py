"""State of the simulated platform, and the health model that turns state into metrics.

Metrics are a pure function of the platform's state, the time and the seed (deterministic
jitter); there is no "fault active" flag anywhere in this computation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from pydantic import BaseModel, Field, JsonValue


class Release(BaseModel):
    version: str
    error_rate: float = 0.0
    crashes: bool = False


class ServiceState(BaseModel):
    name: str
    kind: str = "service"
    depends_on: list[str] = Field(default_factory=list)
    version: str = "1.0.0"
    release_history: list[str] = Field(default_factory=list)
    releases: dict[str, Release] = Field(default_factory=dict)
    config: dict[str, str] = Field(default_factory=dict)
    config_history: dict[str, list[str]] = Field(default_factory=dict)
    memory_limit_mb: int = 512
    memory_demand_mb: int = 300
    replicas: int = 3
    up: bool = True
    disk_errors: bool = False
    has_replica: bool = False
    base_latency_ms: float = 120.0
    latency_spike_until: float | None = None


class IacResource(BaseModel):
    name: str
    file: str
    attributes: dict[str, JsonValue] = Field(default_factory=dict)


class AlertState(BaseModel):
    rule: str
    service: str
    active_since: float | None = None
    firing: bool = False
    last_sent: float = 0.0


class FaultRecord(BaseModel):
    """Ground truth, for scoring only: never read by metrics, probes or ARF."""

    fault_id: str
    kind: str
    target: str
    started_at: float
    detail: str
    attribute: str = ""
    bad_value: str = ""


class Emission(BaseModel):
    """A payload as an external tool would deliver it."""

    format: str  # alertmanager | cloudevent | checkov | logs
    payload: JsonValue


class SimState(BaseModel):
    seed: int
    now: float
    services: dict[str, ServiceState]
    iac: dict[str, IacResource] = Field(default_factory=dict)
    alerts: dict[str, AlertState] = Field(default_factory=dict)
    applied: dict[str, dict[str, JsonValue]] = Field(default_factory=dict)
    outbox: list[Emission] = Field(default_factory=list)
    faults: list[FaultRecord] = Field(default_factory=list)
    counter: int = 0
    last_eval: float = 0.0


@dataclass(frozen=True)
class Health:
    error_rate: float
    latency_p99_ms: float
    up: float
    crash_looping: bool
    oom_killed: bool
    disk_errors: bool


def jitter(seed: int, service: str, metric: str, now: float) -> float:
    """Deterministic noise in [-1, 1] that changes every 15 s."""
    bucket = int(now // 15)
    digest = hashlib.sha256(f"{seed}\x1f{service}\x1f{metric}\x1f{bucket}".encode()).digest()
    return (int.from_bytes(digest[:4], "big") / 0xFFFFFFFF) * 2 - 1


def own_health(service: ServiceState, now: float) -> Health:
    release = service.releases.get(service.version, Release(version=service.version))
    crash = release.crashes
    oom = service.memory_demand_mb > service.memory_limit_mb
    error = 0.002 + release.error_rate
    latency = service.base_latency_ms
    up = 1.0
    if not service.up or crash:
        return Health(1.0, latency, 0.0, crash, False, service.disk_errors)
    pool = service.config.get("db_pool_size")
    if pool is not None and pool.isdigit() and int(pool) < 5:
        latency += 1500
        error += 0.03
    if oom:
        error += 0.3
    if service.disk_errors:
        error += 0.4
        latency += 400
    if service.latency_spike_until is not None and now < service.latency_spike_until:
        latency += 1500
    return Health(min(1.0, error), latency, up, False, oom, service.disk_errors)


def health(
    services: dict[str, ServiceState], name: str, now: float, seed: int, depth: int = 0
) -> Health:
    """A service's health including what its dependencies pass on to it."""
    own = own_health(services[name], now)
    error, latency = own.error_rate, own.latency_p99_ms
    if depth < 6 and own.up > 0:
        for dep in services[name].depends_on:
            if dep not in services:
                continue
            dep_health = health(services, dep, now, seed, depth + 1)
            if dep_health.error_rate > 0.05:
                error += 0.6 * dep_health.error_rate
            if dep_health.latency_p99_ms > 500:
                latency += 0.5 * (dep_health.latency_p99_ms - 300)
    error = min(1.0, max(0.0, error * (1 + 0.05 * jitter(seed, name, "error_rate", now))))
    latency = max(1.0, latency * (1 + 0.05 * jitter(seed, name, "latency", now)))
    return Health(error, latency, own.up, own.crash_looping, own.oom_killed, own.disk_errors)
