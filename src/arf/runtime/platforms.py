"""The platform remediation acts on and verification observes, chosen by settings.

`sim` (the default) is the simulated platform. `kubernetes` acts on a cluster through the
`kubernetes` client (extra `kubernetes`) and verifies through Prometheus. `hosts` acts through
the bindings of a platform file (a deploy API, allowlisted HTTP actions and Ansible playbooks,
a Git IaC repository) and verifies through Prometheus and Checkov re-scans. The same
catalogued actions, executor, leases and verifier; other adapters behind the same ports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx
import yaml

from arf.core.clock import Clock
from arf.core.errors import ConfigError
from arf.core.ports import TargetDriver, Telemetry
from arf.execution.promql import DEFAULT_QUERIES, PrometheusAnalysis, PrometheusTelemetry
from arf.runtime.settings import Settings


@dataclass(frozen=True)
class PlatformAdapters:
    driver: TargetDriver
    telemetry: Telemetry
    closers: tuple[Callable[[], None], ...] = ()

    def close(self) -> None:
        for close in self.closers:
            close()


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


def _hosts(settings: Settings, clock: Clock) -> PlatformAdapters:
    from arf.execution.hosts import HostsDriver, default_scanner, load_config

    config = load_config(settings.platform_file_path, default_scanner(settings.checkov))
    queries = _queries(settings)
    http = httpx.Client(timeout=10)
    driver = HostsDriver(config, http)
    analysis = PrometheusAnalysis(http, settings.prometheus_url, clock)
    telemetry = PrometheusTelemetry(analysis, queries, scanner=driver.failing)
    return PlatformAdapters(driver, telemetry, closers=(http.close,))


def platform_adapters(settings: Settings, clock: Clock) -> PlatformAdapters | None:
    """None for the simulated platform (the runtime uses it directly)."""
    if settings.platform == "sim":
        return None
    if settings.platform == "hosts":
        return _hosts(settings, clock)
    try:
        from arf.execution.kubernetes_driver import KubernetesDriver, load_api
    except ImportError as exc:
        raise ConfigError(
            "ARF_PLATFORM=kubernetes needs the kubernetes extra: pip install 'arf[kubernetes]'"
        ) from exc
    queries = _queries(settings)  # before any client exists: a bad file leaks nothing
    api = load_api(settings.kubeconfig)
    driver = KubernetesDriver(
        api, settings.kube_namespace, kube_version=settings.kube_version, clock=clock
    )
    http = httpx.Client(timeout=10)
    analysis = PrometheusAnalysis(http, settings.prometheus_url, clock)
    return PlatformAdapters(
        driver, PrometheusTelemetry(analysis, queries), closers=(api.close, http.close)
    )
