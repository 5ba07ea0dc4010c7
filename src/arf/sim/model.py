"""State of the simulated platform, and the health model that turns state into metrics.

Metrics are a pure function of the platform's state, the time and the seed (deterministic
jitter); there is no "fault active" flag anywhere in this computation.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from functools import lru_cache

from pydantic import BaseModel, Field, JsonValue


class Release(BaseModel):
    version: str
    error_rate: float = 0.0
    crashes: bool = False
    image_missing: bool = False  # the image cannot be pulled: new pods never start
    cpu_m: int = 0  # CPU each pod of this release needs beyond the service's own demand


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
    # faults that leave no change event behind (found only by their symptoms)
    partitioned: bool = False  # cannot reach its dependencies (network partition)
    credentials_revoked: bool = False  # a datastore that refuses its clients' credentials
    certificate_expires_at: float | None = None  # serving certificate validity
    trust_bundle_stale: bool = False  # its CA bundle lacks the issuer's new root
    # feature flags, switched in the simulated flag service (arf.sim.flag_service); a flag
    # that is on adds its load (the calls per request the feature makes) to the service
    flags: dict[str, bool] = Field(default_factory=dict)
    flag_load: dict[str, float] = Field(default_factory=dict)
    # CPU per pod (millicores): a demand over the limit is throttled (latency climbs)
    cpu_limit_m: int = 1000
    cpu_demand_m: int = 300
    # a HorizontalPodAutoscaler (None: not autoscaled) keeps replicas between its bounds,
    # following the replicas the load needs
    hpa_min_replicas: int = 1
    hpa_max_replicas: int | None = None
    needed_replicas: int = 0
    # the node's filesystem, in percent: log files and data (writes fail when it is full)
    log_disk_pct: float = 30.0
    data_disk_pct: float = 0.0
    # service objective, checked by the evaluation's success criterion (never by ARF)
    slo_max_error_rate: float = 0.02
    slo_max_latency_p99_ms: float = 800.0


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
    good_value: str = ""  # what the state was before (JSON for IaC attributes)


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


# Values a healthy deployment has; anything else breaks the service the way the real
# misconfiguration would (scheduling, probes, service routing, TLS, network policy).
NODE_POOLS = frozenset({"pool-general", "pool-memory"})
READINESS_PATH = "/healthz"
DB_PASSWORD_KEY = "db_password_ref"  # the secret version a service logs in to datastores with
DB_PASSWORD_REF = "current"  # the one they accept


@dataclass(frozen=True)
class Health:
    error_rate: float
    latency_p99_ms: float
    up: float
    crash_looping: bool
    oom_killed: bool
    disk_errors: bool
    cpu_throttled: bool = False
    hpa_maxed_out: bool = False
    disk_used_pct: float = 0.0
    certificate_expired: bool = False
    auth_failures: bool = False  # a datastore refusing its clients' logins (log-derived alert)


def jitter(seed: int, service: str, metric: str, now: float) -> float:
    """Deterministic noise in [-1, 1] that changes every 15 s."""
    return _jitter(seed, service, metric, int(now // 15))


@lru_cache(maxsize=4096)  # a pure function: the same bucket is asked for by every probe
def _jitter(seed: int, service: str, metric: str, bucket: int) -> float:
    digest = hashlib.sha256(f"{seed}\x1f{service}\x1f{metric}\x1f{bucket}".encode()).digest()
    return (int.from_bytes(digest[:4], "big") / 0xFFFFFFFF) * 2 - 1


def own_health(service: ServiceState, now: float) -> Health:
    release = service.releases.get(service.version)  # an unknown release behaves well
    crash = release is not None and release.crashes
    oom = service.memory_demand_mb > service.memory_limit_mb
    error = 0.002 + (release.error_rate if release is not None else 0.0)
    latency = service.base_latency_ms
    up = 1.0
    if not service.up or crash:
        return Health(1.0, latency, 0.0, crash, False, service.disk_errors)
    if _unreachable(service, now):
        return Health(1.0, latency, 0.0, False, False, service.disk_errors)
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
    if service.config.get("tls_secret", "valid") != "valid":
        error += 0.9  # handshakes fail with a corrupted certificate or key
    expired = service.certificate_expires_at is not None and now >= service.certificate_expires_at
    if expired:
        error += 0.9
    if service.trust_bundle_stale:
        error += 0.9  # its calls fail: x509: certificate signed by unknown authority
    if service.partitioned:
        error += 0.85
        latency += 2000  # calls time out
    load = _number(service.config.get("load_factor", "1.0"))
    load += sum(extra for flag, extra in service.flag_load.items() if service.flags.get(flag))
    if service.config.get("flag_recs_v2") == "on":
        load += 2.5  # the flag turns on a feature that multiplies the calls per request
    if load > 1.5:
        latency += 900 * (load - 1)
        error += 0.04 * (load - 1)
    cpu = service.cpu_demand_m + (release.cpu_m if release is not None else 0)
    throttled = cpu > service.cpu_limit_m
    if throttled:
        over = cpu / max(1, service.cpu_limit_m) - 1
        latency += 1500 * over
        error += 0.03 * over
    maxed = service.hpa_max_replicas is not None and service.needed_replicas > service.replicas
    if maxed:
        over = service.needed_replicas / max(1, service.replicas) - 1
        latency += 1200 * over
        error += 0.02 * over
    disk = service.log_disk_pct + service.data_disk_pct
    if disk >= 97:
        error += 0.4  # writes fail: no space left on device
    return Health(
        min(1.0, error),
        latency,
        up,
        False,
        oom,
        service.disk_errors,
        throttled,
        maxed,
        disk,
        expired,
    )


def _stale_password(service: ServiceState) -> bool:
    """The service logs in to its datastores with a password they no longer accept."""
    return service.config.get(DB_PASSWORD_KEY, "") not in ("", DB_PASSWORD_REF)


def _number(text: str) -> float:  # configuration values are strings
    try:
        return float(text)
    except ValueError:
        return 0.0


def _unreachable(service: ServiceState, now: float) -> bool:
    """No ready endpoint answers: pods cannot schedule, never become ready, or are not
    selected; the Service routes to the wrong port; a network policy drops the traffic."""
    config = service.config
    release = service.releases.get(service.version)
    if service.replicas <= 0 or (release is not None and release.image_missing):
        return True
    if config.get("node_selector", "pool-general") not in NODE_POOLS:
        return True
    if config.get("readiness_path", READINESS_PATH) != READINESS_PATH:
        return True
    if config.get("target_port", "8080") != config.get("container_port", "8080"):
        return True
    return config.get("ingress_policy", "allow-callers") == "deny-all"


def health(
    services: dict[str, ServiceState],
    name: str,
    now: float,
    seed: int,
    memo: dict[str, Health] | None = None,
) -> Health:
    """A service's health including what its dependencies pass on to it.

    `memo` shares results between services evaluated at the same instant (a tick evaluates
    every service once); a dependency cycle is cut where it closes.
    """
    memo = {} if memo is None else memo
    found = memo.get(name)
    if found is not None:
        return found
    own = own_health(services[name], now)
    memo[name] = own  # provisional: a cycle back to this service sees its own health only
    error, latency = own.error_rate, own.latency_p99_ms
    if own.up > 0:
        for dep in services[name].depends_on:
            if dep not in services:
                continue
            dep_health = health(services, dep, now, seed, memo)
            if services[dep].credentials_revoked or _stale_password(services[name]):
                error += 0.9  # every call the service makes to it is refused
            if dep_health.error_rate > 0.05:
                error += 0.6 * dep_health.error_rate
            if dep_health.latency_p99_ms > 500:
                latency += 0.5 * (dep_health.latency_p99_ms - 300)
    error = min(1.0, max(0.0, error * (1 + 0.05 * jitter(seed, name, "error_rate", now))))
    latency = max(1.0, latency * (1 + 0.05 * jitter(seed, name, "latency", now)))
    refused = services[name].kind == "datastore" and (
        services[name].credentials_revoked
        or any(name in s.depends_on and _stale_password(s) for s in services.values())
    )
    result = dataclasses.replace(
        own, error_rate=error, latency_p99_ms=latency, auth_failures=refused
    )
    memo[name] = result
    return result
