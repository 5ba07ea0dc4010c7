"""Fault injection on the simulated platform, and the ground-truth check used only for scoring.

Each injection changes the platform's state the way the real fault would (a release, a config
value, a memory demand, a process down, an IaC attribute) and emits what tools would see. The
scoring check `fault_undone` inspects the platform's state; ARF never calls it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from arf.sim.model import FaultRecord, Release
from arf.sim.platform import SimPlatform


def _record(
    platform: SimPlatform,
    kind: str,
    target: str,
    detail: str,
    attribute: str = "",
    bad_value: str = "",
) -> FaultRecord:
    fault = FaultRecord(
        fault_id=platform.next_id("fault"),
        kind=kind,
        target=target,
        started_at=platform.now(),
        detail=detail,
        attribute=attribute,
        bad_value=bad_value,
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
) -> None:
    """Roll out a release (a change event is emitted, as a CD system would)."""
    state = platform.state.services[service]
    state.releases[version] = Release(version=version, error_rate=error_rate, crashes=crashes)
    before = state.version
    state.version = version
    state.release_history.append(version)
    platform.emit_change("deploy", service, {"from": before, "to": version}, author)


def bad_deploy(
    platform: SimPlatform, service: str, version: str, error_rate: float = 0.25
) -> FaultRecord:
    deploy(platform, service, version, error_rate=error_rate)
    return _record(platform, "bad_deploy", service, f"{version} fails {error_rate:.0%} of calls")


def crash_loop(platform: SimPlatform, service: str, version: str) -> FaultRecord:
    deploy(platform, service, version, crashes=True)
    return _record(platform, "crash_loop", service, f"{version} exits on start")


def config_drift(platform: SimPlatform, service: str, key: str, value: str) -> FaultRecord:
    state = platform.state.services[service]
    before = state.config.get(key, "")
    state.config[key] = value
    state.config_history.setdefault(key, []).append(value)
    platform.emit_change(
        "config", service, {"key": key, "from": before, "to": value}, "ops-console"
    )
    return _record(
        platform,
        "config_drift",
        service,
        f"{key}: {before} -> {value}",
        attribute=key,
        bad_value=value,
    )


def memory_exhaustion(platform: SimPlatform, service: str, demand_mb: int) -> FaultRecord:
    platform.state.services[service].memory_demand_mb = demand_mb
    return _record(platform, "memory_exhaustion", service, f"working set grew to {demand_mb} MiB")


def dependency_outage(platform: SimPlatform, service: str) -> FaultRecord:
    platform.state.services[service].up = False
    return _record(platform, "dependency_outage", service, "process died")


def datastore_disk_failure(platform: SimPlatform, service: str) -> FaultRecord:
    platform.state.services[service].disk_errors = True
    return _record(platform, "datastore_disk_failure", service, "primary disk I/O errors")


def iac_misconfiguration(
    platform: SimPlatform, resource: str, attribute: str, value: str
) -> FaultRecord:
    found = platform.state.iac[resource]
    before = found.attributes.get(attribute)
    found.attributes[attribute] = value
    platform.emit_change(
        "iac", resource, {"key": attribute, "from": str(before), "to": value}, "dev-pr-481"
    )
    platform.emit_scan(resource)
    return _record(platform, "iac_misconfiguration", resource, f"{attribute}={value}")


def transient_latency(platform: SimPlatform, service: str, seconds: float) -> FaultRecord:
    platform.state.services[service].latency_spike_until = platform.now() + seconds
    return _record(platform, "transient", service, f"latency blip for {seconds:.0f} s")


def _undone(platform: SimPlatform, fault: FaultRecord) -> bool:
    state = platform.state
    if fault.kind in ("bad_deploy", "crash_loop"):
        service = state.services[fault.target]
        release = service.releases[service.version]
        return release.error_rate < 0.01 and not release.crashes
    if fault.kind == "config_drift":
        return state.services[fault.target].config.get(fault.attribute) != fault.bad_value
    if fault.kind == "memory_exhaustion":
        service = state.services[fault.target]
        return service.memory_demand_mb <= service.memory_limit_mb
    if fault.kind == "dependency_outage":
        return state.services[fault.target].up
    if fault.kind == "datastore_disk_failure":
        return not state.services[fault.target].disk_errors
    if fault.kind == "iac_misconfiguration":
        return not platform.scan(fault.target)
    return fault.kind == "transient"


def fault_undone(platform: SimPlatform, fault: FaultRecord) -> bool:
    """Ground truth for scoring: is the injected fault itself gone from the platform's state?"""
    return _undone(platform, fault)


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
