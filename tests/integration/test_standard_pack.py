"""The standard pack against real bindings: the Kubernetes driver through the official client
against kmock's emulator (raise_cpu_limit, raise_hpa_ceiling), Ansible for real on localhost
through the hosts platform (free_disk), and the simulator's lifecycle refusing a tempting
plan whose preconditions fail before anyone is asked."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import psycopg
import pytest
from kubernetes import client
from psycopg import sql

from arf.core.clock import ManualClock
from arf.core.errors import ExecutionError
from arf.core.records import IncidentState, PlanStep, StepKind
from arf.execution.action_packs import ActionCatalog, load_pack, standard_pack
from arf.execution.executor import Executor, Reconciliation
from arf.execution.hosts import HostsDriver, load_config
from arf.execution.kubernetes_driver import KubernetesDriver, cpu_millicores
from arf.runtime.demo import DemoDriver
from arf.sim.faults import data_fills_disk
from tests.conftest import START, make_runtime
from tests.integration.conftest import Cluster, seed_cluster

PLAYBOOKS = Path(standard_pack().joinpath("playbooks"))  # type: ignore[arg-type]
HPA: Any = {
    "apiVersion": "autoscaling/v2",
    "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "checkout", "namespace": "shop"},
    "spec": {
        "minReplicas": 2,
        "maxReplicas": 4,
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "checkout"},
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 70},
                },
            }
        ],
    },
}


def _standard(platform: str, operations: frozenset[str] | None) -> ActionCatalog:
    return ActionCatalog(load_pack(standard_pack())).for_platform(platform, operations)


def _k8s(cluster: Cluster) -> tuple[KubernetesDriver, Executor]:
    driver = KubernetesDriver(cluster.api, "shop", clock=ManualClock(START))
    return driver, Executor(_standard("kubernetes", driver.operations()), driver)


def test_cpu_quantities_read_as_millicores() -> None:
    assert [cpu_millicores(q) for q in ("500m", "2", "1.5", None, "", "lots")] == [
        500,
        2000,
        1500,
        0,
        0,
        0,
    ]


def test_raise_cpu_limit_patches_the_container_and_rolls_back(cluster: Cluster) -> None:
    seed_cluster(cluster)
    _, executor = _k8s(cluster)
    step = PlanStep(action="raise_cpu_limit", target="shop/checkout", params={})
    with pytest.raises(ExecutionError, match="has no CPU limit to raise"):
        executor.capture(step)  # the fixture's container has a memory limit only
    container = cluster.container()
    container["resources"]["limits"]["cpu"] = "500m"
    cluster.apps.patch_namespaced_deployment(
        "checkout",
        "shop",
        {"spec": {"template": {"spec": {"containers": [container]}}}},
        _content_type="application/merge-patch+json",
    )
    pre_state = executor.capture(step)
    assert pre_state["cpu_limit_m"] == 500
    executor.run_step(step, pre_state, "INC-1/s0/forward")
    limits = cluster.container()["resources"]["limits"]
    assert limits == {"memory": "512Mi", "cpu": "1000m"}  # the memory limit is kept
    assert executor.reconcile(step, pre_state, StepKind.FORWARD)[0] is Reconciliation.APPLIED
    executor.rollback_step(step, pre_state, "INC-1/s0/rollback")
    assert cluster.container()["resources"]["limits"]["cpu"] == "500m"
    patches = cluster.requests("PATCH")[1:]  # the test's own patch first
    assert len(patches) == 2 and all(
        r.headers.get("Content-Type", "").startswith("application/merge-patch+json")
        for r in patches
    )


def test_raise_hpa_ceiling_patches_the_autoscaler_and_rolls_back(cluster: Cluster) -> None:
    seed_cluster(cluster)
    driver, executor = _k8s(cluster)
    step = PlanStep(action="raise_hpa_ceiling", target="shop/checkout", params={})
    with pytest.raises(ExecutionError, match="has no autoscaler"):
        executor.capture(step)
    client.AutoscalingV2Api(cluster.api).create_namespaced_horizontal_pod_autoscaler("shop", HPA)
    pre_state = executor.capture(step)
    assert pre_state["hpa_max_replicas"] == 4
    executor.run_step(step, pre_state, "INC-2/s0/forward")
    hpa = cluster.get("/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/checkout")
    assert hpa["spec"]["maxReplicas"] == 8 and hpa["spec"]["minReplicas"] == 2
    assert driver.describe("shop/checkout")["hpa_max_replicas"] == 8  # type: ignore[index]
    executor.rollback_step(step, pre_state, "INC-2/s0/rollback")
    hpa = cluster.get("/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/checkout")
    assert hpa["spec"]["maxReplicas"] == 4
    with pytest.raises(ExecutionError, match="at least 2"):
        driver.perform("set_hpa_max", "shop/checkout", {"max_replicas": 1}, "k")


def test_renew_certificate_asks_cert_manager_to_issue_again(cluster: Cluster) -> None:
    seed_cluster(cluster)
    driver, executor = _k8s(cluster)
    step = PlanStep(action="renew_certificate", target="shop/checkout", params={})
    with pytest.raises(ExecutionError, match="reports no certificate"):
        executor.capture(step)  # no Certificate annotated: nothing to renew
    expired = (START - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    certificate = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "checkout-tls", "namespace": "shop"},
        "spec": {
            "secretName": "checkout-tls",
            "dnsNames": ["checkout.shop.svc"],
            "issuerRef": {"name": "internal-ca", "kind": "ClusterIssuer"},
        },
        "status": {"notAfter": expired, "conditions": [{"type": "Ready", "status": "False"}]},
    }
    custom = client.CustomObjectsApi(cluster.api)
    custom.create_namespaced_custom_object(
        "cert-manager.io", "v1", "shop", "certificates", certificate, _preload_content=False
    )
    cluster.apps.patch_namespaced_deployment(
        "checkout",
        "shop",
        {"metadata": {"annotations": {"arf.dev/certificate": "checkout-tls"}}},
        _content_type="application/merge-patch+json",
    )
    pre_state = executor.capture(step)
    assert pre_state["certificate_expires_in_s"] == -7200.0
    executor.run_step(step, pre_state, "INC-6/s0/forward")
    path = "/apis/cert-manager.io/v1/namespaces/shop/certificates/checkout-tls"
    conditions = cluster.get(path)["status"]["conditions"]
    assert {c["type"]: c["status"] for c in conditions} == {"Ready": "False", "Issuing": "True"}
    issuing = next(c for c in conditions if c["type"] == "Issuing")
    assert issuing["reason"] == "ManuallyTriggered"
    sent = len(cluster.requests("PATCH"))
    replay = driver.perform("renew_certificate", "shop/checkout", {}, "INC-6/s0/forward/0")
    assert replay.get("replayed") is True and len(cluster.requests("PATCH")) == sent
    # cert-manager (not running here) would now issue; until it has, the effect is not seen
    assert executor.reconcile(step, pre_state, StepKind.FORWARD)[0] is (Reconciliation.NOT_APPLIED)


# ------------------------------------------------------------------ Ansible on localhost


def _hosts(tmp_path: Path, usage: dict[str, Any]) -> tuple[HostsDriver, Path]:
    log_root = tmp_path / "log"
    platform = tmp_path / "platform.yaml"
    platform.write_text(
        json.dumps(
            {
                "describe": {"url": "http://deploy.test/services/{target}"},
                "operations": {
                    "rotate_logs": {
                        "ansible": "rotate_logs",
                        "with": {"service": "target", "keep_days": "keep_days"},
                    }
                },
                "playbooks": str(PLAYBOOKS),
                "ansible_actions": {
                    "rotate_logs": {
                        "playbook": "rotate_logs.yml",
                        "rollback_playbook": "none",
                        "vars": {
                            "service": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$"},
                            "keep_days": {"type": "integer", "minimum": 1, "maximum": 30},
                        },
                        "inventory": f"localhost ansible_connection=local log_root={log_root}",
                    }
                },
            }
        )
    )

    def deploy_api(request: httpx.Request) -> httpx.Response:  # contract fake of describe
        if request.url.path == "/services/billing":
            return httpx.Response(200, json={"kind": "service", **usage})
        return httpx.Response(404, json={})

    client = httpx.Client(transport=httpx.MockTransport(deploy_api))
    return HostsDriver(load_config(platform, ["checkov"]), client, environ={}), log_root


@pytest.mark.timeout(300)
def test_free_disk_rotates_and_cleans_logs_with_ansible_on_localhost(tmp_path: Path) -> None:
    driver, log_root = _hosts(tmp_path, {"disk_used_pct": 96.0, "log_disk_pct": 71.0})
    logs = log_root / "billing"
    logs.mkdir(parents=True)
    (logs / "app.log").write_text("line\n" * 1000)
    (logs / "empty.log").write_text("")
    old, recent = logs / "app.log.2026-11-01", logs / "app.log.2026-12-06"
    old.write_text("old\n")
    recent.write_text("recent\n")
    ten_days_ago = time.time() - 10 * 86400
    os.utime(old, (ten_days_ago, ten_days_ago))
    executor = Executor(_standard("hosts", driver.operations()), driver)
    step = PlanStep(action="free_disk", target="billing", params={})
    pre_state = executor.capture(step)
    executor.run_step(step, pre_state, "INC-3/s0/forward")
    names = sorted(p.name for p in logs.iterdir())
    rotated = [n for n in names if n.startswith("app.log.") and n not in (recent.name,)]
    assert not old.exists() and recent.exists()  # older than keep_days (7) deleted
    assert (logs / "app.log").read_text() == "" and len(rotated) == 1
    assert (logs / rotated[0]).read_text() == "line\n" * 1000  # rotated, not lost
    assert (logs / "empty.log").exists()
    # a retried step (same key) rotates nothing again: the live log keeps its new lines
    (logs / "app.log").write_text("after\n")
    executor.run_step(step, pre_state, "INC-3/s0/forward")
    assert (logs / "app.log").read_text() == "after\n"
    assert len([p for p in logs.iterdir() if p.name.startswith("app.log.")]) == 2
    # a run that stopped after copying and before truncating: the retry truncates
    key = "INC-3/s1/forward"
    digest = hashlib.sha1(f"{key}/0".encode()).hexdigest()[:12]
    (logs / "app.log").write_text("big\n" * 500)
    (logs / f"app.log.{digest}").write_text("big\n" * 500)
    executor.run_step(step, pre_state, key)
    assert (logs / "app.log").read_text() == ""
    assert (logs / f"app.log.{digest}").read_text() == "big\n" * 500


def test_free_disk_is_refused_where_logs_are_a_small_share(tmp_path: Path) -> None:
    driver, _ = _hosts(tmp_path, {"disk_used_pct": 97.0, "log_disk_pct": 3.0})
    executor = Executor(_standard("hosts", driver.operations()), driver)
    step = PlanStep(action="free_disk", target="billing", params={})
    assert executor.preflight([step]) == [
        "free_disk on billing: logs take 3.0% of billing's filesystem: rotating them frees"
        " too little"
    ]


# ------------------------------------------------------------------ Ansible and PostgreSQL

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


@pytest.fixture
def database() -> Any:
    name = f"arf_pack_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(ADMIN.replace("dbname=postgres", f"dbname={name}")) as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY, total numeric)")
        conn.commit()
    yield name
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def _connect(database: str) -> psycopg.Connection[Any]:
    return psycopg.connect(ADMIN.replace("dbname=postgres", f"dbname={database}"))


def _role(database: str, role: str) -> dict[str, Any] | None:
    with _connect(database) as conn:
        row = conn.execute(
            "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole,"
            " has_table_privilege(rolname, 'orders', 'SELECT'),"
            " has_table_privilege(rolname, 'orders', 'INSERT'),"
            " has_schema_privilege(rolname, 'public', 'CREATE'),"
            " rolpassword"
            " FROM pg_authid WHERE rolname = %s",
            (role,),
        ).fetchone()
    if row is None:
        return None
    keys = ("login", "super", "createdb", "createrole", "select", "insert", "create", "pw")
    return dict(zip(keys, row, strict=True))


def _db_hosts(tmp_path: Path, database: str, role: str) -> tuple[HostsDriver, Executor]:
    secret = tmp_path / "orders-app"
    secret.write_text("s3cret-from-the-store\n")
    inventory = (
        f"db1 ansible_connection=local database={database} password_file={secret}"
        " db_host=127.0.0.1 db_port=5432 db_admin=postgres"
    )
    spec = {"type": "string", "pattern": "^[a-z_][a-z0-9_]{0,62}$"}
    ops = ("create_db_user", "disable_db_user")
    platform = tmp_path / "platform.yaml"
    platform.write_text(
        json.dumps(
            {
                "describe": {"url": "http://deploy.test/services/{target}"},
                "operations": {op: {"ansible": op, "with": {"role": "role"}} for op in ops},
                "playbooks": str(PLAYBOOKS),
                "ansible_actions": {
                    op: {
                        "playbook": f"{op}.yml",
                        "rollback_playbook": "none",
                        "vars": {"role": spec},
                        "inventory": inventory,
                    }
                    for op in ops
                },
            }
        )
    )

    def deploy_api(request: httpx.Request) -> httpx.Response:  # contract fake of describe
        found = _role(database, role)
        login = "valid" if found and found["login"] else "revoked"
        body = {"kind": "datastore", "client_role": role, "client_login": login}
        return httpx.Response(200, json=body)

    client = httpx.Client(transport=httpx.MockTransport(deploy_api))
    driver = HostsDriver(load_config(platform, ["checkov"]), client, environ={})
    return driver, Executor(_standard("hosts", driver.operations()), driver)


STEP_DB = PlanStep(action="recreate_db_user", target="orders-db", params={})


@pytest.mark.timeout(300)
def test_recreate_db_user_creates_a_missing_role_least_privileged(
    tmp_path: Path, database: str
) -> None:
    role = f"app_{uuid.uuid4().hex[:6]}"
    _, executor = _db_hosts(tmp_path, database, role)
    pre_state = executor.capture(STEP_DB)
    assert pre_state["client_login"] == "revoked" and _role(database, role) is None
    try:
        executor.run_step(STEP_DB, pre_state, "INC-5/s0/forward")
        created = _role(database, role)
        assert created is not None
        assert str(created.pop("pw")).startswith("SCRAM-SHA-256$")  # the store's password
        assert created == {
            "login": True,
            "super": False,
            "createdb": False,
            "createrole": False,
            "select": True,
            "insert": True,
            "create": False,
        }
        assert executor.reconcile(STEP_DB, pre_state, StepKind.FORWARD)[0] is (
            Reconciliation.APPLIED
        )
        executor.run_step(STEP_DB, pre_state, "INC-5/s0/forward")  # a retry changes nothing
        executor.rollback_step(STEP_DB, pre_state, "INC-5/s0/rollback")
        disabled = _role(database, role)
        assert disabled is not None and disabled["login"] is False  # never dropped
    finally:
        with _connect(database) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
            conn.commit()


@pytest.mark.timeout(300)
def test_recreate_db_user_gives_an_existing_role_its_login_back_and_nothing_else(
    tmp_path: Path, database: str
) -> None:
    role = f"app_{uuid.uuid4().hex[:6]}"
    admin = f"adm_{uuid.uuid4().hex[:6]}"
    with _connect(database) as conn:
        ident = sql.Identifier(role)
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN PASSWORD 'old-one'").format(ident))
        conn.execute(sql.SQL("CREATE TABLE owned (id int)"))
        conn.execute(sql.SQL("ALTER TABLE owned OWNER TO {}").format(ident))
        conn.execute(sql.SQL("CREATE ROLE {} SUPERUSER NOLOGIN").format(sql.Identifier(admin)))
        conn.commit()
    try:
        before = _role(database, role)
        assert before is not None and before["login"] is False
        _, executor = _db_hosts(tmp_path, database, role)
        pre_state = executor.capture(STEP_DB)
        executor.run_step(STEP_DB, pre_state, "INC-7/s0/forward")
        after = _role(database, role)
        assert after == {**before, "login": True}  # same password, same (absent) grants
        executor.rollback_step(STEP_DB, pre_state, "INC-7/s0/rollback")
        assert _role(database, role) == before
        with _connect(database) as conn:  # what it owns survived the rollback
            assert conn.execute("SELECT count(*) FROM owned").fetchone() == (0,)
        # a datastore that reports a privileged role as its clients' is refused, untouched
        _, executor = _db_hosts(tmp_path, database, admin)
        privileged = _role(database, admin)
        with pytest.raises(ExecutionError):
            executor.run_step(STEP_DB, executor.capture(STEP_DB), "INC-7/s1/forward")
        assert _role(database, admin) == privileged
    finally:
        with _connect(database) as conn:
            for name in (role, admin):
                conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
            conn.commit()


# ------------------------------------------------------------------ HTTP on the hosts platform


class _Issuer(BaseHTTPRequestHandler):
    """A contract fake of a certificate issuer's API (an internal CA, or an ACME client's
    order endpoint) and of the deploy API's describe, over real HTTP."""

    expires_in_s: ClassVar[float] = -60.0
    renewals: ClassVar[list[str | None]] = []

    def _json(self, status: int, body: object) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        if self.path == "/services/api":
            self._json(200, {"kind": "service", "certificate_expires_in_s": self.expires_in_s})
        else:
            self._json(404, {})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/issuer/certificates/api/renewals":
            self._json(404, {})
            return
        key = self.headers.get("Idempotency-Key")
        if key not in _Issuer.renewals:
            _Issuer.renewals.append(key)
            _Issuer.expires_in_s = 90 * 86400.0
        self._json(201, {"certificate": "api", "expires_in_s": _Issuer.expires_in_s})

    def log_message(self, *_args: object) -> None:
        pass


def test_renew_certificate_calls_the_issuer_over_http_on_the_hosts_platform(
    tmp_path: Path,
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Issuer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    _Issuer.expires_in_s, _Issuer.renewals = -60.0, []
    platform = tmp_path / "platform.yaml"
    platform.write_text(
        json.dumps(
            {
                "describe": {"url": base + "/services/{target}"},
                "operations": {
                    "renew_certificate": {"http": "renew_cert", "with": {"service": "target"}}
                },
                "http_actions": {
                    "renew_cert": {
                        "method": "POST",
                        "url": base + "/issuer/certificates/{service}/renewals",
                        "params": {"service": {"type": "string", "pattern": "^[a-z-]+$"}},
                        "rollback": "none",
                    }
                },
            }
        )
    )
    try:
        with httpx.Client() as http:
            driver = HostsDriver(load_config(platform, ["checkov"]), http, environ={})
            executor = Executor(_standard("hosts", driver.operations()), driver)
            step = PlanStep(action="renew_certificate", target="api", params={})
            pre_state = executor.capture(step)
            assert executor.reconcile(step, pre_state, StepKind.FORWARD)[0] is (
                Reconciliation.NOT_APPLIED
            )
            executor.run_step(step, pre_state, "INC-4/s0/forward")
            executor.run_step(step, pre_state, "INC-4/s0/forward")  # a retry: one renewal
            assert _Issuer.renewals == ["INC-4/s0/forward/0"]
            assert executor.reconcile(step, pre_state, StepKind.FORWARD)[0] is (
                Reconciliation.APPLIED
            )
            with pytest.raises(ExecutionError, match="not due for renewal"):
                executor.capture(step)  # valid for 90 days now
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------ the lifecycle


def test_a_plan_refused_by_its_preconditions_is_never_put_to_a_person(
    tmp_path: Path, clock: ManualClock
) -> None:
    runtime = make_runtime(tmp_path / "home", clock)
    try:
        driver = DemoDriver(runtime, lambda _line: None)
        data_fills_disk(runtime.platform, "orders-db")
        driver.deliver()
        for _ in range(20):
            driver.tick()
        with runtime.store.unit_of_work() as uow:
            incidents = uow.list_incidents()
            mine = [i for i in incidents if "orders-db" in i.services]
            assert mine, [i.services for i in incidents]
            incident = mine[0]
            diagnosis = uow.latest_diagnosis(incident.incident_id)
            kinds = [e.kind for e in uow.ledger_for_incident(incident.incident_id)]
        assert diagnosis is not None and diagnosis.plans[0].steps[0].action == "free_disk"
        assert incident.state is IncidentState.ESCALATED
        assert "rotating them frees too little" in (incident.outcome_reason or "")
        assert "decision.recorded" not in kinds and "approval.requested" not in kinds
    finally:
        runtime.close()
