"""Platforms: where remediation acts and what verification observes, as a registry.

Each platform is a `Platform`, returned by a zero-argument callable that an entry point of the
group `arf.platforms` names; ARF's own three are registered that way (`pyproject.toml`), and
the `platform` setting picks one by name. `sim` (the default) is the simulated platform.
`kubernetes` acts on a cluster through the `kubernetes` client (extra `kubernetes`) and
verifies through Prometheus. `hosts` acts through the bindings of a platform file (a deploy
API, allowlisted HTTP actions and Ansible playbooks, a Git IaC repository) and verifies through
Prometheus and Checkov re-scans. The same catalogued actions, executor, leases and verifier;
other adapters behind the same ports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx
import yaml

from arf.core.clock import Clock, ManualClock, SystemClock
from arf.core.errors import ConfigError
from arf.core.ports import TargetDriver, Telemetry
from arf.execution.promql import DEFAULT_QUERIES, PrometheusAnalysis, PrometheusTelemetry
from arf.runtime.settings import Settings
from arf.sim.platform import SimPlatform, default_state

if TYPE_CHECKING:  # the kubernetes extra is optional: imported where it is used
    from arf.execution.kubernetes_driver import KubernetesDriver


@dataclass(frozen=True)
class PlatformAdapters:
    driver: TargetDriver
    telemetry: Telemetry
    closers: tuple[Callable[[], None], ...] = ()

    def close(self) -> None:
        for close in self.closers:
            close()


Connect = Callable[[Settings, Clock, SimPlatform], PlatformAdapters]


@dataclass(frozen=True)
class Platform:
    """One registered platform. `operations()`: the verbs it implements, or None when its
    configuration decides (the `hosts` platform file), asked only when listed (it may import
    the platform's client); `connect` builds its driver and telemetry (the simulated world
    is passed for platforms that act on it)."""

    name: str
    description: str
    operations: Callable[[], frozenset[str] | None]
    connect: Connect


def _queries(settings: Settings) -> dict[str, str]:
    if settings.promql_queries is None:
        return dict(DEFAULT_QUERIES)
    try:
        loaded = yaml.safe_load(settings.promql_queries.read_text("utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read PromQL queries {settings.promql_queries}: {exc}") from exc
    if not isinstance(loaded, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in loaded.items()
    ):
        raise ConfigError(f"{settings.promql_queries}: expected a mapping of metric -> PromQL")
    unknown = sorted(set(loaded) - set(DEFAULT_QUERIES))
    if unknown:
        raise ConfigError(
            f"{settings.promql_queries}: unknown metric {', '.join(unknown)};"
            f" known: {', '.join(DEFAULT_QUERIES)}"
        )
    return {**DEFAULT_QUERIES, **loaded}


def _hosts(settings: Settings, clock: Clock, world: SimPlatform) -> PlatformAdapters:
    from arf.execution.hosts import HostsDriver, default_scanner, load_config

    config = load_config(settings.platform_file_path, default_scanner(settings.checkov))
    queries = _queries(settings)
    http = httpx.Client(timeout=10)
    driver = HostsDriver(config, http)
    analysis = PrometheusAnalysis(http, settings.prometheus_url, clock)
    telemetry = PrometheusTelemetry(analysis, queries, scanner=driver.failing)
    return PlatformAdapters(driver, telemetry, closers=(http.close,))


def hosts_platform() -> Platform:
    return Platform(
        "hosts",
        "services on hosts, bound by a platform file (HTTP, Ansible, Git); Prometheus",
        lambda: None,
        _hosts,
    )


def simulated_world(settings: Settings, clock: Clock) -> SimPlatform:
    """The simulated platform's state, resumed from the home when saved there."""
    path = settings.sim_state_path
    if path.exists():
        return SimPlatform.load(path, clock)
    return SimPlatform(default_state(settings.seed, clock.now().timestamp()), clock)


def simulated_clock(settings: Settings) -> Clock:
    """The simulated platform's virtual clock, resumed where the last run left it."""
    path = settings.sim_state_path
    if path.exists():
        probe = SimPlatform.load(path, SystemClock())
        return ManualClock(datetime.fromtimestamp(probe.state.now, UTC))
    return ManualClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))


def _sim(settings: Settings, clock: Clock, world: SimPlatform) -> PlatformAdapters:
    return PlatformAdapters(world, world, closers=(lambda: world.save(settings.sim_state_path),))


def sim_platform() -> Platform:
    return Platform(
        "sim",
        "the simulated platform (the demo, the benchmark, tests)",
        lambda: SimPlatform.OPERATIONS,
        _sim,
    )


def _kubernetes_driver() -> type[KubernetesDriver]:
    try:
        from arf.execution.kubernetes_driver import KubernetesDriver
    except ImportError as exc:
        raise ConfigError(
            "the kubernetes platform needs the kubernetes extra: pip install 'arf[kubernetes]'"
        ) from exc
    return KubernetesDriver


def _kubernetes(settings: Settings, clock: Clock, world: SimPlatform) -> PlatformAdapters:
    driver_type = _kubernetes_driver()  # a missing extra is a one-line error, first
    from arf.execution.kubernetes_driver import load_api

    queries = _queries(settings)  # before any client exists: a bad file leaks nothing
    api = load_api(settings.kubeconfig)
    driver = driver_type(
        api, settings.kube_namespace, kube_version=settings.kube_version, clock=clock
    )
    http = httpx.Client(timeout=10)
    analysis = PrometheusAnalysis(http, settings.prometheus_url, clock)
    return PlatformAdapters(
        driver, PrometheusTelemetry(analysis, queries), closers=(api.close, http.close)
    )


def _kubernetes_operations() -> frozenset[str]:
    try:
        return frozenset(_kubernetes_driver().OPERATIONS)
    except ConfigError:
        return frozenset()  # not installed: it can run nothing here


def kubernetes_platform() -> Platform:
    return Platform(
        "kubernetes",
        "a Kubernetes cluster (Deployments, Nodes), observed by Prometheus",
        _kubernetes_operations,
        _kubernetes,
    )
