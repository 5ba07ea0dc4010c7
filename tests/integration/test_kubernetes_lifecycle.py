"""The whole lifecycle with `ARF_PLATFORM=kubernetes`: an Alertmanager alert and a deploy
event in, the evidence engine's rollback out through the kubernetes client (against kmock's
emulator), and verification by PromQL against a real Prometheus.

The emulator runs no controllers, so a stand-in thread plays the part of the cluster and the
service: the service's error ratio follows the image the Deployment runs (the bad release
fails 30% of requests, the previous one 1%). Prometheus scrapes it every second.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from arf.core.errors import ConfigError
from arf.core.records import IncidentState, Outcome, StepKind, StepStatus
from arf.runtime.audit import compliance_of, verify_ledger
from arf.runtime.container import build_runtime
from arf.runtime.ingest import Ingestor
from arf.runtime.operations import advance
from arf.runtime.settings import Settings
from tests.integration.conftest import Cluster, Lab, Service, seed_cluster, wait_for_scrape


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_a_bad_release_is_rolled_back_on_the_cluster_and_verified_in_prometheus(
    tmp_path: Path, cluster: Cluster, prometheus: Lab
) -> None:
    seed_cluster(cluster)  # checkout runs 1.5.0; revisions 1.4.1, 1.4.2, 1.5.0
    stop = threading.Event()

    def service_follows_the_image() -> None:
        while not stop.is_set():
            image = cluster.container()["image"]
            Service.error_ratio = 0.01 if image.endswith(":1.4.2") else 0.3
            time.sleep(0.2)

    follower = threading.Thread(target=service_follows_the_image, daemon=True)
    follower.start()
    try:
        wait_for_scrape(prometheus.http, prometheus.url, 0.3)
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: emulator\n"
            f"clusters: [{{name: emulator, cluster: {{server: '{cluster.url}'}}}}]\n"
            "users: [{name: arf, user: {}}]\n"
            "contexts: [{name: emulator, context: {cluster: emulator, user: arf}}]\n",
            "utf-8",
        )
        queries = tmp_path / "queries.yaml"
        queries.write_text(
            "error_rate: 'max(demo_error_ratio{service=\"{service}\"})'\n"
            "latency_p99_ms: 'vector(120)'\n"
            "up: 'min(up{job=\"{service}\"})'\n",
            "utf-8",
        )
        settings = Settings(
            home=tmp_path / "home",
            platform="kubernetes",
            kubeconfig=kubeconfig,
            kube_namespace="shop",
            prometheus_url=prometheus.url,
            promql_queries=queries,
            group_wait_s=0,
            verify_initial_delay_s=2,
            verify_interval_s=1,
            verify_samples=3,
        )
        runtime = build_runtime(settings)
        now = datetime.now(UTC)
        ingest = Ingestor(runtime)
        ingest.ingest(
            "cloudevent",
            {
                "specversion": "1.0",
                "id": "deploy-481",
                "source": "ci/argo",
                "type": "dev.arf.change.deploy",
                "subject": "checkout",
                "time": _iso(now - timedelta(minutes=3)),
                "data": {"from": "1.4.2", "to": "1.5.0", "environment": "production"},
            },
        )
        ingest.ingest(
            "alertmanager",
            {
                "version": "4",
                "status": "firing",
                "alerts": [
                    {
                        "status": "firing",
                        "labels": {
                            "alertname": "HighErrorRate",
                            "service": "checkout",
                            "severity": "critical",
                        },
                        "annotations": {"summary": "checkout error rate is 30%"},
                        "startsAt": _iso(now - timedelta(minutes=1)),
                        "endsAt": "0001-01-01T00:00:00Z",
                        "fingerprint": "c0ffee",
                    }
                ],
            },
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            advance(runtime)
            with runtime.store.unit_of_work() as uow:
                (incident,) = uow.list_incidents()
                executions = uow.executions_for(incident.incident_id)
                verifications = uow.verifications_for(incident.incident_id)
            if incident.state in (IncidentState.RESOLVED, IncidentState.ESCALATED):
                break
            time.sleep(0.2)
        assert (incident.state, incident.outcome) == (IncidentState.RESOLVED, Outcome.RESOLVED), (
            incident.outcome_reason
        )
        assert cluster.container()["image"] == "registry.example/checkout:1.4.2"
        forward = [e for e in executions if e.kind is StepKind.FORWARD]
        assert [(e.action, e.status) for e in forward][-1] == (
            "rollback_deploy",
            StepStatus.SUCCEEDED,
        )
        assert any(r.method.upper() == "PATCH" for r in cluster.emulator["patch"])
        probes = [p for v in verifications for p in v.probes]
        assert any(p.probe == "error_rate" and p.samples and p.samples[-1] == 0.01 for p in probes)
        assert verify_ledger(runtime).ok
        assert compliance_of(runtime).rate == 1.0
        runtime.close()
    finally:
        stop.set()
        follower.join(5)
        Service.error_ratio = 0.01


def test_a_missing_kubeconfig_is_a_clear_configuration_error(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path / "home", platform="kubernetes", kubeconfig=tmp_path / "nowhere"
    )
    with pytest.raises(ConfigError, match="cannot load the Kubernetes configuration"):
        build_runtime(settings)
    bad = tmp_path / "queries.yaml"
    bad.write_text("errors: 'up'\n", "utf-8")
    config = tmp_path / "kubeconfig"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n",
        "utf-8",
    )
    with pytest.raises(ConfigError, match="unknown metric errors"):
        build_runtime(
            Settings(
                home=tmp_path / "home2",
                platform="kubernetes",
                kubeconfig=config,
                promql_queries=bad,
            )
        )
