"""The Kubernetes driver through the official client against kmock's KubernetesEmulator.

No API server can run here, and no real cluster was used. The emulator is an in-memory,
low-fidelity API over real HTTP: it stores what is created, merges patches as plain JSON,
ignores `dryRun`, and runs no controllers (no ReplicaSets are made, no status is written).
So these tests check the request contract (paths, verbs, merge patches, dry-run
parameters, idempotency) and what our code does with the objects it reads. ReplicaSet
revisions and Deployment status, which a controller would write, are fixtures written from
the Kubernetes API documentation (tests/data/kubernetes/).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client

from arf.core.clock import ManualClock
from arf.core.errors import ExecutionError
from arf.core.records import PlanStep
from arf.execution.action_packs import ActionCatalog, default_actions
from arf.execution.executor import Executor
from arf.execution.kubernetes_driver import (
    KubernetesDriver,
    memory_mib,
    merge_patch,
    rollout_status,
)
from tests.conftest import START
from tests.integration.conftest import Cluster, load_fixture, seed_cluster

DATA = Path(__file__).resolve().parents[1] / "data" / "kubernetes"


def _driver(cluster: Cluster, **kwargs: Any) -> KubernetesDriver:
    return KubernetesDriver(cluster.api, "shop", clock=ManualClock(START), **kwargs)


def test_describe_reads_releases_and_configuration_from_revisions(cluster: Cluster) -> None:
    seed_cluster(cluster)
    state = _driver(cluster).describe("shop/checkout")
    assert state is not None
    assert state["version"] == "1.5.0"
    assert state["release_history"] == ["1.4.1", "1.4.2", "1.5.0"]
    assert state["config"] == {"DB_POOL_SIZE": "2", "LOG_LEVEL": "info"}
    assert state["config_history"] == {"DB_POOL_SIZE": ["20", "2"], "LOG_LEVEL": ["info"]}
    assert state["memory_limit_mb"] == 512 and state["replicas"] == 3
    assert _driver(cluster).describe("shop/nothing-here") is None


def test_catalogued_actions_run_on_the_cluster_and_roll_back(cluster: Cluster) -> None:
    seed_cluster(cluster)
    executor = Executor(ActionCatalog(default_actions()), _driver(cluster))
    steps = [
        PlanStep(action="rollback_deploy", target="shop/checkout", params={"to_version": "1.4.2"}),
        PlanStep(
            action="revert_config",
            target="shop/checkout",
            params={"key": "DB_POOL_SIZE", "to_value": "20"},
        ),
        PlanStep(action="increase_memory_limit", target="shop/checkout", params={"factor": 2.0}),
        PlanStep(action="scale_service", target="shop/checkout", params={"replicas": 5}),
    ]
    for index, step in enumerate(steps):
        pre = executor.capture(step)
        executor.run_step(step, pre, f"k{index}")
        after = cluster.deployment()
        if step.action == "rollback_deploy":
            assert cluster.container()["image"] == "registry.example/checkout:1.4.2"
            assert "pod-template-hash" not in after["spec"]["template"]["metadata"]["labels"]
        elif step.action == "revert_config":
            assert cluster.env()["DB_POOL_SIZE"] == "20"
        elif step.action == "increase_memory_limit":
            assert cluster.container()["resources"]["limits"]["memory"] == "1024Mi"
        else:
            assert after["spec"]["replicas"] == 5
        executor.rollback_step(step, pre, f"k{index}-rb")
    assert cluster.deployment()["spec"]["replicas"] == 3
    assert cluster.container()["resources"]["limits"]["memory"] == "512Mi"
    assert cluster.container()["image"] == "registry.example/checkout:1.5.0"
    assert cluster.env()["DB_POOL_SIZE"] == "2"
    patches = cluster.requests("PATCH")
    assert patches and all(
        r.headers.get("Content-Type", "").startswith("application/merge-patch+json")
        for r in patches
    )


def test_a_restart_is_one_change_per_idempotency_key(cluster: Cluster) -> None:
    seed_cluster(cluster)
    driver = _driver(cluster)
    driver.perform("restart", "shop/checkout", {}, "incident-1/step-0")
    first = len(cluster.requests("PATCH"))
    replay = driver.perform("restart", "shop/checkout", {}, "incident-1/step-0")
    assert replay.get("replayed") is True and len(cluster.requests("PATCH")) == first
    template = cluster.deployment()["spec"]["template"]
    assert template["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] == (
        "2026-03-02T10:00:00Z"
    )
    driver.perform("restart", "shop/checkout", {}, "incident-2/step-0")
    assert len(cluster.requests("PATCH")) == first + 1


def test_dry_run_sends_dry_run_all(cluster: Cluster) -> None:
    """The emulator ignores dryRun (it stores the change anyway), so only the request is
    checked: a real API server validates and admits such a request and persists nothing."""
    seed_cluster(cluster)
    _driver(cluster, dry_run=True).perform("scale", "shop/checkout", {"replicas": 4}, "k")
    patch = cluster.requests("PATCH")[-1]
    assert patch.params.get("dryRun") == "All"
    _driver(cluster).perform("scale", "shop/checkout", {"replicas": 4}, "k2")
    assert "dryRun" not in cluster.requests("PATCH")[-1].params


def test_an_invalid_result_is_refused_before_any_request(cluster: Cluster) -> None:
    """Every patch is applied locally first and the result checked against the API schema:
    an object the API server would refuse is never sent (here: a container without the
    required name, stored by the emulator, which validates nothing)."""
    seed_cluster(cluster)
    broken = load_fixture("deployment.yaml")
    broken["metadata"]["name"] = "broken"
    del broken["spec"]["template"]["spec"]["containers"][0]["name"]
    # the client validates request bodies itself, so the broken object goes in over raw HTTP
    httpx.post(f"{cluster.url}/apis/apps/v1/namespaces/shop/deployments", json=broken)
    driver = _driver(cluster)
    before = len(cluster.requests("PATCH"))
    with pytest.raises(ExecutionError, match=r"would be invalid.*name"):
        driver.perform("set_memory_limit", "shop/broken", {"memory_mb": 1024}, "k")
    with pytest.raises(ExecutionError, match="non-negative"):
        driver.perform("scale", "shop/checkout", {"replicas": -1}, "k")
    assert len(cluster.requests("PATCH")) == before


def test_undo_needs_a_revision_that_ran_the_version(cluster: Cluster) -> None:
    seed_cluster(cluster)
    with pytest.raises(ExecutionError, match="no earlier revision"):
        _driver(cluster).perform("deploy", "shop/checkout", {"version": "0.9.0"}, "k")
    with pytest.raises(ExecutionError, match="404"):
        _driver(cluster).perform("scale", "shop/ghost", {"replicas": 2}, "k")


def test_pods_are_deleted_once_and_nodes_cordoned_and_uncordoned(cluster: Cluster) -> None:
    seed_cluster(cluster)
    cluster.core.create_namespaced_pod("shop", load_fixture("pod.yaml"))
    driver = _driver(cluster)
    assert driver.perform("delete_pod", "shop/checkout", {"pod": "checkout-7c9-abcde"}, "k")["ok"]
    again = driver.perform("delete_pod", "shop/checkout", {"pod": "checkout-7c9-abcde"}, "k")
    assert again.get("replayed") is True  # already gone: the retry is done
    assert driver.describe("node/worker-1") == {
        "kind": "node",
        "unschedulable": False,
        "replicas": 0,
    }
    driver.perform("cordon", "node/worker-1", {"unschedulable": True}, "k")
    assert cluster.get("/api/v1/nodes/worker-1")["spec"]["unschedulable"] is True
    driver.perform("cordon", "node/worker-1", {"unschedulable": False}, "k-rb")
    assert cluster.get("/api/v1/nodes/worker-1")["spec"]["unschedulable"] is False
    with pytest.raises(ExecutionError, match="needs a node"):
        driver.perform("cordon", "shop/checkout", {}, "k")


@pytest.mark.parametrize(
    ("fixture", "done", "failed", "message"),
    [
        ("status-complete.yaml", True, False, "successfully rolled out"),
        ("status-progressing.yaml", False, False, "1 of 3 new replicas updated"),
        ("status-old-pending.yaml", False, False, "1 old replicas pending termination"),
        ("status-unavailable.yaml", False, False, "2 of 3 updated replicas available"),
        ("status-deadline.yaml", False, True, "exceeded its progress deadline"),
        ("status-not-observed.yaml", False, False, "to be observed"),
    ],
)
def test_rollout_status_follows_kubectl(
    fixture: str, done: bool, failed: bool, message: str
) -> None:
    status = rollout_status(load_fixture(fixture))
    assert (status.done, status.failed) == (done, failed)
    assert message in status.message


def test_merge_patch_and_quantities() -> None:
    assert merge_patch({"a": {"b": 1, "c": 2}}, {"a": {"b": None, "d": 3}}) == {
        "a": {"c": 2, "d": 3}
    }
    assert merge_patch({"list": [1, 2]}, {"list": [3]}) == {"list": [3]}
    assert memory_mib("512Mi") == 512 and memory_mib("1Gi") == 1024
    assert memory_mib("536870912") == 512 and memory_mib("lots") == 0


def test_a_hung_api_server_fails_the_step_within_its_timeout() -> None:
    """A server that accepts the connection and never answers: the call gives up."""
    import socket as sockets

    listener = sockets.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    config = client.Configuration()
    config.host = f"http://127.0.0.1:{listener.getsockname()[1]}"
    api = client.ApiClient(config)
    driver = KubernetesDriver(api, "shop", timeout_s=0.5)
    started = time.monotonic()
    try:
        with pytest.raises(ExecutionError, match="kubernetes"):
            driver.perform("scale", "shop/checkout", {"replicas": 3}, "k")
    finally:
        api.close()  # type: ignore[no-untyped-call]
        listener.close()
    assert time.monotonic() - started < 10
