"""Fault injection on the simulated platform, and the ground-truth check used only for scoring.

Each injection changes the platform's state the way the real fault would (a release, a config
value, a memory demand, a process down, an IaC attribute) and emits what tools would see. The
scoring check `fault_undone` inspects the platform's state; ARF never calls it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import JsonValue

from arf.sim.model import DB_PASSWORD_KEY, DB_PASSWORD_REF, FaultRecord, Health, Release
from arf.sim.platform import SimPlatform


def _record(
    platform: SimPlatform,
    kind: str,
    target: str,
    detail: str,
    attribute: str = "",
    bad_value: str = "",
    good_value: str = "",
) -> FaultRecord:
    fault = FaultRecord(
        fault_id=platform.next_id("fault"),
        kind=kind,
        target=target,
        started_at=platform.now(),
        detail=detail,
        attribute=attribute,
        bad_value=bad_value,
        good_value=good_value,
    )
    platform.state.faults.append(fault)
    return fault


def deploy(
    platform: SimPlatform,
    service: str,
    version: str,
    error_rate: float = 0.0,
    crashes: bool = False,
    author: str = "ci-bot",
    image_missing: bool = False,
    cpu_m: int = 0,
) -> None:
    """Roll out a release (a change event is emitted, as a CD system would)."""
    state = platform.state.services[service]
    state.releases[version] = Release(
        version=version,
        error_rate=error_rate,
        crashes=crashes,
        image_missing=image_missing,
        cpu_m=cpu_m,
    )
    before = state.version
    state.version = version
    state.release_history.append(version)
    platform.emit_change("deploy", service, {"from": before, "to": version}, author)


def _release_fault(
    platform: SimPlatform, kind: str, service: str, version: str, detail: str, **release: Any
) -> FaultRecord:
    """Roll out a defective release; the record remembers the release it replaced."""
    before = platform.state.services[service].version
    deploy(platform, service, version, **release)
    return _record(platform, kind, service, detail, bad_value=version, good_value=before)


def bad_deploy(
    platform: SimPlatform, service: str, version: str, error_rate: float = 0.25
) -> FaultRecord:
    detail = f"{version} fails {error_rate:.0%} of calls"
    return _release_fault(platform, "bad_deploy", service, version, detail, error_rate=error_rate)


def crash_loop(platform: SimPlatform, service: str, version: str) -> FaultRecord:
    detail = f"{version} exits on start"
    return _release_fault(platform, "crash_loop", service, version, detail, crashes=True)


def cpu_hungry_release(platform: SimPlatform, service: str, version: str) -> FaultRecord:
    """A release with a hot loop: each pod needs far more CPU than the limit allows."""
    detail = f"{version} needs 1.5 more CPU cores per pod"
    return _release_fault(platform, "cpu_hungry_release", service, version, detail, cpu_m=1500)


def cpu_starved(platform: SimPlatform, service: str, demand_m: int) -> FaultRecord:
    """The service's CPU demand per pod grew past its limit (more work per request after a
    traffic mix change); nothing was deployed or configured."""
    state = platform.state.services[service]
    state.cpu_demand_m = demand_m
    detail = f"CPU demand {demand_m}m per pod over a {state.cpu_limit_m}m limit"
    return _record(platform, "cpu_starved", service, detail)


def hpa_ceiling_reached(platform: SimPlatform, service: str, factor: float) -> FaultRecord:
    """An autoscaled service whose load needs `factor` times its autoscaler's maximum."""
    state = platform.state.services[service]
    state.hpa_min_replicas = max(1, state.replicas - 1)
    state.hpa_max_replicas = state.replicas
    state.needed_replicas = int(state.replicas * factor + 0.5)
    detail = (
        f"load needs {state.needed_replicas} replicas; the autoscaler stops at {state.replicas}"
    )
    return _record(platform, "hpa_ceiling_reached", service, detail)


def logs_fill_disk(platform: SimPlatform, service: str) -> FaultRecord:
    """Debug logging left on: log files fill the node's filesystem."""
    platform.state.services[service].log_disk_pct = 97.5
    return _record(platform, "logs_fill_disk", service, "log files fill 97% of the filesystem")


def data_fills_disk(platform: SimPlatform, service: str) -> FaultRecord:
    """Data growth fills the filesystem; the logs are a small share (rotating them frees
    too little)."""
    state = platform.state.services[service]
    state.log_disk_pct = 4.0
    state.data_disk_pct = 93.5
    return _record(platform, "data_fills_disk", service, "data fills 93% of the filesystem")


def wrong_image(platform: SimPlatform, service: str, version: str) -> FaultRecord:
    detail = f"image tag {version} does not exist: pods stay in ImagePullBackOff"
    return _release_fault(platform, "wrong_image", service, version, detail, image_missing=True)


def config_drift(
    platform: SimPlatform, service: str, key: str, value: str, kind: str = "config_drift"
) -> FaultRecord:
    """A configuration value changed (announced by a change event): `kind` names the failure
    it causes, e.g. a target port, node selector, readiness probe or network policy."""
    state = platform.state.services[service]
    before = state.config.get(key, "")
    state.config[key] = value
    state.config_history.setdefault(key, []).append(value)
    platform.emit_change(
        "config", service, {"key": key, "from": before, "to": value}, "ops-console"
    )
    return _record(
        platform,
        kind,
        service,
        f"{key}: {before} -> {value}",
        attribute=key,
        bad_value=value,
        good_value=before,
    )


def healthy_config_change(platform: SimPlatform, service: str, key: str, value: str) -> None:
    """A harmless configuration change (noise that precedes a fault elsewhere)."""
    state = platform.state.services[service]
    before = state.config.get(key, "")
    state.config[key] = value
    state.config_history.setdefault(key, []).append(value)
    platform.emit_change("config", service, {"key": key, "from": before, "to": value}, "dev")


def scaled_to_zero(platform: SimPlatform, service: str) -> FaultRecord:
    state = platform.state.services[service]
    before = state.replicas
    state.replicas = 0
    platform.emit_change("scale", service, {"from": str(before), "to": "0"}, "ops-console")
    return _record(
        platform, "scaled_to_zero", service, "scaled to 0 replicas", good_value=str(before)
    )


def feature_flag_on(
    platform: SimPlatform, service: str, flag: str, load: float = 2.5
) -> FaultRecord:
    """A feature flag switched on in the flag service: the feature multiplies the service's
    calls per request by `load` (announced by the flag service's `feature_flag` change)."""
    platform.state.services[service].flag_load[flag] = load
    platform.set_flag(service, flag, True, "flag-console")
    return _record(
        platform,
        "feature_flag_on",
        service,
        f"flag {flag} switched on",
        attribute=flag,
        bad_value="on",
        good_value="off",
    )


def memory_exhaustion(platform: SimPlatform, service: str, demand_mb: int) -> FaultRecord:
    platform.state.services[service].memory_demand_mb = demand_mb
    return _record(platform, "memory_exhaustion", service, f"working set grew to {demand_mb} MiB")


def memory_limit_lowered(platform: SimPlatform, service: str, limit_mb: int) -> FaultRecord:
    """A manifest edit lowered the limit below the working set; no change event reaches ARF."""
    state = platform.state.services[service]
    before = state.memory_limit_mb
    state.memory_limit_mb = limit_mb
    return _record(
        platform,
        "memory_limit_too_low",
        service,
        f"memory limit {before} -> {limit_mb} MiB",
        good_value=str(before),
    )


def credentials_revoked(platform: SimPlatform, datastore: str) -> FaultRecord:
    platform.state.services[datastore].credentials_revoked = True
    return _record(
        platform, "credentials_revoked", datastore, "the datastore revoked its clients' password"
    )


def network_partition(platform: SimPlatform, service: str) -> FaultRecord:
    platform.state.services[service].partitioned = True
    return _record(
        platform, "network_partition", service, "cannot reach its dependencies; nothing changed"
    )


def certificate_expired(platform: SimPlatform, service: str) -> FaultRecord:
    platform.state.services[service].certificate_expires_at = platform.now()
    return _record(platform, "certificate_expired", service, "serving certificate expired")


def trust_bundle_stale(platform: SimPlatform, service: str) -> FaultRecord:
    """The internal CA rotated its root; this service's trust bundle still has only the old
    one, so every call it makes fails verification. Its own certificate is valid."""
    platform.state.services[service].trust_bundle_stale = True
    return _record(
        platform, "trust_bundle_stale", service, "trust bundle lacks the issuer's new root"
    )


def dependency_outage(platform: SimPlatform, service: str) -> FaultRecord:
    platform.state.services[service].up = False
    return _record(platform, "dependency_outage", service, "process died")


def datastore_disk_failure(platform: SimPlatform, service: str) -> FaultRecord:
    platform.state.services[service].disk_errors = True
    return _record(platform, "datastore_disk_failure", service, "primary disk I/O errors")


def iac_misconfiguration(
    platform: SimPlatform, resource: str, attribute: str, value: JsonValue
) -> FaultRecord:
    found = platform.state.iac[resource]
    before = found.attributes.get(attribute)
    found.attributes[attribute] = value
    platform.emit_change(
        "iac", resource, {"key": attribute, "from": str(before), "to": str(value)}, "dev-pr-481"
    )
    platform.emit_scan(resource)
    return _record(
        platform,
        "iac_misconfiguration",
        resource,
        f"{attribute}={value}",
        attribute=attribute,
        bad_value=json.dumps(value),
        good_value=json.dumps(before),
    )


def transient_latency(platform: SimPlatform, service: str, seconds: float) -> FaultRecord:
    platform.state.services[service].latency_spike_until = platform.now() + seconds
    return _record(platform, "transient", service, f"latency blip for {seconds:.0f} s")


CONFIG_FAULTS = frozenset(
    {
        "config_drift",
        "target_port_changed",
        "node_selector_invalid",
        "readiness_probe_broken",
        "network_policy_blocking",
        "corrupted_secret",
        "feature_flag_flood",
        "stale_db_password",
    }
)


def stale_db_password(platform: SimPlatform, service: str, value: str) -> FaultRecord:
    """A configuration change points the service at a secret version its datastores no
    longer accept (the reference had the current version until then)."""
    state = platform.state.services[service]
    state.config.setdefault(DB_PASSWORD_KEY, DB_PASSWORD_REF)
    state.config_history.setdefault(DB_PASSWORD_KEY, [state.config[DB_PASSWORD_KEY]])
    return config_drift(platform, service, DB_PASSWORD_KEY, value, "stale_db_password")


RELEASE_FAULTS = frozenset({"bad_deploy", "crash_loop", "wrong_image", "cpu_hungry_release"})


def _undone(platform: SimPlatform, fault: FaultRecord) -> bool:
    state = platform.state
    if fault.kind == "iac_misconfiguration":
        return not platform.scan(fault.target)
    if fault.kind in ("transient", "noise"):
        return True
    service = state.services[fault.target]
    now = platform.now()
    if fault.kind in RELEASE_FAULTS:
        release = service.releases[service.version]
        healthy = release.error_rate < 0.01 and not release.crashes and release.cpu_m == 0
        return healthy and not release.image_missing
    if fault.kind in CONFIG_FAULTS:
        return service.config.get(fault.attribute) != fault.bad_value
    checks = {
        "memory_exhaustion": lambda: service.memory_demand_mb <= service.memory_limit_mb,
        "memory_limit_too_low": lambda: service.memory_demand_mb <= service.memory_limit_mb,
        "dependency_outage": lambda: service.up,
        "datastore_disk_failure": lambda: not service.disk_errors,
        "scaled_to_zero": lambda: service.replicas >= int(fault.good_value or 1),
        "credentials_revoked": lambda: not service.credentials_revoked,
        "network_partition": lambda: not service.partitioned,
        "certificate_expired": lambda: (
            service.certificate_expires_at is None or service.certificate_expires_at > now
        ),
        "trust_bundle_stale": lambda: not service.trust_bundle_stale,
        "feature_flag_on": lambda: not service.flags.get(fault.attribute, False),
        "cpu_starved": lambda: service.cpu_demand_m <= service.cpu_limit_m,
        "hpa_ceiling_reached": lambda: (service.hpa_max_replicas or 0) >= service.needed_replicas,
        "logs_fill_disk": lambda: service.log_disk_pct + service.data_disk_pct < 90,
        "data_fills_disk": lambda: service.log_disk_pct + service.data_disk_pct < 90,
    }
    check = checks.get(fault.kind)
    if check is None:
        raise ValueError(f"unknown fault kind {fault.kind!r}")
    return check()


def fault_undone(platform: SimPlatform, fault: FaultRecord) -> bool:
    """Ground truth for scoring: is the injected fault itself gone from the platform's state?"""
    return _undone(platform, fault)


def slo_breaches(platform: SimPlatform) -> list[str]:
    """Services whose error rate or p99 latency is outside their objective right now."""
    memo: dict[str, Health] = {}
    out = []
    for name, service in sorted(platform.state.services.items()):
        current = platform.health_of(name, memo)
        if (
            current.up < 1
            or current.error_rate > service.slo_max_error_rate
            or current.latency_p99_ms > service.slo_max_latency_p99_ms
        ):
            out.append(name)
    return out


def repair(platform: SimPlatform, fault: FaultRecord) -> None:
    """What a person does to undo a fault by hand (used by the evaluation's human model)."""
    state = platform.state
    if fault.kind in ("transient", "noise") or _undone(platform, fault):
        return
    if fault.kind == "iac_misconfiguration":
        state.iac[fault.target].attributes[fault.attribute] = json.loads(fault.good_value)
        return
    service = state.services[fault.target]
    if fault.kind in RELEASE_FAULTS:
        service.version = fault.good_value
        service.release_history.append(fault.good_value)
    elif fault.kind in CONFIG_FAULTS:
        service.config[fault.attribute] = fault.good_value
        service.config_history.setdefault(fault.attribute, []).append(fault.good_value)
    elif fault.kind in ("memory_exhaustion", "memory_limit_too_low"):
        service.memory_limit_mb = max(service.memory_limit_mb, service.memory_demand_mb * 5 // 4)
    elif fault.kind == "scaled_to_zero":
        service.replicas = int(fault.good_value or 1)
    elif fault.kind == "feature_flag_on":
        service.flags[fault.attribute] = False
    elif fault.kind == "cpu_starved":
        service.cpu_limit_m = max(service.cpu_limit_m, service.cpu_demand_m * 5 // 4)
    elif fault.kind == "hpa_ceiling_reached":
        service.hpa_max_replicas = service.needed_replicas + 1
        platform.autoscale(service)
    elif fault.kind == "logs_fill_disk":
        service.log_disk_pct = 5.0
    elif fault.kind == "data_fills_disk":
        service.data_disk_pct = 40.0  # a person grows the volume or archives data
    else:
        service.up = True
        service.disk_errors = False
        service.credentials_revoked = False
        service.partitioned = False
        service.certificate_expires_at = None
        service.trust_bundle_stale = False


@dataclass(frozen=True)
class Scenario:
    """One demo case: how to inject it and what a correct control plane does with it."""

    name: str
    description: str
    inject: Callable[[SimPlatform], list[FaultRecord]]
    remediate: bool
    expected_action: str | None
    needs_human: bool = False


def demo_scenarios() -> list[Scenario]:
    """One per fault kind, a compound failure, a no-fault control, an approval-gated case.

    The approval-gated case is last: it stays pending and keeps its services degraded.
    """
    return [
        Scenario(
            "bad-deploy",
            "checkout 1.5.0 fails a quarter of its calls; an unrelated catalog"
            " deploy lands a few minutes earlier (must not be blamed)",
            lambda p: [_unrelated(p, "catalog", "1.4.3"), bad_deploy(p, "checkout", "1.5.0")][1:],
            True,
            "rollback_deploy",
        ),
        Scenario(
            "config-drift",
            "payments db_pool_size drops from 20 to 2: latency climbs",
            lambda p: [config_drift(p, "payments", "db_pool_size", "2")],
            True,
            "revert_config",
        ),
        Scenario(
            "memory-exhaustion",
            "inventory's working set outgrows its 512 MiB limit (OOM)",
            lambda p: [memory_exhaustion(p, "inventory", 800)],
            True,
            "increase_memory_limit",
        ),
        Scenario(
            "dependency-outage",
            "the cache process dies; catalog and frontend fail with it",
            lambda p: [dependency_outage(p, "cache")],
            True,
            "restart_service",
        ),
        Scenario(
            "crash-loop",
            "auth 2.0.0 exits on start and crash-loops",
            lambda p: [crash_loop(p, "auth", "2.0.0")],
            True,
            "rollback_deploy",
        ),
        Scenario(
            "iac-misconfiguration",
            "a pull request makes the audit-log bucket public-read",
            lambda p: [iac_misconfiguration(p, "aws_s3_bucket.audit_logs", "acl", "public-read")],
            True,
            "apply_iac_patch",
        ),
        Scenario(
            "compound",
            "checkout 1.6.0 is bad while payments' pool is cut, at the same time",
            lambda p: [
                bad_deploy(p, "checkout", "1.6.0"),
                config_drift(p, "payments", "db_pool_size", "3"),
            ],
            True,
            "rollback_deploy+revert_config",
        ),
        Scenario(
            "no-fault-control",
            "a 100 s latency blip on frontend that clears by itself, with an"
            " unrelated deploy of reporting",
            lambda p: [_unrelated(p, "reporting", "1.4.3"), transient_latency(p, "frontend", 100)][
                1:
            ],
            False,
            None,
        ),
        Scenario(
            "high-risk-datastore",
            "orders-db primary has disk I/O errors; the fix is an"
            " irreversible failover, so policy requires approval",
            lambda p: [datastore_disk_failure(p, "orders-db")],
            True,
            "failover_database",
            needs_human=True,
        ),
    ]


def _unrelated(platform: SimPlatform, service: str, version: str) -> FaultRecord:
    """A healthy deploy that coincides with a fault elsewhere (a red herring, not a fault)."""
    deploy(platform, service, version)
    return FaultRecord(
        fault_id="none",
        kind="noise",
        target=service,
        started_at=platform.now(),
        detail="healthy deploy",
    )
